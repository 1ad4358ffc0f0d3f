import { afterAll, beforeAll, describe, expect, spyOn, test } from "bun:test";
import { Redis } from "ioredis";
import { createKv, createMemoryKv, createRedisKv, createResilientKv, type Kv } from "./index.ts";

/** Polls rather than sleeping a fixed time, so slow CI only costs time when it is actually slow. */
async function until(check: () => boolean): Promise<void> {
  for (const deadline = Date.now() + 2_000; !check(); await Bun.sleep(5)) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
  }
}

function inbox() {
  const messages: string[] = [];
  return { messages, handler: (message: string) => void messages.push(message) };
}

/** The same behaviour is required of every backend; each run gets its own prefix. */
function kvSuite(name: string, make: (prefix: string) => Kv): void {
  describe(name, () => {
    const prefix = `test:kv:${crypto.randomUUID()}:`;
    let kv: Kv;
    beforeAll(() => {
      kv = make(prefix);
    });
    afterAll(() => kv.close());

    test("get, set, del", async () => {
      expect(await kv.get("missing")).toBeNull();
      await kv.set("a", "1", 10_000);
      await kv.set("b", "2", 10_000);
      expect(await kv.get("a")).toBe("1");
      await kv.del("a", "b", "never-set");
      await kv.del();
      expect(await kv.get("a")).toBeNull();
      expect(await kv.get("b")).toBeNull();
    });

    test("entries expire after their TTL", async () => {
      await kv.set("short", "x", 50);
      expect(await kv.get("short")).toBe("x");
      await Bun.sleep(120);
      expect(await kv.get("short")).toBeNull();
    });

    test("a TTL that is not positive is refused", async () => {
      await expect(kv.set("bad", "x", 0)).rejects.toThrow(RangeError);
      await expect(kv.rateLimit("bad", 1, Number.NaN)).rejects.toThrow(RangeError);
    });

    test("rate limit allows exactly `limit`, then refuses with a retry delay", async () => {
      for (const remaining of [2, 1, 0]) {
        expect(await kv.rateLimit("rl:exact", 3, 10_000)).toEqual({
          allowed: true,
          remaining,
          retryAfterMs: 0,
        });
      }
      const refused = await kv.rateLimit("rl:exact", 3, 10_000);
      expect([refused.allowed, refused.remaining]).toEqual([false, 0]);
      expect(refused.retryAfterMs).toBeGreaterThan(0);
      expect(refused.retryAfterMs).toBeLessThanOrEqual(10_000);
    });

    test("a hit can cost several units; a bad cost is refused", async () => {
      const key = `cost-${crypto.randomUUID()}`;
      expect(await kv.rateLimit(key, 10, 60_000, 7)).toMatchObject({ allowed: true, remaining: 3 });
      expect((await kv.rateLimit(key, 10, 60_000, 4)).allowed).toBe(false);
      await expect(kv.rateLimit(key, 10, 60_000, 0)).rejects.toThrow(RangeError);
    });

    test("setIfAbsent sets once and never overwrites", async () => {
      const key = `nx-${crypto.randomUUID()}`;
      expect(await kv.setIfAbsent(key, "first", 60_000)).toBe(true);
      expect(await kv.setIfAbsent(key, "second", 60_000)).toBe(false);
      expect(await kv.get(key)).toBe("first");
      await kv.del(key);
      expect(await kv.setIfAbsent(key, "third", 60_000)).toBe(true);
      await kv.del(key);
    });

    test("a lease is taken when free, renewed by its owner only, and released by its owner only", async () => {
      const key = `lease-${crypto.randomUUID()}`;
      expect(await kv.lease(key, "a", 60_000)).toBe(true);
      expect(await kv.lease(key, "b", 60_000)).toBe(false);
      expect(await kv.get(key)).toBe("a");
      expect(await kv.lease(key, "a", 60_000)).toBe(true);
      expect(await kv.release(key, "b")).toBe(false);
      expect(await kv.get(key)).toBe("a");
      expect(await kv.release(key, "a")).toBe(true);
      expect(await kv.get(key)).toBeNull();
      expect(await kv.lease(key, "b", 50)).toBe(true);
      await Bun.sleep(120);
      // Lapsed: the next contender takes it, and the old owner cannot give it away.
      expect(await kv.lease(key, "a", 60_000)).toBe(true);
      expect(await kv.release(key, "b")).toBe(false);
      expect(await kv.get(key)).toBe("a");
      await kv.del(key);
    });

    test("concurrent contenders for one lease: exactly one wins", async () => {
      const key = `lease-race-${crypto.randomUUID()}`;
      const wins = await Promise.all(Array.from({ length: 20 }, (_, i) => kv.lease(key, `o${i}`, 60_000)));
      expect(wins.filter(Boolean)).toHaveLength(1);
      expect(await kv.get(key)).toBe(`o${wins.indexOf(true)}`);
      await kv.del(key);
    });

    test("a chained limit charges budgets in order and stops at the first refusal", async () => {
      const id = crypto.randomUUID();
      const chain = [
        { key: `chain-a-${id}`, limit: 2, windowMs: 60_000 },
        { key: `chain-b-${id}`, limit: 3, windowMs: 60_000 },
      ];
      expect(await kv.rateLimitChain(chain)).toEqual({ refused: -1, retryAfterMs: 0 });
      expect(await kv.rateLimitChain(chain)).toEqual({ refused: -1, retryAfterMs: 0 });
      const third = await kv.rateLimitChain(chain);
      expect(third.refused).toBe(0);
      expect(third.retryAfterMs).toBeGreaterThan(0);
      expect(third.retryAfterMs).toBeLessThanOrEqual(60_000);
      // The refused hit never reached the wider budget: it has spent 2 of 3.
      expect(await kv.peekRateLimit(`chain-b-${id}`, 3)).toEqual({
        allowed: true,
        remaining: 1,
        retryAfterMs: 0,
      });
      // A wider budget that refuses: the narrower one was charged first (as one step, in order).
      const wide = [
        { key: `chain-c-${id}`, limit: 10, windowMs: 60_000 },
        { key: `chain-b-${id}`, limit: 3, windowMs: 60_000 },
      ];
      expect((await kv.rateLimitChain(wide, 2)).refused).toBe(1);
      expect(await kv.peekRateLimit(`chain-c-${id}`, 10)).toMatchObject({ remaining: 8 });
      expect(await kv.rateLimitChain([])).toEqual({ refused: -1, retryAfterMs: 0 });
      await expect(kv.rateLimitChain(chain, 0)).rejects.toThrow(RangeError);
      await expect(kv.rateLimitChain([{ key: `x-${id}`, limit: 1, windowMs: 0 }])).rejects.toThrow(
        RangeError,
      );
    });

    test("a chained hit with a read: read through the pointer once allowed, nothing read when refused", async () => {
      const id = crypto.randomUUID();
      const chain = [
        { key: `cr-a-${id}`, limit: 2, windowMs: 60_000 },
        { key: `cr-b-${id}`, limit: 10, windowMs: 60_000 },
      ];
      const read = { pointerKey: `gen-${id}`, fallback: "0", before: `entry-${id}:`, after: ":tool" };
      // Nothing stored: the fallback pointer, no value.
      expect(await kv.rateLimitChain(chain, 1, read)).toEqual({
        refused: -1,
        retryAfterMs: 0,
        read: { pointer: "0", value: null },
      });
      // The pointer moved on and an entry under it: both read in the same step, as getThrough reads them.
      await kv.set(`gen-${id}`, "g7", 60_000);
      await kv.set(`entry-${id}:g7:tool`, "cached", 60_000);
      await kv.set(`entry-${id}:0:tool`, "stale", 60_000);
      const allowed = await kv.rateLimitChain(chain, 1, read);
      expect(allowed).toEqual({ refused: -1, retryAfterMs: 0, read: { pointer: "g7", value: "cached" } });
      expect(allowed.read).toEqual(
        await kv.getThrough(read.pointerKey, read.fallback, read.before, read.after),
      );
      // Refused by the first budget: no read, and the wider budget was not charged (2 of 10 spent).
      const refused = await kv.rateLimitChain(chain, 1, read);
      expect(refused.refused).toBe(0);
      expect(refused.retryAfterMs).toBeGreaterThan(0);
      expect(refused.read).toBeUndefined();
      expect(await kv.peekRateLimit(`cr-b-${id}`, 10)).toMatchObject({ remaining: 8 });
      // No budget at all: the read alone.
      expect(await kv.rateLimitChain([], 1, read)).toEqual({
        refused: -1,
        retryAfterMs: 0,
        read: { pointer: "g7", value: "cached" },
      });
      // Without a read, the answer carries none.
      expect(await kv.rateLimitChain([{ key: `cr-c-${id}`, limit: 5, windowMs: 60_000 }])).toEqual({
        refused: -1,
        retryAfterMs: 0,
      });
      await kv.del(`gen-${id}`, `entry-${id}:g7:tool`, `entry-${id}:0:tool`);
    });

    test("concurrent chained hits never exceed any budget", async () => {
      const id = crypto.randomUUID();
      const chain = [
        { key: `cc-a-${id}`, limit: 30, windowMs: 60_000 },
        { key: `cc-b-${id}`, limit: 20, windowMs: 60_000 },
      ];
      const results = await Promise.all(Array.from({ length: 50 }, () => kv.rateLimitChain(chain)));
      expect(results.filter((r) => r.refused === -1)).toHaveLength(20);
      expect(results.filter((r) => r.refused === 1)).toHaveLength(10);
      expect(results.filter((r) => r.refused === 0)).toHaveLength(20);
    });

    test("getThrough reads a pointer (or its fallback) and the key it completes, in one step", async () => {
      const id = crypto.randomUUID();
      expect(await kv.getThrough(`ptr-${id}`, "0", `entry-${id}:`, ":x")).toEqual({
        pointer: "0",
        value: null,
      });
      await kv.set(`entry-${id}:0:x`, "first", 60_000);
      expect(await kv.getThrough(`ptr-${id}`, "0", `entry-${id}:`, ":x")).toEqual({
        pointer: "0",
        value: "first",
      });
      await kv.set(`ptr-${id}`, "g2", 60_000);
      expect(await kv.getThrough(`ptr-${id}`, "0", `entry-${id}:`, ":x")).toEqual({
        pointer: "g2",
        value: null,
      });
      await kv.set(`entry-${id}:g2:x`, "second", 60_000);
      expect(await kv.getThrough(`ptr-${id}`, "0", `entry-${id}:`, ":x")).toEqual({
        pointer: "g2",
        value: "second",
      });
      await kv.del(`ptr-${id}`, `entry-${id}:0:x`, `entry-${id}:g2:x`);
    });

    test("rate limit window resets", async () => {
      expect((await kv.rateLimit("rl:reset", 1, 50)).allowed).toBe(true);
      expect((await kv.rateLimit("rl:reset", 1, 50)).allowed).toBe(false);
      await Bun.sleep(120);
      expect(await kv.rateLimit("rl:reset", 1, 50)).toEqual({ allowed: true, remaining: 0, retryAfterMs: 0 });
    });

    test("concurrent hits never exceed the limit", async () => {
      const hits = await Promise.all(Array.from({ length: 50 }, () => kv.rateLimit("rl:burst", 10, 10_000)));
      expect(hits.filter((r) => r.allowed)).toHaveLength(10);
    });

    test("peek of a key never hit is fully allowed, and opens no window", async () => {
      const key = `peek-${crypto.randomUUID()}`;
      expect(await kv.peekRateLimit(key, 3)).toEqual({ allowed: true, remaining: 3, retryAfterMs: 0 });
      expect(await kv.get(key)).toBeNull(); // the Redis counter lives at the same prefixed key
      await Bun.sleep(300);
      const hitAt = Date.now();
      expect(await kv.rateLimit(key, 1, 10_000)).toEqual({ allowed: true, remaining: 0, retryAfterMs: 0 });
      const refused = await kv.rateLimit(key, 1, 10_000);
      // The window began at that hit, not at the peek 300 ms earlier: what is left of it is at least the window less
      // the time since the hit was sent (a window opened by the peek would leave 300 ms less than that). Measured
      // against the clock, not a fixed figure, so a slow machine between the two calls cannot fail it.
      expect(refused.retryAfterMs).toBeGreaterThanOrEqual(10_000 - (Date.now() - hitAt) - 5);
    });

    test("peek reports the window's count without spending from it", async () => {
      const key = `peek-${crypto.randomUUID()}`;
      await kv.rateLimit(key, 3, 10_000);
      await kv.rateLimit(key, 3, 10_000);
      for (let i = 0; i < 3; i++) {
        expect(await kv.peekRateLimit(key, 3)).toEqual({ allowed: true, remaining: 1, retryAfterMs: 0 });
      }
      // The hit after the peeks is still the third, not the sixth.
      expect(await kv.rateLimit(key, 3, 10_000)).toEqual({ allowed: true, remaining: 0, retryAfterMs: 0 });
      const full = await kv.peekRateLimit(key, 3);
      expect([full.allowed, full.remaining]).toEqual([false, 0]);
      expect(full.retryAfterMs).toBeGreaterThan(0);
      expect(full.retryAfterMs).toBeLessThanOrEqual(10_000);
      expect((await kv.rateLimit(key, 3, 10_000)).allowed).toBe(false);
      // A smaller limit read against the same count.
      expect(await kv.peekRateLimit(key, 10)).toEqual({ allowed: true, remaining: 6, retryAfterMs: 0 });
    });

    test("a peeked window still ends on time (peek never extends it)", async () => {
      const key = `peek-${crypto.randomUUID()}`;
      const started = Date.now();
      await kv.rateLimit(key, 1, 150);
      let last = Number.POSITIVE_INFINITY;
      for (;;) {
        const peek = await kv.peekRateLimit(key, 1);
        if (peek.allowed) break;
        expect(peek.retryAfterMs).toBeLessThanOrEqual(last);
        last = peek.retryAfterMs;
        expect(Date.now() - started).toBeLessThan(5_000); // a window each peek extended would never end
        await Bun.sleep(10);
      }
      expect(await kv.peekRateLimit(key, 1)).toEqual({ allowed: true, remaining: 1, retryAfterMs: 0 });
      expect(await kv.rateLimit(key, 1, 10_000)).toEqual({ allowed: true, remaining: 0, retryAfterMs: 0 });
    });

    test("reset forgets the window: fully allowed, and the next hit starts a fresh one", async () => {
      const key = `reset-${crypto.randomUUID()}`;
      for (let i = 0; i < 4; i++) await kv.rateLimit(key, 3, 60_000);
      expect((await kv.peekRateLimit(key, 3)).allowed).toBe(false);
      await kv.resetRateLimit(key);
      expect(await kv.peekRateLimit(key, 3)).toEqual({ allowed: true, remaining: 3, retryAfterMs: 0 });
      expect(await kv.rateLimit(key, 3, 60_000)).toEqual({ allowed: true, remaining: 2, retryAfterMs: 0 });
      await kv.resetRateLimit(`never-${crypto.randomUUID()}`); // forgetting nothing is fine
    });

    test("append keeps a bounded, expiring list, oldest first", async () => {
      expect(await kv.list("log")).toEqual([]);
      for (const n of [1, 2, 3, 4]) expect(await kv.append("log", `e${n}`, 3, 10_000)).toBe(Math.min(n, 3));
      expect(await kv.list("log")).toEqual(["e2", "e3", "e4"]);
      await kv.append("short-log", "x", 3, 50);
      for (
        const deadline = Date.now() + 2_000;
        (await kv.list("short-log")).length > 0;
        await Bun.sleep(10)
      ) {
        if (Date.now() > deadline) throw new Error("list did not expire");
      }
      await expect(kv.append("log", "x", 0, 1000)).rejects.toThrow(RangeError);
      await kv.del("log");
      expect(await kv.list("log")).toEqual([]);
    });

    test("publish reaches every subscriber; unsubscribe stops delivery", async () => {
      const first = inbox();
      const second = inbox();
      const offFirst = await kv.subscribe("ch", first.handler);
      const offSecond = await kv.subscribe("ch", second.handler);
      await kv.publish("ch", "one");
      await until(() => first.messages.length === 1 && second.messages.length === 1);
      await offFirst();
      await offFirst(); // idempotent
      await kv.publish("ch", "two");
      await until(() => second.messages.length === 2);
      expect(first.messages).toEqual(["one"]);
      expect(second.messages).toEqual(["one", "two"]);

      // With no subscriber left, a later message on another channel marks when "three" would have arrived.
      await offSecond();
      const marker = inbox();
      await kv.subscribe("marker", marker.handler);
      await kv.publish("ch", "three");
      await kv.publish("marker", "done");
      await until(() => marker.messages.length === 1);
      expect(second.messages).toEqual(["one", "two"]);
    });

    test("prefixes isolate keys, rate limits and channels", async () => {
      const a = make(`${prefix}a:`);
      const b = make(`${prefix}b:`);
      try {
        await a.set("shared", "from-a", 10_000);
        expect(await b.get("shared")).toBeNull();
        expect((await a.rateLimit("rl", 1, 10_000)).allowed).toBe(true);
        expect((await b.rateLimit("rl", 1, 10_000)).allowed).toBe(true);
        await a.resetRateLimit("rl");
        expect((await a.peekRateLimit("rl", 1)).allowed).toBe(true);
        expect((await b.peekRateLimit("rl", 1)).allowed).toBe(false);
        const heard = inbox();
        await b.subscribe("news", heard.handler);
        await a.publish("news", "from-a");
        // b publishes after a's publish was acknowledged, so a leak would have arrived first.
        await b.publish("news", "from-b");
        await until(() => heard.messages.length >= 1);
        expect(heard.messages).toEqual(["from-b"]);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });

    test("ping answers until close; close is idempotent", async () => {
      const other = make(`${prefix}close:`);
      expect(await other.ping()).toBe(true);
      await other.subscribe("ch", () => {});
      await other.close();
      expect(await other.ping()).toBe(false);
      await other.close();
    });
  });
}

kvSuite("memory kv", (prefix) => createMemoryKv({ prefix }));

const redisUrl = process.env.REDIS_URL;
if (redisUrl) kvSuite("redis kv", (prefix) => createRedisKv(redisUrl, { prefix }));

test("publish reaches this process's subscribers before it resolves (each backend)", async () => {
  const kvs = [
    createMemoryKv(),
    ...(redisUrl ? [createRedisKv(redisUrl, { prefix: `test:kv:${crypto.randomUUID()}:` })] : []),
  ];
  for (const kv of kvs) {
    const heard = inbox();
    await kv.subscribe("now", heard.handler);
    await kv.publish("now", "revoked");
    expect(heard.messages).toEqual(["revoked"]);
    await kv.publish("now", "marker");
    await until(() => heard.messages.length === 2);
    expect(heard.messages).toEqual(["revoked", "marker"]); // the Redis echo of our own message is not delivered twice
    await kv.close();
  }
});

if (redisUrl) {
  test("redis: the calls of one turn (sent together as one pipeline) are applied in the order they were made", async () => {
    const kv = createRedisKv(redisUrl, { prefix: `test:kv:${crypto.randomUUID()}:` });
    try {
      // A write, then reads of it, all made in one turn.
      const [, read, list, gone] = await Promise.all([
        kv.set("seq", "first", 60_000),
        kv.get("seq"),
        kv.append("log", "a", 10, 60_000).then(() => kv.list("log")),
        kv.del("seq").then(() => kv.get("seq")),
      ]);
      expect(read).toBe("first");
      expect(list).toEqual(["a"]);
      expect(gone).toBeNull();
    } finally {
      await kv.close();
    }
  });

  test("redis: a failing command fails alone; the rest of its batch is answered", async () => {
    const prefix = `test:kv:${crypto.randomUUID()}:`;
    const kv = createRedisKv(redisUrl, { prefix });
    const admin = new Redis(redisUrl);
    try {
      await admin.rpush(`${prefix}a-list`, "x");
      // In one turn: GET of a list is a WRONGTYPE error from Redis; the calls around it are answered (the SET
      // first, so the GET after the failing one already reads it).
      const [before, wrong, after, appended] = await Promise.allSettled([
        kv.set("plain", "value", 60_000).then(() => kv.get("plain")),
        kv.get("a-list"),
        kv.get("plain"),
        kv.append("a-list", "y", 5, 60_000),
      ]);
      expect(before).toEqual({ status: "fulfilled", value: "value" });
      expect(wrong.status).toBe("rejected");
      expect(String((wrong as PromiseRejectedResult).reason)).toContain("WRONGTYPE");
      expect(after).toEqual({ status: "fulfilled", value: "value" });
      expect(appended).toEqual({ status: "fulfilled", value: 2 });
      expect(await admin.lrange(`${prefix}a-list`, 0, -1)).toEqual(["x", "y"]);
    } finally {
      await admin.del(`${prefix}a-list`, `${prefix}plain`);
      admin.disconnect();
      await kv.close();
    }
  });

  test("redis: what was asked for before close() is still sent and answered; later calls are refused", async () => {
    const prefix = `test:kv:${crypto.randomUUID()}:`;
    const kv = createRedisKv(redisUrl, { prefix });
    const admin = new Redis(redisUrl);
    try {
      await kv.get("warm");
      const written = kv.set("last", "words", 60_000);
      await kv.close();
      await written;
      expect(await admin.get(`${prefix}last`)).toBe("words");
      await expect(kv.get("last")).rejects.toThrow("kv is closed");
    } finally {
      await admin.del(`${prefix}last`);
      admin.disconnect();
    }
  });
}

if (redisUrl) {
  test("redis: another process (another connection) hears a publish exactly once", async () => {
    const prefix = `test:kv:${crypto.randomUUID()}:`;
    const [a, b] = [createRedisKv(redisUrl, { prefix }), createRedisKv(redisUrl, { prefix })];
    const heard = inbox();
    await b.subscribe("ch", heard.handler);
    await a.publish("ch", "one");
    await a.publish("ch", "two");
    await until(() => heard.messages.length >= 2);
    expect(heard.messages).toEqual(["one", "two"]);
    await Promise.all([a.close(), b.close()]);
  });
}

if (redisUrl) {
  test("redis: the limiter survives SCRIPT FLUSH (its Lua is re-sent transparently)", async () => {
    const prefix = `test:kv:${crypto.randomUUID()}:`;
    const kv = createRedisKv(redisUrl, { prefix });
    const admin = new Redis(redisUrl);
    try {
      expect(await kv.rateLimit("rl", 10, 60_000)).toMatchObject({ allowed: true, remaining: 9 });
      expect(await kv.peekRateLimit("rl", 10)).toMatchObject({ allowed: true, remaining: 9 });
      expect(await admin.script("FLUSH")).toBe("OK");
      expect(await kv.rateLimit("rl", 10, 60_000)).toEqual({ allowed: true, remaining: 8, retryAfterMs: 0 });
      expect(await kv.peekRateLimit("rl", 10)).toEqual({ allowed: true, remaining: 8, retryAfterMs: 0 });
      // Again, with hits in flight together when the cache is cold.
      expect(await admin.script("FLUSH")).toBe("OK");
      const burst = await Promise.all(Array.from({ length: 5 }, () => kv.rateLimit("rl", 10, 60_000)));
      expect(burst.map((r) => r.remaining).sort((a, b) => a - b)).toEqual([3, 4, 5, 6, 7]);
      expect(await kv.rateLimit("rl", 10, 60_000)).toEqual({ allowed: true, remaining: 2, retryAfterMs: 0 });
      // Still the window the first hit opened: the count carried on and the expiry was never reset.
      expect(await admin.get(`${prefix}rl`)).toBe("8");
      const ttl = await admin.pttl(`${prefix}rl`);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(60_000);
    } finally {
      admin.disconnect();
      await kv.close();
    }
  });
}

test("redis connection errors reach onError, once per connection, never stderr; close is bounded", async () => {
  const consoleError = spyOn(console, "error");
  const stderrWrite = spyOn(process.stderr, "write");
  const errors: unknown[] = [];
  // Nothing listens on port 1: every connect attempt of both connections fails.
  const kv = createRedisKv("redis://127.0.0.1:1", {
    prefix: `test:kv:${crypto.randomUUID()}:`,
    onError: (error) => void errors.push(error),
  });
  try {
    // Each operation is refused only after several failed reconnects, so both connections errored
    // repeatedly by the time they settle.
    const settled = Promise.allSettled([
      kv.get("x"),
      kv.rateLimit("x", 1, 1_000),
      kv.subscribe("ch", () => {}),
    ]);
    await until(() => errors.length > 0);
    expect(errors[0]).toBeInstanceOf(Error);
    expect((await settled).map((r) => r.status)).toEqual(["rejected", "rejected", "rejected"]);
    expect(errors).toHaveLength(2); // the main connection and the subscriber one, each throttled
    expect(errors.every((error) => error instanceof Error)).toBe(true);
    const printed = [...consoleError.mock.calls, ...stderrWrite.mock.calls].map((args) => args.join(" "));
    expect(printed.filter((text) => text.includes("ioredis"))).toEqual([]);

    // Closing does not wait for Redis, and fails what is still queued instead of leaving it hanging.
    const late = kv.get("late").catch((error: unknown) => error);
    const started = Date.now();
    await kv.close();
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(await late).toBeInstanceOf(Error);
    await expect(kv.get("after")).rejects.toThrow("kv is closed");
  } finally {
    consoleError.mockRestore();
    stderrWrite.mockRestore();
    await kv.close();
  }
});

test("createKv picks Redis only when REDIS_URL is set", async () => {
  const kvs = [createKv({}), ...(redisUrl ? [createKv({ REDIS_URL: redisUrl })] : [])];
  expect(kvs.map((kv) => kv.kind)).toEqual(redisUrl ? ["memory", "redis"] : ["memory"]);
  await Promise.all(kvs.map((kv) => kv.close()));
});

test("memory delivery is asynchronous, like Redis", async () => {
  const kv = createMemoryKv();
  const heard = inbox();
  await kv.subscribe("ch", heard.handler);
  const sent = kv.publish("ch", "x");
  expect(heard.messages).toEqual([]);
  await Promise.all([sent, until(() => heard.messages.length === 1)]);
  await kv.close();
});

test("an outage ends only once the kv hears again: not while the subscriber re-subscribes, not before channels subscribed meanwhile are live", async () => {
  // A Redis kv whose reachability and subscriber connection the test sets (a memory kv underneath).
  const shared = createMemoryKv();
  const state = { up: false, listening: false };
  const refused = () => Promise.reject(new Error("connect ECONNREFUSED"));
  const inner: Kv = {
    ...shared,
    kind: "redis",
    get: (key) => (state.up ? shared.get(key) : refused()),
    subscribe: (channel, onMessage) => (state.up ? shared.subscribe(channel, onMessage) : refused()),
    ping: async () => state.up,
    listening: () => state.listening,
    close: async () => {},
  };
  const kv = createResilientKv(inner, { probeEveryMs: 60_000 });
  expect(await kv.get("k")).toBeNull();
  expect(kv.degraded?.()).toBe(true);
  const heard = inbox();
  await kv.subscribe("during", heard.handler);

  state.up = true;
  // Redis answers, but the subscriber connection has not re-subscribed yet: still degraded.
  expect(await kv.ping()).toBe(true);
  expect(kv.degraded?.()).toBe(true);
  state.listening = true;
  expect(await kv.ping()).toBe(true);
  expect(kv.degraded?.()).toBe(false);
  // The channel subscribed during the outage was taken to Redis before the outage was declared over.
  await shared.publish("during", "first after the outage");
  await until(() => heard.messages.length === 1);
  expect(heard.messages).toEqual(["first after the outage"]);
  await kv.close();
  await shared.close();
});

test("an outage does not end on a ping slower than a call's deadline: the calls after it would miss theirs again", async () => {
  // A Redis that accepts calls but answers them (and pings) late: a host short of CPU, Redis starved of it.
  const shared = createMemoryKv();
  const state = { pingMs: 200, answering: false };
  const inner: Kv = {
    ...shared,
    kind: "redis",
    connected: () => true,
    get: (key) => (state.answering ? shared.get(key) : new Promise(() => {})),
    ping: () => Bun.sleep(state.pingMs).then(() => true),
    close: async () => {},
  };
  const changes: boolean[] = [];
  const kv = createResilientKv(inner, {
    timeoutMs: 40,
    probeEveryMs: 60_000,
    onStateChange: (degraded) => void changes.push(degraded),
  });
  await shared.set("k", "in redis", 60_000);
  // Three calls in a row miss their deadline: answered by the fallback, and the kv counts Redis as down.
  expect(await Promise.all([kv.get("k"), kv.get("k"), kv.get("k")])).toEqual([null, null, null]);
  expect(kv.degraded?.()).toBe(true);
  state.answering = true;
  // Redis answers the ping, 200 ms later: still degraded (the ping says up, the kv does not switch back).
  expect(await kv.ping()).toBe(true);
  expect(kv.degraded?.()).toBe(true);
  expect(await kv.get("k")).toBeNull();
  // A ping answered in time ends the outage; calls reach Redis again.
  state.pingMs = 0;
  expect(await kv.ping()).toBe(true);
  expect(kv.degraded?.()).toBe(false);
  expect(await kv.get("k")).toBe("in redis");
  expect(changes).toEqual([true, false]);
  await Promise.all([kv.close(), shared.close()]);
});

test("a recovery ping held up by this process's own stall still counts as in time", async () => {
  const shared = createMemoryKv();
  const state = { up: false };
  const inner: Kv = {
    ...shared,
    kind: "redis",
    get: (key) => (state.up ? shared.get(key) : Promise.reject(new Error("connect ECONNREFUSED"))),
    // Redis answers at once: the reply is read in the loop's next turn.
    ping: () => new Promise((resolve) => setTimeout(() => resolve(state.up), 0)),
    close: async () => {},
  };
  const kv = createResilientKv(inner, { timeoutMs: 40, probeEveryMs: 60_000 });
  expect(await kv.get("k")).toBeNull();
  expect(kv.degraded?.()).toBe(true);
  state.up = true;
  const pinged = kv.ping();
  // This process is held up (a long GC, a busy handler) well past the deadline while the answer waits unread.
  for (const start = performance.now(); performance.now() - start < 200; );
  expect(await pinged).toBe(true);
  expect(kv.degraded?.()).toBe(false);
  await Promise.all([kv.close(), shared.close()]);
});

test("a stall of this process's event loop is not taken for a slow Redis: answers that arrived meanwhile are read, not replaced by the fallback's", async () => {
  // A Redis kv whose `get` is a round trip over a real socket (a server in this process answering at once),
  // so its answer, like Redis's, reaches the caller only through the event loop's I/O.
  const stored = new Map([["k", "from redis"]]);
  const server = Bun.listen<undefined>({
    hostname: "127.0.0.1",
    port: 0,
    socket: { data: (socket, data) => void socket.write(stored.get(data.toString()) ?? "") },
  });
  const waiting: ((value: string) => void)[] = [];
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port: server.port,
    socket: { data: (_, data) => waiting.shift()?.(data.toString()) },
  });
  const shared = createMemoryKv();
  const inner: Kv = {
    ...shared,
    kind: "redis",
    connected: () => true,
    get: (key) =>
      new Promise((resolve) => {
        waiting.push(resolve);
        socket.write(key);
      }),
    close: async () => {},
  };
  // The default deadline: a stall's last turn and the round trip after it fit on a loaded host.
  const kv = createResilientKv(inner, { timeoutMs: 100, probeEveryMs: 60_000 });
  expect(await kv.get("k")).toBe("from redis");
  for (const stallMs of [250, 600]) {
    const answer = kv.get("k");
    // Held up well past the deadline (a long GC, a busy handler) while the answer is on its way.
    for (const start = performance.now(); performance.now() - start < stallMs; );
    expect(await answer).toBe("from redis");
  }
  expect(kv.degraded?.()).toBe(false);
  // A call that really goes unanswered is still given up on (answered by the fallback) after its deadline.
  const hung: Kv = { ...inner, get: () => new Promise(() => {}) };
  const slow = createResilientKv(hung, { timeoutMs: 40, probeEveryMs: 60_000 });
  const started = performance.now();
  expect(await slow.get("k")).toBeNull();
  expect(performance.now() - started).toBeGreaterThanOrEqual(40);
  await Promise.all([kv.close(), slow.close(), shared.close()]);
  socket.end();
  server.stop(true);
});

