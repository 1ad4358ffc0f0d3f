import { sha256 } from "@mcp/crypto";
import { lru } from "@mcp/kv/lru";
import {
  Client,
  type FetchLike,
  type JsonSchemaValidator,
  type jsonSchemaValidator,
  type ListToolsResult,
  type PriorDiscovery,
  SdkError,
  SdkErrorCode,
  SdkHttpError,
  SSEClientTransport,
  SseError,
  StreamableHTTPClientTransport,
  UnauthorizedError,
} from "@modelcontextprotocol/client";
import { FORBIDDEN_HEADERS } from "./definition.ts";
import { createRedactor, headerSecrets, type Redactor } from "./redact.ts";
import { checkUpstreamUrl, guardedFetch, UpstreamBlockedError } from "./ssrf.ts";

/** A user's own MCP server, as stored (sealed) for a custom instance. */
export interface RemoteMcpConfig {
  name: string;
  url: string;
  /** Sent on every request (e.g. Authorization); sealed at rest like API keys. */
  headers?: Record<string, string>;
}

export type RemoteFailure = "INVALID_API_KEY" | "SERVICE_UNAVAILABLE" | "BAD_REQUEST";
export type RemoteFailureResult = { ok: false; error: RemoteFailure; message: string };
export type RemoteConnection =
  | { ok: true; client: Client; transport: "streamable-http" | "sse" }
  | RemoteFailureResult;

export interface RemoteOptions {
  allowPrivate: boolean;
  /** Per request, and for the whole connect. */
  timeoutMs?: number;
  /**
   * Connect in the era this server spoke last time, skipping the `server/discover` probe (the edge's
   * pooled connections). A key check always probes, so it sees the server as it is.
   */
  rememberEra?: boolean;
}

/**
 * Headers a user may not set on their own server's requests: those the transport owns (letting a user set them
 * would break or smuggle protocol state), and those no upstream request may carry (FORBIDDEN_HEADERS: they
 * re-route it, or pose as another client to a proxy in front of the server), except the credentials and client
 * name a user's own server may well need. `instances.connectCustom` refuses them; the transport drops any a
 * configuration stored before a name was added here still holds.
 */
const RESERVED_REMOTE_HEADERS: ReadonlySet<string> = new Set([
  ...[...FORBIDDEN_HEADERS].filter((h) => h !== "authorization" && h !== "cookie" && h !== "user-agent"),
  "accept",
  "mcp-session-id",
  "mcp-protocol-version",
  "mcp-method",
  "mcp-name",
  "last-event-id",
]);

/**
 * The `Via` entry (RFC 9110 §7.6.3: "avoiding request loops") every request the platform relays to an MCP
 * server carries. An edge refuses a request holding it with 508 Loop Detected: an instance relaying to an
 * instance URL of this platform (its own, or one relaying back to it) would otherwise call itself until the
 * limits stop it, holding connections every user shares.
 */
export const RELAY_VIA_PSEUDONYM = "mcp-platform-relay";
const RELAY_VIA = `1.1 ${RELAY_VIA_PSEUDONYM}`;
const LOOP_DETECTED = 508;

/**
 * Whether a user may not set header `name` on their server's requests: a reserved one, or an `Mcp-Param-*`
 * (SEP-2243: the SDK writes those from a call's arguments).
 */
export const reservedRemoteHeader = (name: string): boolean => {
  const lower = name.toLowerCase();
  return RESERVED_REMOTE_HEADERS.has(lower) || lower.startsWith("mcp-param-");
};

/** A configuration's headers without the reserved ones. */
const sendableHeaders = (headers: Record<string, string> = {}): Record<string, string> =>
  Object.fromEntries(Object.entries(headers).filter(([name]) => !reservedRemoteHeader(name)));

/** Headers whose values describe the request rather than authenticate it (`accept`, `notion-version`, …). */
const DESCRIPTIVE_HEADER = /^(accept|accept-language|content-type|user-agent|[a-z0-9-]*-version)$/i;
/** A path segment this long reads as a key (`/s/<token>/mcp`), not a route name. */
const SECRET_PATH_SEGMENT = 16;

/**
 * What must never come back out of a user's server: its header values (and the credential inside an
 * `Authorization` value) other than descriptive ones, the values of its URL's query, and long segments of
 * its URL's path — the places servers take their keys.
 */
