import type { ProxiedServiceConfig, ServiceConfig, ToolConfig } from "./definition.ts";
import type { InputResult, JsonObjectSchema } from "./json-schema.ts";

export type { AuthConfig, ServiceConfig, ToolConfig } from "./definition.ts";
export type { InputResult, JsonObjectSchema, JsonSchema } from "./json-schema.ts";

/** MCP tool annotations (hints only; clients must not trust them for security). */
export type ToolAnnotations = NonNullable<ToolConfig["annotations"]>;

/** A tool as advertised in an MCP `tools/list` response. */
export interface McpTool {
  name: string;
  title: string;
  description: string;
  inputSchema: JsonObjectSchema;
  annotations?: ToolAnnotations;
}

/** A tool from a definition plus its input validator, compiled once at start-up. */
export interface ToolDefinition extends ToolConfig {
  readonly validateInput: (args: unknown) => InputResult;
}

/** A loaded service: its definition with everything derivable built once. */
/** Requests per minute, the definition's with the operator's environment applied; undefined = the edge's default, 0 = unlimited. */
export interface ResolvedRateLimits {
  perMinute?: number;
  perInstancePerMinute?: number;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** A loaded MCP server behind per-user instances (kind `mcp`, remote or stdio): tools come from the server. */
export type ProxiedServiceDefinition = DistributiveOmit<ProxiedServiceConfig, "rateLimits"> & {
  readonly rateLimits: ResolvedRateLimits;
};

export type RemoteProxiedService = Extract<ProxiedServiceDefinition, { transport: "remote" }>;
export type StdioProxiedService = Extract<ProxiedServiceDefinition, { transport: "stdio" }>;

/** A REST service or a proxied MCP server. */
export type AnyServiceDefinition = ServiceDefinition | ProxiedServiceDefinition;

export interface ServiceDefinition extends Omit<ServiceConfig, "tools" | "rateLimits" | "kind"> {
  readonly kind: "rest";
  readonly rateLimits: ResolvedRateLimits;
  readonly tools: readonly ToolDefinition[];
  /** The `tools/list` payload, identical for every instance of the service. */
  readonly mcpTools: readonly McpTool[];
  getTool(name: string): ToolDefinition | undefined;
}

export interface ServiceRegistry {
  /** A REST service (kind `rest`); undefined for an unknown type or a proxied one. */
  get(type: string): ServiceDefinition | undefined;
  /** A proxied MCP server (kind `mcp`). */
  proxied(type: string): ProxiedServiceDefinition | undefined;
  /** Either kind. */
  any(type: string): AnyServiceDefinition | undefined;
  /** Every service, sorted by type. */
  list(): AnyServiceDefinition[];
  has(type: string): boolean;
}

/**
 * `EXPIRED_CREDENTIALS`: the upstream answered 401/403 (or the key cannot be sent). Some upstreams (Figma)
 * answer 403 for a resource the key may not access too, so confirm with `validateKey` before acting on it.
 */
export type ToolErrorCode =
  | "EXPIRED_CREDENTIALS"
  | "SERVICE_UNAVAILABLE"
  | "UPSTREAM_ERROR"
  | "BAD_REQUEST"
  /** The upstream asked this credential to wait (429, or an exhausted rate-limit header): `retryAfterMs`. */
  | "RATE_LIMITED";

export type ToolOutcome =
  | {
      ok: true;
      status: number;
      /** The result as shaped for the model (fields, nextCursor); undefined when it had to be cut. */
      data: unknown;
      /** What the model gets: `data` as JSON, or its first part with a note saying it was cut. */
      text: string;
      truncated?: true;
    }
  | { ok: false; error: ToolErrorCode; status?: number; message: string; retryAfterMs?: number };

/** Who a key belongs to upstream, from the validation answer ("connected as ..."). */
export interface AccountInfo {
  id?: string;
  name?: string;
  email?: string;
}

export type KeyValidation =
  | { ok: true; account?: AccountInfo }
  | { ok: false; error: "INVALID_API_KEY" | "SERVICE_UNAVAILABLE"; message: string };
