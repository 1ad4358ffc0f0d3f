import { createMemoryKv } from "./memory.ts";
import { createRedisKv } from "./redis.ts";
import type { Kv, KvOptions } from "./types.ts";

export { createMemoryKv } from "./memory.ts";
export { createRedisKv } from "./redis.ts";
export type { Kv, KvOptions, RateLimitResult } from "./types.ts";

/** Redis when REDIS_URL is set (shared across processes), otherwise in-process. */
export function createKv(env: { REDIS_URL?: string }, opts?: KvOptions): Kv {
  return env.REDIS_URL ? createRedisKv(env.REDIS_URL, opts) : createMemoryKv(opts);
}
