import type { MiddlewareHandler } from "hono";
import { getConnInfo } from "hono/bun";
import type { HonoEnv } from "../deps.ts";

/**
 * The caller's address for per-IP limits: the socket's peer, or — only when the deployment says a proxy
 * sets it — the last X-Forwarded-For entry, the one our proxy appended (entries before it are whatever
 * the client sent). "unknown" when neither is available (app.request in tests).
 */
export function clientIp(): MiddlewareHandler<HonoEnv> {
  return async function clientIpMiddleware(c, next) {
    let ip: string | undefined;
    if (c.var.deps.trustProxy) ip = c.req.header("x-forwarded-for")?.split(",").at(-1)?.trim() || undefined;
    if (!ip) {
      try {
        ip = getConnInfo(c).remote.address;
      } catch {
        ip = undefined;
      }
    }
    c.set("clientIp", (ip ?? "unknown").slice(0, 64));
    await next();
  };
}
