import type { MiddlewareHandler } from "hono";
import { getConnInfo } from "hono/bun";

export type ClientIpVariables = { clientIp: string };

/**
 * The caller's address for per-address limits: the socket's peer, or — only when the deployment says a
 * proxy sets it — the last X-Forwarded-For entry, the one our proxy appended (entries before it are
 * whatever the client sent). "unknown" when neither is available (app.request in tests).
 */
export function clientIp(opts: { trustProxy: boolean }): MiddlewareHandler<{
  Variables: ClientIpVariables;
}> {
  return async function clientIpMiddleware(c, next) {
    c.set("clientIp", addressOf(c, opts.trustProxy));
    await next();
  };
}

function addressOf(c: Parameters<MiddlewareHandler>[0], trustProxy: boolean): string {
  let ip: string | undefined;
  if (trustProxy) ip = c.req.header("x-forwarded-for")?.split(",").at(-1)?.trim() || undefined;
  if (!ip) {
    try {
      ip = getConnInfo(c).remote.address;
    } catch {
      ip = undefined;
    }
  }
  return (ip ?? "unknown").slice(0, 64);
}