export function remoteRedactor(config: RemoteMcpConfig): Redactor {
  const secrets = Object.entries(config.headers ?? {})
    .filter(([name]) => !DESCRIPTIVE_HEADER.test(name))
    .flatMap(([name, value]) => headerSecrets(value, name));
  try {
    const url = new URL(config.url);
    for (const value of url.searchParams.values()) secrets.push(value);
    for (const segment of url.pathname.split("/")) {
      if (segment.length >= SECRET_PATH_SEGMENT) secrets.push(decodeURIComponent(segment));
    }
  } catch {
    // A stored URL always parses; nothing to add if it somehow does not.
  }
  return createRedactor(secrets);
}

const CLIENT_INFO = { name: "mcp-platform-gateway", version: "0.1.0" };

/**
 * Bytes one HTTP response of a user's server may carry (one JSON-RPC answer, with the notifications streamed
 * before it), as for a stdio server's one message: a bigger one is cut off and the request fails.
 */
export const MAX_REMOTE_RESPONSE_BYTES = 16 * 1024 * 1024;

/**
 * What the gateway's upstream connections declare, so a server may ask for input through it: the relay
 * passes each request's own client's capabilities on (2026-07-28: per request; 2025: it answers what its
 * client cannot). `input_required` results come back to the relay as they are (manual mode), to be
 * relayed to the client that can answer them. Roots without `listChanged`: one connection serves all of an
 * instance's clients, whose roots differ and whose `notifications/roots/list_changed` it does not pass on, so
 * a server must ask `roots/list` when it needs them rather than keep an answer it would never hear is stale.
 */
export const RELAY_CLIENT_OPTIONS = {
  capabilities: { sampling: {}, elicitation: { form: {}, url: {} }, roots: {} },
  inputRequired: { autoFulfill: false },
} as const;

/**
 * The gateway passes results through; the end client validates them. Validating here would compile a
 * user-supplied schema (a catastrophic regex `pattern`, thousands of tools) on the shared edge's thread.
 */
const passThrough: jsonSchemaValidator = {
  getValidator<T>(): JsonSchemaValidator<T> {
    return (data) => ({ valid: true, data: data as T, errorMessage: undefined });
  },
};

/** The SSRF guard's refusal behind an error (the SDK wraps it as the cause), if that is what it is. */
function blockedBy(error: unknown): UpstreamBlockedError | undefined {
  let cause = error;
  for (let depth = 0; cause instanceof Error && depth < 5; depth++, cause = cause.cause) {
    if (cause instanceof UpstreamBlockedError) return cause;
  }
  return undefined;
}

/**
 * Each remote server's protocol era, remembered (by the hash of its URL) so a new connection skips the
 * `server/discover` probe. A legacy verdict is kept shorter: an upgraded server still answers
 * `initialize`, so a stale one would never be noticed.
 */
const eras = lru<string, PriorDiscovery>(10_000, { ttl: 60 * 60_000 });
const MODERN_ERA_TTL_MS = 60 * 60_000;
const LEGACY_ERA_TTL_MS = 10 * 60_000;

/**
 * What an upstream failure says about the URL, in words for the user: the SSRF guard's refusal (a
 * redirect, a name now pointing at a refused address). Undefined for anything else.
 */
export function upstreamRefusal(error: unknown): string | undefined {
  return blockedBy(error)?.message;
}

/** No answer at all in time (headers or `initialize`): the legacy transport would wait just as long for nothing. */
function silent(error: unknown): boolean {
  let cause = error;
  for (let depth = 0; cause instanceof Error && depth < 5; depth++, cause = cause.cause) {
    if (cause.name === "TimeoutError") return true;
    if (cause instanceof SdkError && cause.code === SdkErrorCode.RequestTimeout) return true;
  }
  return false;
}

/** The server refused the request's credentials (HTTP 401 or 403): the key or headers, not one request. */
export function rejectedCredentials(error: unknown): boolean {
  if (error instanceof UnauthorizedError) return true;
  if (error instanceof SdkHttpError) return error.status === 401 || error.status === 403;
  if (error instanceof SseError) return error.code === 401 || error.code === 403;
  return false;
}

/**
 * Connects to a user's remote MCP server the way a careful client would: Streamable HTTP first (with
 * 2026-07-28 / 2025 negotiation), then the legacy HTTP+SSE transport. Every request goes through the
 * SSRF guard (re-checked per request, no redirects) with the user's headers; nothing here logs them.
 */
