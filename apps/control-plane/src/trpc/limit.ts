import { AppError } from "@mcp/core";
import { type ControlPlaneLimits, DEFAULT_LIMITS } from "../deps.ts";
import type { TrpcContext } from "./context.ts";
import { toTrpc } from "./init.ts";

const MINUTE = 60_000;

/**
 * Per-key limit on a costly or guessable action (sign-in per email, upstream key checks per user), in the
 * shared kv so it holds across processes. Over the limit: 429 RATE_LIMIT_EXCEEDED with Retry-After.
 */
export async function limit(ctx: TrpcContext, key: string, perMinute: number): Promise<void> {
  const result = await ctx.deps.kv.rateLimit(`rl:cp:${key}`, perMinute, MINUTE);
  if (result.allowed) return;
  ctx.setHeader("retry-after", String(Math.max(1, Math.ceil(result.retryAfterMs / 1000))));
  throw toTrpc(
    new AppError("RATE_LIMIT_EXCEEDED", "Too many attempts; try again shortly", {
      retryAfterMs: result.retryAfterMs,
    }),
  );
}

/** The deployment's limit for `name`. */
export function limitOf(ctx: TrpcContext, name: keyof ControlPlaneLimits): number {
  return ctx.deps.limits?.[name] ?? DEFAULT_LIMITS[name];
}
