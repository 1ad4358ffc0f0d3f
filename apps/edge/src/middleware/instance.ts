import type { Context, MiddlewareHandler } from "hono";
import type { EdgeEnv } from "../deps.ts";

/** The one answer for every token that cannot be served (missing, malformed, unknown, revoked). */
export function invalidInstance(c: Context<EdgeEnv>): Response {
  c.var.deps.metrics.requests.inc({ status: "401" });
  return c.json({ error: "Invalid instance", code: "INVALID_INSTANCE", requestId: c.var.requestId }, 401);
}

/**
 * Token in the path → instance. Anything malformed, unknown or revoked is a bare 401 with nothing about
 * why, answered before any upstream call (malformed tokens before any lookup at all).
 */
export function resolveInstance(): MiddlewareHandler<EdgeEnv> {
  return async function instanceMiddleware(c, next) {
    const instance = await c.var.deps.resolver.resolve(c.req.param("token") ?? "");
    if (!instance) return invalidInstance(c);
    c.set("instance", instance);
    await next();
  };
}
