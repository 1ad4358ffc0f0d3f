import { createMemoryKv } from "./memory.ts";
import { createRedisKv } from "./redis.ts";
import { createResilientKv } from "./resilient.ts";
import type { Kv, KvOptions } from "./types.ts";

export { createMemoryKv } from "./memory.ts";
export { createRedisKv } from "./redis.ts";
export { createResilientKv, DEFAULT_KV_TIMEOUT_MS, type ResilientKvOptions } from "./resilient.ts";
export type {
  Kv,
  KvOptions,
  RateLimitBucket,
  RateLimitChainResult,
  RateLimitResult,
  ThroughRead,
  ThroughValue,
} from "./types.ts";

/**
 * Redis when REDIS_URL is set (shared across processes, under the failure policy of `createResilientKv`:
 * per-call deadlines and a per-process fallback while Redis is unreachable), otherwise in-process.
 */
export function createKv(env: { REDIS_URL?: string }, opts: KvOptions = {}): Kv {
  if (!env.REDIS_URL) return createMemoryKv(opts);
  return createResilientKv(createRedisKv(env.REDIS_URL, opts), opts);
}