export async function connectRemoteMcp(
  config: RemoteMcpConfig,
  opts: RemoteOptions,
): Promise<RemoteConnection> {
  const checked = await checkUpstreamUrl(config.url, { allowPrivate: opts.allowPrivate });
  if (!checked.ok) return { ok: false, error: "BAD_REQUEST", message: checked.reason };
  const timeout = opts.timeoutMs ?? 10_000;
  const guarded = guardedFetch({
    allowPrivate: opts.allowPrivate,
    timeoutMs: timeout,
    maxResponseBytes: MAX_REMOTE_RESPONSE_BYTES,
  }) as FetchLike;
  // A server answering 508 saw this platform's relay in the request's path: the URL is one of ours.
  const fetch: FetchLike = async (url, init) => {
    const res = await guarded(url, init);
    if (res.status !== LOOP_DETECTED) return res;
    await res.body?.cancel().catch(() => {});
    throw new UpstreamBlockedError(
      "That URL is an MCP endpoint of this platform (or relays to one): an instance cannot relay to it",
      "UPSTREAM_LOOP",
    );
  };
  const requestInit: RequestInit = { headers: { ...sendableHeaders(config.headers), via: RELAY_VIA } };

  // The era this server spoke last time (its `server/discover` answer, or "legacy") saves the probe; a
  // verdict that no longer holds is forgotten and the server probed again.
  const eraKey = sha256(checked.url.href, "base64url");
  const remembered = opts.rememberEra ? eras.get(eraKey) : undefined;
  const connectStreamable = async (prior?: PriorDiscovery) => {
    const client = new Client(CLIENT_INFO, {
      versionNegotiation: { mode: "auto" },
      jsonSchemaValidator: passThrough,
      ...RELAY_CLIENT_OPTIONS,
    });
    try {
      await client.connect(new StreamableHTTPClientTransport(checked.url, { requestInit, fetch }), {
        timeout,
        ...(prior && { prior }),
      });
      const discover = client.getDiscoverResult();
      eras.set(eraKey, discover ? { kind: "modern", discover } : { kind: "legacy" }, {
        ttl: discover ? MODERN_ERA_TTL_MS : LEGACY_ERA_TTL_MS,
      });
      return client;
    } catch (error) {
      await client.close().catch(() => {});
      throw error;
    }
  };
  // The SSRF guard's refusal (a redirect, a name re-pointed at a refused address): the URL's fault, not an outage.
  let blocked: UpstreamBlockedError | undefined;
  try {
    let client: Client;
    try {
      client = await connectStreamable(remembered);
    } catch (error) {
      if (!remembered || rejectedCredentials(error) || silent(error)) throw error;
      eras.delete(eraKey);
      client = await connectStreamable();
    }
    return { ok: true, client, transport: "streamable-http" };
  } catch (error) {
    if (rejectedCredentials(error)) return unauthorized(config);
    blocked = blockedBy(error);
    if (silent(error)) {
      return {
        ok: false,
        error: "SERVICE_UNAVAILABLE",
        message: `The MCP server at ${checked.url.host} did not answer within ${timeout} ms`,
      };
    }
  }
  const sse = new Client(CLIENT_INFO, { jsonSchemaValidator: passThrough, ...RELAY_CLIENT_OPTIONS });
  try {
    await sse.connect(new SSEClientTransport(checked.url, { requestInit, fetch }), { timeout });
    return { ok: true, client: sse, transport: "sse" };
  } catch (error) {
    await sse.close().catch(() => {});
    if (rejectedCredentials(error)) return unauthorized(config);
    if (blocked) return { ok: false, error: "BAD_REQUEST", message: blocked.message };
    return {
      ok: false,
      error: "SERVICE_UNAVAILABLE",
      message: `Could not reach an MCP server at ${checked.url.host} (tried Streamable HTTP and SSE)`,
    };
  }
}

const unauthorized = (config: RemoteMcpConfig): RemoteFailureResult => ({
  ok: false,
  error: "INVALID_API_KEY",
  message: `${config.name} rejected the credentials (HTTP 401/403); check the headers`,
});

/** Connects, lists tools, disconnects: proves a custom server is usable before it is stored. */
export async function probeRemoteMcp(
  config: RemoteMcpConfig,
  opts: RemoteOptions,
): Promise<{ ok: true; tools: number } | RemoteFailureResult> {
  const conn = await connectRemoteMcp(config, opts);
  if (!conn.ok) return conn;
  try {
    // One page, one request within the timeout: the SDK's listTools() would walk up to 64 pages of 16 MiB,
    // each with the whole timeout, for a server that keeps handing out cursors.
    if (!conn.client.getServerCapabilities()?.tools) return { ok: true, tools: 0 };
    const page = (await conn.client.request(
      { method: "tools/list" },
      { timeout: opts.timeoutMs ?? 10_000 },
    )) as ListToolsResult;
    return { ok: true, tools: page.tools.length };
  } catch (error) {
    if (rejectedCredentials(error)) return unauthorized(config);
    return { ok: false, error: "SERVICE_UNAVAILABLE", message: `${config.name} did not list its tools` };
  } finally {
    await conn.client.close().catch(() => {});
  }
}
