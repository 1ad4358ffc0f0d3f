import { randomUUID } from "node:crypto";
import { type ChainableCommander, Redis } from "ioredis";
import { positiveCost, positiveCount, positiveMs } from "./ms.ts";
import { ensureTracingHasSubscribers } from "./tracing.ts";
import type { Kv, KvOptions, RateLimitResult, ThroughRead, ThroughValue } from "./types.ts";

ensureTracingHasSubscribers();

// INCR and PEXPIRE in one script so no crash or race can leave a counter without its expiry; the
// `ttl < 0` branch also heals a key that somehow lost it. Returns [count, ms left in window].
const RATE_LIMIT_LUA = `
local n = redis.call('INCRBY', KEYS[1], ARGV[2])
local ttl = redis.call('PTTL', KEYS[1])
if n == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}`;

// Several budgets in order, narrowest first, in one step: each is charged only when all before it allowed the
// hit. KEYS: the budgets' keys (the first `count`); ARGV: cost, then limit and window ms per key. Returns [index
// of the refusing key (1-based), ms left in its window] when one refuses; goes on otherwise.
const chargeBudgets = (count: string) => `
local cost = tonumber(ARGV[1])
for i = 1, ${count} do
  local key = KEYS[i]
  local limit = tonumber(ARGV[i * 2])
  local window = tonumber(ARGV[i * 2 + 1])
  local n = redis.call('INCRBY', key, cost)
  local ttl = redis.call('PTTL', key)
  if n == cost or ttl < 0 then
    redis.call('PEXPIRE', key, window)
    ttl = window
  end
  if n > limit then return {i, ttl} end
end`;

// Returns [0, 0] when every budget allowed the hit.
const RATE_LIMIT_CHAIN_LUA = `${chargeBudgets("#KEYS")}
return {0, 0}`;

// The same, then (only when every budget allowed the hit) a read through a pointer as GET_THROUGH_LUA below.
// KEYS: the budgets' keys, then the pointer's. ARGV: as above, then the fallback, the text before the pointer
// and the text after it. Returns [0, 0, pointer, value or false] when allowed.
const RATE_LIMIT_CHAIN_THEN_READ_LUA = `${chargeBudgets("#KEYS - 1")}
local at = #KEYS * 2
local pointer = redis.call('GET', KEYS[#KEYS]) or ARGV[at]
return {0, 0, pointer, redis.call('GET', ARGV[at + 1] .. pointer .. ARGV[at + 2])}`;

// The count and the window it belongs to, read together; never writes, so a peek cannot open or
// extend a window. Returns [count (0 when absent), ms left (-2 absent, -1 no expiry)].
const PEEK_RATE_LIMIT_LUA = `
return {tonumber(redis.call('GET', KEYS[1]) or '0'), redis.call('PTTL', KEYS[1])}`;

// A read through a pointer: the pointer (or its fallback), then the key it completes. ARGV: fallback, the
// namespaced text before the pointer, the text after it. Returns [pointer, value or false].
const GET_THROUGH_LUA = `
local pointer = redis.call('GET', KEYS[1]) or ARGV[1]
return {pointer, redis.call('GET', ARGV[2] .. pointer .. ARGV[3])}`;

// Append to a capped list and (re)arm its expiry, atomically. KEYS: the list. ARGV: the value, the most entries
// kept, the expiry in ms. Returns the length after the append. The bound is passed on as the text it came as
// (Lua would write a large number in exponent form, which LTRIM refuses).
const APPEND_LUA = `
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('LTRIM', KEYS[1], '-' .. ARGV[2], -1)
return redis.call('LLEN', KEYS[1])`;

