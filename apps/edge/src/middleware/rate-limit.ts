import { CUSTOM_SERVICE } from "@mcp/core";
import type { RateLimitResult } from "@mcp/kv";
import type { Context, MiddlewareHandler } from "hono";
import { DEFAULT_PER_INSTANCE_PER_MINUTE, type EdgeEnv } from "../deps.ts";

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
    // Narrowest first, and a wider budget is only charged for what the narrower one let through: a
    // client hammering past its own limit must not spend its user's, or everyone's, allowance.
    const { limits } = deps;
    const defined = deps.registry.any(instance.serviceType)?.rateLimits;
    const buckets: [string, number][] = [
      [
        `rl:instance:${instance.instanceId}`,
        limits.perInstancePerMinute ?? defined?.perInstancePerMinute ?? DEFAULT_PER_INSTANCE_PER_MINUTE,
      ],
      [`rl:user:${instance.userId}`, limits.perUserPerMinute],
    ];
    // Every custom instance is a different upstream: they share no service-wide budget.
    if (instance.serviceType !== CUSTOM_SERVICE.type) {
      buckets.push([`rl:service:${instance.serviceType}`, defined?.perMinute ?? limits.perServicePerMinute]);
    }
    let refused: RateLimitResult | undefined;
    for (const [key, limit] of buckets) {
      // 0 = unlimited (RATE_LIMIT_PER_* and SERVICE_<TYPE>_RATE_LIMIT): nothing is counted.
      if (limit === 0) continue;
      const result = await deps.kv.rateLimit(key, limit, MINUTE, cost);
      if (!result.allowed) {
        refused = result;
        break;
      }
    }
    if (!refused) return next();
    return tooManyRequests(c, refused.retryAfterMs, "Rate limit exceeded");
  };
}

/**
 * HTTP 429 with Retry-After and a JSON-RPC error (echoing the request id when the body has one), as
 * DESIGN.md's error table gives it for MCP traffic.
 */
export function tooManyRequests(c: Context<EdgeEnv>, retryAfterMs: number, message: string): Response {
  c.var.deps.metrics.requests.inc({ status: "429" });
  const body = c.var.parsedBody;
  const id = typeof body === "object" && body !== null && "id" in body ? (body as { id: unknown }).id : null;
  c.header("retry-after", String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
  return c.json(
    {
      jsonrpc: "2.0",
      id: typeof id === "string" || typeof id === "number" ? id : null,
      error: { code: -32000, message, data: { code: "RATE_LIMIT_EXCEEDED", retryAfterMs } },
    },
    429,
  );
}
