import { LRUCache } from "lru-cache";

const one = () => 1;

/**
 * An LRU cache of at most `max` entries whose memory grows with what it holds. Given `max`, lru-cache allocates
 * its arrays for `max` entries up front (about 28 bytes an entry, 44 with a TTL), so the caches a process keeps
 * bounded for the worst case (50,000 instances, 100,000 unknown tokens, 10,000 breakers per service...) held
 * tens of MB of an idle edge's resident set before their first entry. Bounded through `maxSize` instead, every
 * entry counting 1: the same least-recently-used eviction at the same count, storage grown as entries come
 * (200,000 sets and gets took the same time either way).
 */
export function lru<K extends {}, V extends {}>(
  max: number,
  opts: Pick<LRUCache.Options<K, V, unknown>, "ttl" | "ttlAutopurge" | "updateAgeOnGet" | "dispose"> = {},
): LRUCache<K, V> {
  return new LRUCache<K, V>({ ...opts, maxSize: max, sizeCalculation: one });
}
