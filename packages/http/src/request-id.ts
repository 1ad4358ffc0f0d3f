import { randomSecret } from "@mcp/crypto";
import type { MiddlewareHandler } from "hono";

export type RequestIdVariables = { requestId: string };
const INBOUND = /^[A-Za-z0-9_.:-]{8,64}$/;

/**
 * Reuses a sane inbound X-Request-Id (from a proxy) or mints one, and echoes it on the response — also on a
 * Response a handler built itself (tRPC's, the MCP handlers'), which does not carry headers set on the
 * context before it ran.
 */
/**
 * `req_<process prefix><counter>`: unique across processes (a random prefix per process) and cheap (no
 * randomness per request). A request id names a request in logs and answers; it grants nothing, so it need
 * not be unguessable.
 */
const PREFIX = `req_${randomSecret(9)}`;
let counter = 0;
export const nextRequestId = () => `${PREFIX}${(counter++).toString(36).padStart(6, "0")}`;

/** A sane inbound X-Request-Id (from a proxy), else a new one. */
export const sanitizedRequestId = (inbound: string | null | undefined) =>
  inbound && INBOUND.test(inbound) ? inbound : nextRequestId();

export function requestId(): MiddlewareHandler<{ Variables: RequestIdVariables }> {
  return async function requestIdMiddleware(c, next) {
    const id = sanitizedRequestId(c.req.header("x-request-id"));
    c.set("requestId", id);
    c.header("x-request-id", id);
    await next();
    if (c.res.headers.has("x-request-id")) return;
    try {
      c.res.headers.set("x-request-id", id);
    } catch {
      // Immutable headers (a Response passed through from fetch): it goes without.
    }
  };
}
