import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { positiveCost, positiveMs } from "./ms.ts";
import type { Kv, KvOptions, RateLimitResult } from "./types.ts";

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

/** defineCommand adds the method at runtime; ioredis's types cannot know about it. */
type WithRateLimit = Redis & {
  kvRateLimit(key: string, windowMs: number, cost: number): Promise<[number, number]>;
};

type Handler = (message: string) => void;

const PING_TIMEOUT_MS = 1_000;

export function createRedisKv(url: string, opts: KvOptions = {}): Kv {
  const prefix = opts.prefix ?? "mcp:";
  // Bounded retries so a request fails within seconds while Redis is down instead of queueing forever.
  const redis = new Redis(url, { connectTimeout: 5_000, maxRetriesPerRequest: 2, lazyConnect: false });
  // Sent as EVALSHA, falling back to EVAL once per connection when the script cache is cold.
  redis.defineCommand("kvRateLimit", { numberOfKeys: 1, lua: RATE_LIMIT_LUA });
  const commands = redis as WithRateLimit;

  // A connection in subscriber mode cannot run other commands, so subscriptions get their own,
  // opened on first use: most processes only publish.
  let subscriber: Redis | undefined;
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

  function subscriberConnection(): Redis {
    if (subscriber) return subscriber;
    const sub = redis.duplicate();
    sub.on("message", (channel: string, framed: string) => {
      const cut = framed.indexOf("|");
      // Our own messages were already delivered locally by publish().
      if (cut < 0 || framed.slice(0, cut) === origin) return;
      deliver(channel, framed.slice(cut + 1));
    });
    subscriber = sub;
    return sub;
  }

  return {
    kind: "redis",

    async get(key) {
      return redis.get(prefix + key);
    },

    async set(key, value, ttlMs) {
      await redis.set(prefix + key, value, "PX", positiveMs(ttlMs, "ttlMs"));
    },

    async setIfAbsent(key, value, ttlMs) {
      return (await redis.set(prefix + key, value, "PX", positiveMs(ttlMs, "ttlMs"), "NX")) === "OK";
    },

    async del(...keys) {
      // DEL with no keys is a Redis syntax error; deleting nothing is not.
      if (keys.length > 0) await redis.del(...keys.map((key) => prefix + key));
    },

    async rateLimit(key, limit, windowMs, cost = 1): Promise<RateLimitResult> {
      const [count, ttl] = await commands.kvRateLimit(
        prefix + key,
        positiveMs(windowMs, "windowMs"),
        positiveCost(cost),
      );
      if (count <= limit) return { allowed: true, remaining: limit - count, retryAfterMs: 0 };
      return { allowed: false, remaining: 0, retryAfterMs: Math.max(1, ttl) };
    },

    async publish(channel, message) {
      deliver(prefix + channel, message);
      await redis.publish(prefix + channel, `${origin}|${message}`);
    },

    async subscribe(channel, onMessage) {
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
      await ready;
      return async () => {
        if (!handlers.delete(handler) || handlers.size > 0 || closed) return;
        channels.delete(name);
        // Commands on one connection run in order, so a SUBSCRIBE issued after this still wins.
        await sub.unsubscribe(name);
      };
    },

    async ping() {
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
      await Promise.all([quit(redis), subscriber ? quit(subscriber) : undefined]);
    },
  };
}

/** QUIT lets queued replies drain; if the connection is already gone, drop it instead of waiting. */
async function quit(connection: Redis): Promise<void> {
  if (connection.status === "end") return;
  try {
    await connection.quit();
  } catch {
    connection.disconnect();
  }
}
