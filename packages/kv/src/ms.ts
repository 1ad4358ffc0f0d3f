/**
 * Both backends take whole positive milliseconds: Redis rejects `PX 0` and fractional PEXPIRE, and
 * lru-cache reads a TTL of 0 as "never expires", so a zero or NaN TTL is a caller bug, not a default.
 */
export function positiveMs(ms: number, name: string): number {
  if (!Number.isFinite(ms) || ms <= 0) throw new RangeError(`${name} must be a positive number, got ${ms}`);
  return Math.ceil(ms);
}

/** A rate-limit cost is a whole number of units, at least 1. */
export function positiveCost(cost: number): number {
  if (!Number.isInteger(cost) || cost < 1)
    throw new RangeError(`cost must be a whole number ≥ 1, got ${cost}`);
  return cost;
}

/** A whole count of at least 1 (a list's length bound). */
export function positiveCount(n: number, name: string): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${name} must be a whole number ≥ 1, got ${n}`);
  return n;
}
