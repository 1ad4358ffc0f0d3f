import { AppError } from "@mcp/core";
import type { RateLimitResult } from "@mcp/kv";
import { type ControlPlaneLimits, DEFAULT_LIMITS } from "../deps.ts";
import type { TrpcContext } from "./context.ts";
import { toTrpc } from "./init.ts";

const MINUTE = 60_000;
const kvKey = (key: string) => `rl:cp:${key}`;

/** 429 with the wait (`publicProcedure` turns an AppError's `retryAfterMs` into Retry-After). */
function refuse(result: RateLimitResult): never {
  throw toTrpc(
    new AppError("RATE_LIMIT_EXCEEDED", "Too many attempts; try again shortly", {
      retryAfterMs: result.retryAfterMs,
    }),
  );
}

/**
 * Per-key, per-minute limit on a costly or guessable action (sign-ins per address, upstream key checks
 * per user), counted on every attempt, in the shared kv so it holds across processes. Over the limit:
 * 429 RATE_LIMIT_EXCEEDED with Retry-After.
 */
export async function limit(ctx: TrpcContext, key: string, perMinute: number): Promise<void> {
  const result = await ctx.deps.kv.rateLimit(kvKey(key), perMinute, MINUTE);
  if (!result.allowed) refuse(result);
}

/**
 * A budget counted on failures rather than attempts: `check` refuses (without counting) once `perMinute`
 * failures were counted, `fail` counts one, `clear` forgets a key's count (after a success).
 */
export const failures = {
  async check(ctx: TrpcContext, key: string, perMinute: number): Promise<void> {
    const result = await ctx.deps.kv.peekRateLimit(kvKey(key), perMinute);
    if (!result.allowed) refuse(result);
  },
  async fail(ctx: TrpcContext, key: string, perMinute: number): Promise<void> {
    await ctx.deps.kv.rateLimit(kvKey(key), perMinute, MINUTE);
  },
  async clear(ctx: TrpcContext, key: string): Promise<void> {
    await ctx.deps.kv.resetRateLimit(kvKey(key));
  },
};

/** The deployment's limit for `name`. */
export function limitOf(ctx: TrpcContext, name: keyof ControlPlaneLimits): number {
  return ctx.deps.limits?.[name] ?? DEFAULT_LIMITS[name];
}
