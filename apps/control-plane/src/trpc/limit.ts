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
 * Several per-minute budgets charged in order in one atomic step: a hit refused by one is never charged to those
 * after it (a narrow per-caller budget refusing does not spend a wide shared one). Over any: 429 with its wait.
 */
export async function limitAll(ctx: TrpcContext, budgets: readonly [key: string, perMinute: number][]) {
  const result = await ctx.deps.kv.rateLimitChain(
    budgets.map(([key, limit]) => ({ key: kvKey(key), limit, windowMs: MINUTE })),
  );
  if (result.refused >= 0) refuse({ allowed: false, remaining: 0, retryAfterMs: result.retryAfterMs });
}

/** Forgets a budget's count: a success gives its caller a clean slate (sign-in, account password checks). */
export const failures = {
  async clear(ctx: TrpcContext, key: string): Promise<void> {
    await ctx.deps.kv.resetRateLimit(kvKey(key));
  },
};

/** The deployment's limit for `name`. */
export function limitOf(ctx: TrpcContext, name: keyof ControlPlaneLimits): number {
  return ctx.deps.limits?.[name] ?? DEFAULT_LIMITS[name];
}
