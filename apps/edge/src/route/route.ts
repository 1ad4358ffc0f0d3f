import { AppError, DATABASE_RETRY_AFTER_MS, type ResolvedInstance } from "@mcp/core";
import { type PeerSource, sanitizedRequestId } from "@mcp/http";
import type { ThroughRead } from "@mcp/kv";
import type { EdgeDeps } from "../deps.ts";
import { json, type McpCall } from "./call.ts";
import { originAndHost, readBody, relayLoop, withCors } from "./guards.ts";
import { resolveInstance, TokenGuessing } from "./instance.ts";
import { protocolRules } from "./protocol.ts";
import { rateLimit } from "./rate-limit.ts";

/** Serves a call that passed every check: its instance is resolved and, for a POST, its body read. */
export type Dispatch = (call: McpCall, instance: ResolvedInstance) => Promise<Response>;

/**
 * The cache slot a POST's call would read first, if any (`readCacheSlot`): read in the same kv step as the
 * rate-limit charge, so a cached read costs one Redis round trip in all, and a refused call reads nothing.
 */
export type ReadAheadSlot = (call: McpCall, instance: ResolvedInstance) => ThroughRead | undefined;

/**
 * `/:token/mcp`, every method: the edge's hot path, as one sequence of plain functions rather than a
 * framework's middleware chain (a chain of seven cost about a tenth of a call's CPU). In order:
 * - the request id (a sane inbound `X-Request-Id`, else a new one), echoed on every answer;
 * - a request this platform's own relay sent (508: a relay loop);
 * - the Origin and Host guards (403), and an allowed browser page's CORS preflight;
 * - the token → instance (401, or 429 for an address that keeps guessing);
 * - for a POST: the body, read once and bounded (413); the transport rules the SDK leaves to us (400,
 *   406); the rate limits (429), with the call's cache slot read in the same step (`readAheadSlot`);
 * - then `dispatch`. A failure of ours is a JSON 500, or 503 with Retry-After when a backend is down.
 */
export function createMcpRoute(deps: EdgeDeps, dispatch: Dispatch, readAheadSlot?: ReadAheadSlot) {
  const guessing = new TokenGuessing();

  async function checks(call: McpCall): Promise<Response | undefined> {
    const refused = relayLoop(call) ?? originAndHost(call) ?? (await resolveInstance(call, guessing));
    if (refused || call.req.method !== "POST") return refused;
    return (
      (await readBody(call)) ??
      protocolRules(call) ??
      rateLimit(call, call.instance as ResolvedInstance, readAheadSlot)
    );
  }

  /** `requestId`: the one Hono's middleware already chose, when the Hono app routed the request here. */
  return async function mcpRoute(
    req: Request,
    server: PeerSource | undefined,
    token: string,
    requestId = sanitizedRequestId(req.headers.get("x-request-id")),
  ) {
    const call: McpCall = { req, deps, server, token, requestId };
    let res: Response;
    try {
      res = (await checks(call)) ?? (await dispatch(call, call.instance as ResolvedInstance));
    } catch (error) {
      res = failure(deps, error, requestId);
    }
    if (!res.headers.has("x-request-id")) {
      try {
        res.headers.set("x-request-id", requestId);
      } catch {
        // Immutable headers (a Response passed through from fetch): it goes without.
      }
    }
    return withCors(call, res);
  };
}

/**
 * The token of an MCP path, `/<token>/mcp` (percent-decoded as a router would), or null for any other path
 * (which the edge's Hono app serves: health, readiness, metrics, and the 401/404 of malformed paths).
 */
export function mcpToken(url: string): string | null {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return null;
  const query = url.indexOf("?", start);
  const end = query < 0 ? url.length : query;
  if (end - start < 6 || !url.startsWith("/mcp", end - 4)) return null;
  const token = url.slice(start + 1, end - 4);
  if (token.includes("/")) return null;
  if (!token.includes("%")) return token;
  try {
    return decodeURIComponent(token);
  } catch {
    return token;
  }
}

/**
 * A failure of ours, as the edge answers it on every route: an AppError with its code (503 with
 * Retry-After: the cause's own wait, or the database's retry delay), anything else a bare 500, logged.
 */
export function failure(deps: EdgeDeps, error: unknown, requestId: string): Response {
  const app = error instanceof AppError ? error : new AppError("INTERNAL", "Internal error");
  if (app.code === "INTERNAL") deps.log.error("edge request failed", { requestId, error });
  else deps.log.warn("edge request failed", { requestId, code: app.code, error: app.message });
  const body = { error: app.message, code: app.code, requestId };
  if (app.status !== 503) return json(body, 500);
  const ms = app.retryAfterMs ?? DATABASE_RETRY_AFTER_MS;
  return json(body, 503, { "retry-after": String(Math.max(1, Math.ceil(ms / 1000))) });
}
