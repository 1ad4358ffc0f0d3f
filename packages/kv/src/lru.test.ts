import { expect, test } from "bun:test";
import { lru } from "./lru.ts";

test("lru holds at most `max` entries and evicts the least recently used first", () => {
  const cache = lru<string, number>(3);
  for (const [i, key] of ["a", "b", "c"].entries()) cache.set(key, i);
  expect(cache.get("a")).toBe(0);
  cache.set("d", 3);
  // "b" was the least recently used ("a" was just read).
  expect([...cache.keys()].sort()).toEqual(["a", "c", "d"]);
  for (let i = 0; i < 1000; i++) cache.set(`k${i}`, i);
  expect(cache.size).toBe(3);
  expect([...cache.keys()].sort()).toEqual(["k997", "k998", "k999"]);
});

test("lru entries expire after their TTL (the cache's, or one given to set)", async () => {
  const cache = lru<string, number>(10, { ttl: 30 });
  cache.set("default", 1);
  cache.set("longer", 2, { ttl: 60_000 });
  await Bun.sleep(60);
  expect(cache.get("default")).toBeUndefined();
  expect(cache.get("longer")).toBe(2);
});

test("lru storage grows with its entries rather than being allocated for `max` up front", () => {
  // lru-cache sizes its index arrays to `max` when given one; bounded by `maxSize` they start empty.
  const cache = lru<string, number>(1_000_000);
  expect(cache.max).toBe(0);
  expect(cache.maxSize).toBe(1_000_000);
  cache.set("a", 1);
  expect(cache.calculatedSize).toBe(1);
});
