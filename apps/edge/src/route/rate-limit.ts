import type { ResolvedInstance } from "@mcp/core";
import { CUSTOM_SERVICE } from "@mcp/core";
import { DEFAULT_PER_INSTANCE_PER_MINUTE } from "../deps.ts";
import { echoableId, json, type McpCall } from "./call.ts";
import type { ReadAheadSlot } from "./route.ts";

const MINUTE = 60_000;

/** A limit as the IETF RateLimit headers name it: a policy name, its quota and its window. */
export interface LimitPolicy {
  name: string;
  limit: number;
  windowMs: number;
}

/**
 * Per-instance, per-user and per-service limits, atomic in the shared kv. Over the limit: HTTP 429 with
 * Retry-After, the IETF `RateLimit-Policy` / `RateLimit` headers of the limit that refused, and a JSON-RPC
 * error (echoing the request id when the body has one). While Redis is unreachable the kv counts per
 * process (its failure policy), so a request is never refused, nor failed, for want of Redis.
 */
export async function rateLimit(
  call: McpCall,
  instance: ResolvedInstance,
  readAheadSlot?: ReadAheadSlot,
): Promise<Response | undefined> {
  const { deps } = call;
  // A JSON-RPC batch costs one unit per message, so batching cannot multiply the allowance.
  const body = call.parsedBody;
  const cost = Array.isArray(body) ? Math.max(1, body.length) : 1;
  // Narrowest first, and a wider budget is only charged for what the narrower one let through: a
  // client hammering past its own limit must not spend its user's, or everyone's, allowance.
  const { limits } = deps;
  const defined = deps.registry.any(instance.serviceType)?.rateLimits;
  const buckets: [string, LimitPolicy][] = [
    [
      `rl:instance:${instance.instanceId}`,
      {
        name: "instance",
        // The instance's own override (instances.updateSettings) first, then the platform's.
        limit:
          instance.rateLimitPerMinute ??
          limits.perInstancePerMinute ??
          defined?.perInstancePerMinute ??
          DEFAULT_PER_INSTANCE_PER_MINUTE,
        windowMs: MINUTE,
      },
    ],
    [`rl:user:${instance.userId}`, { name: "user", limit: limits.perUserPerMinute, windowMs: MINUTE }],
  ];
  // Every custom instance is a different upstream: they share no service-wide budget.
  if (instance.serviceType !== CUSTOM_SERVICE.type) {
    buckets.push([
      `rl:service:${instance.serviceType}`,
      { name: "service", limit: defined?.perMinute ?? limits.perServicePerMinute, windowMs: MINUTE },
    ]);
  }
  // 0 = unlimited (RATE_LIMIT_PER_* and SERVICE_<TYPE>_RATE_LIMIT): nothing is counted, and no kv step is made
  // here (the call reads its cache slot itself). Every other budget is charged in one atomic kv step (one Redis
  // round trip), narrowest first, which also reads the call's cache slot once they all allowed it.
  const counted = buckets.filter(([, policy]) => policy.limit !== 0);
  if (counted.length === 0) return undefined;
  const slot = readAheadSlot?.(call, instance);
  const { refused, retryAfterMs, read } = await deps.kv.rateLimitChain(
    counted.map(([key, { limit, windowMs }]) => ({ key, limit, windowMs })),
    cost,
    slot,
  );
  const policy = counted[refused]?.[1];
  if (!policy) {
    if (slot && read) call.readAhead = { slot, found: read };
    return undefined;
  }
  return tooManyRequests(call, retryAfterMs, "Rate limit exceeded", policy);
}

/**
 * HTTP 429 with Retry-After and a JSON-RPC error (echoing the request id when the body has one), as
 * DESIGN.md's error table gives it for MCP traffic, plus the IETF RateLimit headers
 * (draft-ietf-httpapi-ratelimit-headers): `RateLimit-Policy: "<name>";q=<quota>;w=<window s>` and
 * `RateLimit: "<name>";r=0;t=<s until reset>`. Without a policy: the per-address invalid-token limit.
 */
export function tooManyRequests(
  call: McpCall,
  retryAfterMs: number,
  message: string,
  policy: LimitPolicy = {
    name: "invalid-token",
    limit: call.deps.limits.invalidTokensPerMinutePerIp,
    windowMs: MINUTE,
  },
): Response {
  call.deps.metrics.requests.inc({ status: "429" });
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  const name = JSON.stringify(policy.name);
  return json(
    {
      jsonrpc: "2.0",
      id: echoableId(call.parsedBody),
      error: {
        code: -32000,
        message,
        data: { code: "RATE_LIMIT_EXCEEDED", retryAfterMs: Math.ceil(retryAfterMs) },
      },
    },
    429,
    {
      "retry-after": String(seconds),
      "ratelimit-policy": `${name};q=${policy.limit};w=${Math.ceil(policy.windowMs / 1000)}`,
      ratelimit: `${name};r=0;t=${seconds}`,
    },
  );
}
