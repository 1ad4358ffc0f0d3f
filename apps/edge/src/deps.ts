import type { AuditLog, CoreDeps, InstanceResolver } from "@mcp/core";
import type { EdgeMetrics } from "./metrics.ts";
import type { MetricsAccess } from "./metrics-route.ts";

export interface EdgeLimits {
  /**
   * Requests per minute for one instance, for every service (RATE_LIMIT_PER_INSTANCE); unset: the service
   * definition's `rateLimits.perInstancePerMinute`, else DEFAULT_PER_INSTANCE_PER_MINUTE. 0 = unlimited.
   */
  perInstancePerMinute?: number;
  /** Requests per minute for one user across all of their instances (RATE_LIMIT_PER_USER); 0 = unlimited. */
  perUserPerMinute: number;
  /**
   * Requests per minute to one service across all users (protects the upstream and our standing with it)
   * when its definition and SERVICE_<TYPE>_RATE_LIMIT say nothing; 0 = unlimited.
   */
  perServicePerMinute: number;
  /** Largest JSON-RPC body accepted. */
  maxBodyBytes: number;
  /** Messages in one JSON-RPC batch (2025-03-26 clients); each counts against the rate limits. */
  maxBatchMessages: number;
  /** Upstream call timeout (30 s); a tool's own `timeoutMs` in its service definition replaces it for REST tools. */
  upstreamTimeoutMs: number;
  /** Instance tokens one client address may get wrong per minute before every token it sends is a 429; 0 = no limit. */
  invalidTokensPerMinutePerIp: number;
  /**
   * Requests this process may have in flight to MCP servers over HTTP (users' own, proxied services'), all
   * instances together; half as many again may wait up to 10 s (fair between instances), one more is refused at
   * once. It keeps the process's open `fetch` requests under the runtime's ceiling
   * (`BUN_CONFIG_MAX_HTTP_REQUESTS`, runtime-env.ts), past which every upstream call of the process would wait.
   */
  relayInFlight: number;
}

export interface EdgeDeps extends CoreDeps {
  resolver: InstanceResolver;
  audit: AuditLog;
  metrics: EdgeMetrics;
  limits: EdgeLimits;
  /** Browser origins allowed to call MCP endpoints (non-browser clients send none). */
  allowedOrigins: string[];
  /** Host names accepted in the Host header when bound to a loopback address (`hostSet`); empty → not checked. */
  allowedHosts: ReadonlySet<string>;
  /** Take the client address from X-Forwarded-For (only behind a proxy that appends to it). */
  trustProxy: boolean;
  /** Who may read `/metrics`, and on which port. */
  metricsAccess: MetricsAccess;
  /** MCP_TYPE (SERVICE_MODE=shared): the one service type served; another service's token is a 401 like an unknown one. */
  mcpType?: string;
  /** Canonical tools/list and tools/call of REST services skip the per-request SDK server (mcp/fast-path.ts). */
  fastPath: boolean;
}

/** The edge's Hono app (health, readiness, metrics, unknown paths): each request's id. */
export interface EdgeEnv {
  Variables: { requestId: string };
}

/** Requests per minute for one instance when neither the operator nor the service definition sets it. */
export const DEFAULT_PER_INSTANCE_PER_MINUTE = 600;

export const DEFAULT_LIMITS: EdgeLimits = {
  perUserPerMinute: 1200,
  perServicePerMinute: 60_000,
  maxBodyBytes: 1024 * 1024,
  maxBatchMessages: 20,
  upstreamTimeoutMs: 30_000,
  invalidTokensPerMinutePerIp: 60,
  relayInFlight: 2048,
};

/**
 * Bun's own request-body cap for the edge's server, as a multiple of `maxBodyBytes`: above the edge's
 * limit, so a body just over it still gets the edge's 413 `PAYLOAD_TOO_LARGE` (and is drained, so the
 * client can read it); only a flood past this is cut off by Bun itself.
 */
export const SERVER_BODY_FACTOR = 16;
export const serverBodyCap = (limits: Pick<EdgeLimits, "maxBodyBytes">) =>
  limits.maxBodyBytes * SERVER_BODY_FACTOR;