// Take or renew a lease: only when the key is absent or already names this owner. Returns 1 when held.
const LEASE_LUA = `
local held = redis.call('GET', KEYS[1])
if held and held ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;

// Give a lease up only while this owner holds it, so a lapsed lease another process took is left alone.
const RELEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/**
 * A pipeline, with the scripts defineCommand added to it at runtime (ioredis's types cannot know about them).
 * Every method queues one command and returns the pipeline; the replies come from `exec`, in order.
 */
type Pipeline = ChainableCommander & {
  kvRateLimit(key: string, windowMs: number, cost: number): Pipeline;
  kvPeekRateLimit(key: string): Pipeline;
  kvRateLimitChain(count: number, ...keysThenArgs: (string | number)[]): Pipeline;
  kvRateLimitChainThenRead(count: number, ...keysThenArgs: (string | number)[]): Pipeline;
  kvLease(key: string, owner: string, ttlMs: number): Pipeline;
  kvGetThrough(key: string, fallback: string, before: string, after: string): Pipeline;
  kvRelease(key: string, owner: string): Pipeline;
  kvAppend(key: string, value: string, maxLength: number, ttlMs: number): Pipeline;
};

/** The commands of one turn of the event loop, queued on one pipeline, and who waits for each reply. */
interface Batch {
  pipeline: Pipeline;
  waiters: { resolve: (reply: unknown) => void; reject: (error: unknown) => void }[];
}

type Handler = (message: string) => void;

const PING_TIMEOUT_MS = 1_000;
const QUIT_TIMEOUT_MS = 1_000;
/** An outage errors on every reconnect attempt; the application hears of it once per connection per 30 s. */
const ERROR_EVERY_MS = 30_000;

export function createRedisKv(url: string, opts: KvOptions = {}): Kv {
  const prefix = opts.prefix ?? "mcp:";
  // Bounded retries so a request fails within seconds while Redis is down instead of queueing forever.
  // No auto-pipelining: the kv pipelines by turns of the event loop itself (see `send`).
  const redis = new Redis(url, {
    connectTimeout: 5_000,
    maxRetriesPerRequest: 2,
    lazyConnect: false,
  });
  const onError = opts.onError ?? (() => {});
  reportErrors(redis, onError);
  // Sent as EVALSHA; ioredis re-sends the script as EVAL on NOSCRIPT (a new connection, a restarted
  // Redis, SCRIPT FLUSH), so the script cache never has to be managed here.
  redis.defineCommand("kvRateLimit", { numberOfKeys: 1, lua: RATE_LIMIT_LUA });
  redis.defineCommand("kvPeekRateLimit", { numberOfKeys: 1, lua: PEEK_RATE_LIMIT_LUA });
  // The number of keys varies: it is passed first at each call.
  redis.defineCommand("kvRateLimitChain", { lua: RATE_LIMIT_CHAIN_LUA });
  redis.defineCommand("kvRateLimitChainThenRead", { lua: RATE_LIMIT_CHAIN_THEN_READ_LUA });
  redis.defineCommand("kvLease", { numberOfKeys: 1, lua: LEASE_LUA });
  redis.defineCommand("kvGetThrough", { numberOfKeys: 1, lua: GET_THROUGH_LUA });
  redis.defineCommand("kvRelease", { numberOfKeys: 1, lua: RELEASE_LUA });
  redis.defineCommand("kvAppend", { numberOfKeys: 1, lua: APPEND_LUA });

  // A connection in subscriber mode cannot run other commands, so subscriptions get their own,
  // opened on first use: most processes only publish.
  let subscriber: Redis | undefined;
  /** The subscriber connection is up and has re-sent its SUBSCRIBEs since it last (re)connected. */
  let subscribed = false;
  /** Counts the subscriber connection's (re)subscriptions (`listenEpoch`). */
  let epoch = 0;
  const channels = new Map<string, { handlers: Set<Handler>; ready: Promise<unknown> }>();
  let closed = false;

  // Messages carry the publishing process's id, so a process delivers its own messages to its own
  // subscribers at once (before publish() resolves) and skips their echo from Redis.
  const origin = randomUUID();

  // One microtask per handler so a throwing handler cannot break ioredis's reply parsing or stop the
  // other handlers, matching the memory backend.
  function deliver(channel: string, message: string): void {
    for (const handler of channels.get(channel)?.handlers ?? []) queueMicrotask(() => handler(message));
  }

  // Every command is sent through `send`: the commands of one turn of the event loop are queued on one pipeline,
  // which goes to Redis as one write once the turn's callbacks have run (setImmediate), and whose replies come
  // back together, each settling its call's promise. ioredis's auto-pipelining batches the same way, with more
  // per command on the hot path: its own promise and callback, and a process.nextTick per reply, under the
  // kv's wrapper promise (measured in README → Speed). Pipelines go out on the one connection in the order
  // they were queued, and each in the order of its commands, so the kv's calls are applied in the order they
  // were made (one exception, as before: a script Redis no longer has is re-sent, after what followed it).
  let batch: Batch | undefined;
  // Batches written and not yet answered, so close() can fail what is still waiting: ioredis never settles
  // commands queued on a connection that is dropped between reconnect attempts (Redis unreachable).
  const unanswered = new Set<Batch>();
  function send<T>(queue: (pipeline: Pipeline) => unknown): Promise<T> {
    if (closed) return Promise.reject(new Error("kv is closed"));
    if (!batch) {
      batch = { pipeline: redis.pipeline() as Pipeline, waiters: [] };
      setImmediate(flush);
    }
    queue(batch.pipeline);
    const { waiters } = batch;
    return new Promise<T>((resolve, reject) => {
      waiters.push({ resolve: resolve as (reply: unknown) => void, reject });
    });
  }
  function flush(): void {
    const sent = batch;
    batch = undefined;
    if (!sent) return;
    unanswered.add(sent);
    sent.pipeline.exec().then(
      (replies) => {
        unanswered.delete(sent);
        sent.waiters.forEach((waiter, i) => {
          const [error, reply] = replies?.[i] ?? [new Error("Redis sent no reply")];
          if (error) waiter.reject(error);
          else waiter.resolve(reply);
        });
      },
      (error: unknown) => {
        unanswered.delete(sent);
        for (const waiter of sent.waiters) waiter.reject(error);
      },
    );
  }
  /** A wait on the subscriber connection, failed by close() like the commands. */
  const subscribing = new Set<(error: Error) => void>();
  function untilClosed<T>(work: Promise<T>): Promise<T> {
    if (closed) return Promise.reject(new Error("kv is closed"));
    return new Promise<T>((resolve, reject) => {
      subscribing.add(reject);
      work.then(
        (value) => {
          subscribing.delete(reject);
          resolve(value);
        },
        (error: unknown) => {
          subscribing.delete(reject);
          reject(error);
        },
      );
    });
  }

  async function readThrough(read: ThroughRead): Promise<ThroughValue> {
    const [pointer, value] = await send<[string, string | null]>((p) =>
      p.kvGetThrough(prefix + read.pointerKey, read.fallback, prefix + read.before, read.after),
    );
    return { pointer, value: value ?? null };
  }

  function subscriberConnection(): Redis {
    if (subscriber) return subscriber;
    const sub = redis.duplicate();
    reportErrors(sub, onError);
    sub.on("message", (channel: string, framed: string) => {
      const cut = framed.indexOf("|");
      // Our own messages were already delivered locally by publish().
      if (cut < 0 || framed.slice(0, cut) === origin) return;
      deliver(channel, framed.slice(cut + 1));
    });
    // ioredis re-subscribes on reconnect before it emits 'ready'; commands on a connection run in order, so
    // once a PING sent from 'ready' is answered, Redis has every subscription again.
    sub.on("close", () => {
      subscribed = false;
    });
    sub.on("ready", () => {
      sub.ping().then(
        () => {
          if (sub.status === "ready" && !subscribed) {
            subscribed = true;
            epoch++;
          }
        },
        () => {},
      );
    });
    subscriber = sub;
    return sub;
  }

  return {
    kind: "redis",

    connected: () => redis.status === "ready",
    listening: () => subscriber === undefined || subscribed,
    // No subscriber connection yet: nothing was subscribed, so nothing can have been missed.
    listenEpoch: () => (subscriber === undefined ? 0 : subscribed ? epoch : -1),

    async get(key) {
      return send<string | null>((p) => p.get(prefix + key));
    },

    async set(key, value, ttlMs) {
      const ms = positiveMs(ttlMs, "ttlMs");
      await send((p) => p.set(prefix + key, value, "PX", ms));
    },

    getThrough: (pointerKey, fallback, before, after) => readThrough({ pointerKey, fallback, before, after }),

    async setIfAbsent(key, value, ttlMs) {
      const ms = positiveMs(ttlMs, "ttlMs");
      return (await send((p) => p.set(prefix + key, value, "PX", ms, "NX"))) === "OK";
    },

    async lease(key, owner, ttlMs) {
      const ms = positiveMs(ttlMs, "ttlMs");
      return (await send((p) => p.kvLease(prefix + key, owner, ms))) === 1;
    },

    async release(key, owner) {
      return (await send((p) => p.kvRelease(prefix + key, owner))) === 1;
    },

    async del(...keys) {
      // DEL with no keys is a Redis syntax error; deleting nothing is not.
      if (keys.length > 0) await send((p) => p.del(...keys.map((key) => prefix + key)));
    },

    async rateLimit(key, limit, windowMs, cost = 1): Promise<RateLimitResult> {
      const ms = positiveMs(windowMs, "windowMs");
      const units = positiveCost(cost);
      const [count, ttl] = await send<[number, number]>((p) => p.kvRateLimit(prefix + key, ms, units));
      if (count <= limit) return { allowed: true, remaining: limit - count, retryAfterMs: 0 };
      return { allowed: false, remaining: 0, retryAfterMs: Math.max(1, ttl) };
    },

    async rateLimitChain(buckets, cost = 1, then) {
      const units = positiveCost(cost);
      if (buckets.length === 0)
        return { refused: -1, retryAfterMs: 0, ...(then && { read: await readThrough(then) }) };
      // KEYS (the pointer's last, with `then`), then ARGV: the cost, each key's limit and window, then the read's.
      const args: (string | number)[] = buckets.map((b) => prefix + b.key);
      if (then) args.push(prefix + then.pointerKey);
      args.push(units);
      for (const b of buckets) args.push(b.limit, positiveMs(b.windowMs, "windowMs"));
      if (!then) {
        const [index, ttl] = await send<[number, number]>((p) => p.kvRateLimitChain(buckets.length, ...args));
        return index === 0
          ? { refused: -1, retryAfterMs: 0 }
          : { refused: index - 1, retryAfterMs: Math.max(1, ttl) };
      }
      args.push(then.fallback, prefix + then.before, then.after);
      const [index, ttl, pointer, value] = await send<[number, number, string?, (string | null)?]>((p) =>
        p.kvRateLimitChainThenRead(buckets.length + 1, ...args),
      );
      if (index !== 0) return { refused: index - 1, retryAfterMs: Math.max(1, ttl) };
      return {
        refused: -1,
        retryAfterMs: 0,
        read: { pointer: pointer ?? then.fallback, value: value ?? null },
      };
    },

    async peekRateLimit(key, limit): Promise<RateLimitResult> {
      const [used, ttl] = await send<[number, number]>((p) => p.kvPeekRateLimit(prefix + key));
      if (used < limit) return { allowed: true, remaining: limit - used, retryAfterMs: 0 };
      // A counter that lost its expiry (ttl -1) is given a fresh window by its next hit: no known delay.
      return { allowed: false, remaining: 0, retryAfterMs: Math.max(1, ttl) };
    },

    async resetRateLimit(key) {
      await send((p) => p.del(prefix + key));
    },

    async append(key, value, maxLength, ttlMs) {
      const ms = positiveMs(ttlMs, "ttlMs");
      const max = positiveCount(maxLength, "maxLength");
      return send<number>((p) => p.kvAppend(prefix + key, value, max, ms));
    },

    async list(key) {
      return send<string[]>((p) => p.lrange(prefix + key, 0, -1));
    },

    async publish(channel, message) {
      if (closed) throw new Error("kv is closed");
      deliver(prefix + channel, message);
      await send((p) => p.publish(prefix + channel, `${origin}|${message}`));
    },

    async subscribe(channel, onMessage) {
      if (closed) throw new Error("kv is closed");
      const name = prefix + channel;
      const sub = subscriberConnection();
      let entry = channels.get(name);
      if (!entry) {
        // Later subscribers to the same channel await the same SUBSCRIBE rather than sending another;
        // a failed one is forgotten so the next call retries instead of inheriting the failure.
        const created = {
          handlers: new Set<Handler>(),
          ready: sub.subscribe(name).catch((error: unknown) => {
            if (channels.get(name) === created) channels.delete(name);
            throw error;
          }),
        };
        entry = created;
        channels.set(name, entry);
      }
      const { handlers, ready } = entry;
      const handler: Handler = (message) => onMessage(message);
      handlers.add(handler);
      await untilClosed(ready);
      return async () => {
        if (!handlers.delete(handler) || handlers.size > 0 || closed) return;
        channels.delete(name);
        // Commands on one connection run in order, so a SUBSCRIBE issued after this still wins.
        await untilClosed(sub.unsubscribe(name));
      };
    },

    async ping() {
      if (closed) return false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve("timeout"), PING_TIMEOUT_MS);
      });
      try {
        return (await Promise.race([redis.ping(), timeout])) === "PONG";
      } catch {
        return false;
      } finally {
        clearTimeout(timer);
      }
    },

    async close() {
      closed = true;
      channels.clear();
      // What was asked for before close() goes out ahead of QUIT, which lets the replies drain (on a connection
      // that is not up, QUIT disconnects at once and it is refused like the rest).
      flush();
      await Promise.all([quit(redis), subscriber ? quit(subscriber) : undefined]);
      const closedError = new Error("kv is closed");
      for (const sent of unanswered) for (const waiter of sent.waiters) waiter.reject(closedError);
      unanswered.clear();
      for (const reject of subscribing) reject(closedError);
      subscribing.clear();
    },
  };
}

/**
 * Always listens: with no 'error' listener ioredis prints every connection error to stderr itself,
 * bypassing the application's (redacting) logger.
 */
function reportErrors(connection: Redis, onError: (error: Error) => void): void {
  let last = Number.NEGATIVE_INFINITY;
  connection.on("error", (error: Error) => {
    const now = performance.now();
    if (now - last < ERROR_EVERY_MS) return;
    last = now;
    try {
      onError(error);
    } catch {
      // A failing reporter must not throw into ioredis's connection handling.
    }
  });
}

/**
 * QUIT lets a live connection's queued replies drain, for at most a second. A connection that is not
 * ready (Redis unreachable, reconnecting) would hold QUIT in its offline queue until its retries run
 * out, so it is dropped at once.
 */
async function quit(connection: Redis): Promise<void> {
  if (connection.status === "end") return;
  if (connection.status !== "ready") {
    connection.disconnect();
    return;
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("QUIT timed out")), QUIT_TIMEOUT_MS);
  });
  try {
    await Promise.race([connection.quit(), timeout]);
  } catch {
    connection.disconnect();
  } finally {
    clearTimeout(timer);
  }
}