test("during an outage a chained hit is still charged (per process), but reads nothing: the caller goes without its cache", async () => {
  const shared = createMemoryKv();
  const up = { now: true };
  const refused = () => Promise.reject(new Error("connect ECONNREFUSED"));
  const inner: Kv = {
    ...shared,
    kind: "redis",
    rateLimitChain: (buckets, cost, then) =>
      up.now ? shared.rateLimitChain(buckets, cost, then) : refused(),
    ping: async () => up.now,
    close: async () => {},
  };
  const kv = createResilientKv(inner, { probeEveryMs: 60_000 });
  await shared.set("gen", "g1", 60_000);
  await shared.set("e:g1:t", "cached", 60_000);
  const chain = [{ key: "rl", limit: 1, windowMs: 60_000 }];
  const read = { pointerKey: "gen", fallback: "0", before: "e:", after: ":t" };
  expect(await kv.rateLimitChain(chain, 1, read)).toEqual({
    refused: -1,
    retryAfterMs: 0,
    read: { pointer: "g1", value: "cached" },
  });
  up.now = false;
  // The hit that finds Redis gone, and one made while degraded: the fallback's own budgets, and no read.
  for (const _ of [1, 2]) {
    const answer = await kv.rateLimitChain([{ key: "other", limit: 5, windowMs: 60_000 }], 1, read);
    expect(answer).toEqual({ refused: -1, retryAfterMs: 0 });
  }
  expect(kv.degraded?.()).toBe(true);
  await Promise.all([kv.close(), shared.close()]);
});
