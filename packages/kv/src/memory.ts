import { lru } from "./lru.ts";
import { positiveCost, positiveCount, positiveMs } from "./ms.ts";
import type { Kv, KvOptions, RateLimitResult, ThroughRead, ThroughValue } from "./types.ts";

const MAX_ENTRIES = 100_000;
const SWEEP_EVERY_MS = 60_000;

interface Window {
  count: number;
  resetAt: number;
}

type Handler = (message: string) => void;

/**
 * In-process backend for development and single-process tests. Each instance is its own store, so
 * the prefix (kept for parity with Redis) isolates nothing that separate instances do not already.
 */
export function createMemoryKv(opts: KvOptions = {}): Kv {
  const prefix = opts.prefix ?? "mcp:";
  const cache = lru<string, string>(MAX_ENTRIES);
  // Windows live in an LRU too, so a flood of distinct keys (one per IP, say) cannot grow memory
  // without bound; expired windows are also swept now and then rather than on a timer, so an
  // idle process holds no interval open.
  const windows = lru<string, Window>(MAX_ENTRIES);
  const lists = lru<string, string[]>(MAX_ENTRIES);
  const channels = new Map<string, Set<Handler>>();
  let nextSweep = performance.now() + SWEEP_EVERY_MS;
  let closed = false;

  function live(): void {
    if (closed) throw new Error("kv is closed");
  }

  /** Adds `units` to `key`'s current fixed window (a fresh one when it has ended) and returns the window. */
  function charge(key: string, windowMs: number, units: number, now: number): Window {
    const ms = positiveMs(windowMs, "windowMs");
    if (now >= nextSweep) {
      windows.purgeStale();
      nextSweep = now + SWEEP_EVERY_MS;
    }
    const name = prefix + key;
    let w = windows.get(name);
    if (!w || w.resetAt <= now) {
      w = { count: 0, resetAt: now + ms };
      windows.set(name, w, { ttl: ms });
    }
    w.count += units;
    return w;
  }

  function readThrough(read: ThroughRead): ThroughValue {
    const pointer = cache.get(prefix + read.pointerKey) ?? read.fallback;
    return { pointer, value: cache.get(prefix + read.before + pointer + read.after) ?? null };
  }

  return {
    kind: "memory",

    async get(key) {
      live();
      return cache.get(prefix + key) ?? null;
    },

    async set(key, value, ttlMs) {
      live();
      cache.set(prefix + key, value, { ttl: positiveMs(ttlMs, "ttlMs") });
    },

    async getThrough(pointerKey, fallback, before, after) {
      live();
      return readThrough({ pointerKey, fallback, before, after });
    },

    async setIfAbsent(key, value, ttlMs) {
      live();
      const ttl = positiveMs(ttlMs, "ttlMs");
      if (cache.has(prefix + key)) return false;
      cache.set(prefix + key, value, { ttl });
      return true;
    },

    async lease(key, owner, ttlMs) {
      live();
      const ttl = positiveMs(ttlMs, "ttlMs");
      const held = cache.get(prefix + key);
      if (held !== undefined && held !== owner) return false;
      cache.set(prefix + key, owner, { ttl });
      return true;
    },

    async release(key, owner) {
      live();
      if (cache.get(prefix + key) !== owner) return false;
      return cache.delete(prefix + key);
    },

    async del(...keys) {
      live();
      for (const key of keys) {
        cache.delete(prefix + key);
        lists.delete(prefix + key);
      }
    },

    // Synchronous from read to write, so concurrent callers in this process cannot interleave.
    async rateLimit(key, limit, windowMs, cost = 1): Promise<RateLimitResult> {
      live();
      const now = performance.now();
      const w = charge(key, windowMs, positiveCost(cost), now);
      if (w.count <= limit) return { allowed: true, remaining: limit - w.count, retryAfterMs: 0 };
      return { allowed: false, remaining: 0, retryAfterMs: Math.max(1, w.resetAt - now) };
    },

    // Synchronous through every bucket (no await between them), so it is atomic in this process too.
    async rateLimitChain(buckets, cost = 1, then) {
      live();
      const units = positiveCost(cost);
      const now = performance.now();
      for (const [i, b] of buckets.entries()) {
        const w = charge(b.key, b.windowMs, units, now);
        if (w.count > b.limit) return { refused: i, retryAfterMs: Math.max(1, w.resetAt - now) };
      }
      return then
        ? { refused: -1, retryAfterMs: 0, read: readThrough(then) }
        : { refused: -1, retryAfterMs: 0 };
    },

    // Reads with peek(): neither the window's recency in the LRU nor its expiry moves.
    async peekRateLimit(key, limit): Promise<RateLimitResult> {
      live();
      const now = performance.now();
      const stored = windows.peek(prefix + key);
      const w = stored && stored.resetAt > now ? stored : undefined;
      const used = w?.count ?? 0;
      if (used < limit) return { allowed: true, remaining: limit - used, retryAfterMs: 0 };
      return { allowed: false, remaining: 0, retryAfterMs: Math.max(1, (w?.resetAt ?? now) - now) };
    },

    async resetRateLimit(key) {
      live();
      windows.delete(prefix + key);
    },

    async append(key, value, maxLength, ttlMs) {
      live();
      const ttl = positiveMs(ttlMs, "ttlMs");
      const max = positiveCount(maxLength, "maxLength");
      const list = lists.get(prefix + key) ?? [];
      list.push(value);
      if (list.length > max) list.splice(0, list.length - max);
      lists.set(prefix + key, list, { ttl });
      return list.length;
    },

    async list(key) {
      live();
      return [...(lists.get(prefix + key) ?? [])];
    },

    async publish(channel, message) {
      live();
      // One microtask per handler: delivery is async as with Redis, and a throwing handler
      // cannot stop the others from hearing the message.
      for (const handler of channels.get(prefix + channel) ?? []) queueMicrotask(() => handler(message));
    },

    async subscribe(channel, onMessage) {
      live();
      const name = prefix + channel;
      // Wrapped so the same function subscribed twice is two subscriptions, as with Redis.
      const handler: Handler = (message) => onMessage(message);
      const set = channels.get(name) ?? new Set<Handler>();
      set.add(handler);
      channels.set(name, set);
      return async () => {
        set.delete(handler);
        if (set.size === 0 && channels.get(name) === set) channels.delete(name);
      };
    },

    async ping() {
      return !closed;
    },

    async close() {
      closed = true;
      cache.clear();
      windows.clear();
      channels.clear();
    },
  };
}
