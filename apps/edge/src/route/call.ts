import type { ResolvedInstance } from "@mcp/core";
import type { PeerSource } from "@mcp/http";
import type { EdgeDeps } from "../deps.ts";
import type { ReadAhead } from "../mcp/read-cache.ts";

/**
 * One request on `/:token/mcp` as the route's steps see it: filled in as they run (the instance once the
 * token resolved, the body once it was read). Plain fields on one object per request: the route is the
 * edge's hot path, so it runs as a sequence of functions, not a framework's middleware chain.
 */
export interface McpCall {
  readonly req: Request;
  readonly deps: EdgeDeps;
  readonly server: PeerSource | undefined;
  readonly requestId: string;
  /** The path's token segment, as sent. */
  readonly token: string;
  /** The request's Origin once the guards allowed it: its answer carries CORS headers for it. */
  allowedOrigin?: string;
  instance?: ResolvedInstance;
  /** The POST body as parsed JSON; undefined when it is not JSON (or there is none). */
  parsedBody?: unknown;
  /** The POST body as read (the request's own stream is consumed by then). */
  bodyBytes?: Uint8Array<ArrayBuffer>;
  /** The call's cache slot, read in the same kv step as the rate-limit charge (see `createMcpRoute`). */
  readAhead?: ReadAhead;
}

/** A JSON answer, as Hono's `c.json` writes it (`content-type: application/json`), with extra headers. */
export function json(body: unknown, status: number, headers?: Record<string, string>): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: headers ? { "content-type": "application/json", ...headers } : JSON_HEADERS,
  });
}

const JSON_HEADERS = { "content-type": "application/json" };

/**
 * The id a JSON-RPC error answer to this body carries: a single request's string or number id, else null (a
 * batch, a notification, a posted response, an id of another type), as the SDK's HTTP entry answers its own
 * errors. A 2026-07-28 SDK client matches a 400's error to its request by this id (it raises a bare HTTP error
 * otherwise), and JSON-RPC wants the request's own id whenever it could be read.
 */
export function echoableId(body: unknown): string | number | null {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return null;
  const { method, id } = body as { method?: unknown; id?: unknown };
  if (typeof method !== "string") return null;
  return typeof id === "string" || typeof id === "number" ? id : null;
}
