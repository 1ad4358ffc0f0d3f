import type { MiddlewareHandler } from "hono";
import type { EdgeEnv } from "../deps.ts";

const MINUTE = 60_000;

/**
 * Per-instance, per-user and per-service limits, atomic in the shared kv. Over the limit: HTTP 429 with Retry-After
 * and a JSON-RPC error (echoing the request id when the body has one).
 */
export function rateLimit(): MiddlewareHandler<EdgeEnv> {
  return async function rateLimitMiddleware(c, next) {
    if (c.req.method !== "POST") return next();
    const { deps, instance } = c.var;
    // A JSON-RPC batch costs one unit per message, so batching cannot multiply the allowance.
    const cost = Array.isArray(c.var.parsedBody) ? Math.max(1, c.var.parsedBody.length) : 1;
    const results = await Promise.all([
      deps.kv.rateLimit(`rl:instance:${instance.instanceId}`, deps.limits.perInstancePerMinute, MINUTE, cost),
      deps.kv.rateLimit(`rl:user:${instance.userId}`, deps.limits.perUserPerMinute, MINUTE, cost),
      deps.kv.rateLimit(`rl:service:${instance.serviceType}`, deps.limits.perServicePerMinute, MINUTE, cost),
    ]);
    const refused = results.find((r) => !r.allowed);
    if (!refused) return next();
    deps.metrics.requests.inc({ status: "429" });
    const body = c.var.parsedBody;
    const id =
      typeof body === "object" && body !== null && "id" in body ? (body as { id: unknown }).id : null;
    c.header("retry-after", String(Math.max(1, Math.ceil(refused.retryAfterMs / 1000))));
    return c.json(
      {
        jsonrpc: "2.0",
        id: typeof id === "string" || typeof id === "number" ? id : null,
        error: {
          code: -32000,
          message: "Rate limit exceeded",
          data: { code: "RATE_LIMIT_EXCEEDED", retryAfterMs: refused.retryAfterMs },
        },
      },
      429,
    );
  };
}
