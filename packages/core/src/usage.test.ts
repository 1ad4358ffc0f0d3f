import { describe, expect, test } from "bun:test";
import { bucketValue, LATENCY_BUCKETS, latencyBucket, percentile, rollUp } from "./usage.ts";

describe("latency histogram", () => {
  test("buckets: under 1 ms, then four per doubling, the last one open-ended", () => {
    expect(latencyBucket(0)).toBe(0);
    expect(latencyBucket(0.9)).toBe(0);
    expect(latencyBucket(Number.NaN)).toBe(0);
    expect(latencyBucket(1)).toBe(1);
    expect(latencyBucket(2)).toBe(5);
    expect(latencyBucket(1024)).toBe(41);
    expect(latencyBucket(1023)).toBe(40);
    expect(latencyBucket(3_600_000)).toBe(LATENCY_BUCKETS - 1);
  });

  test("a bucket's value is within 9.1 % of every latency it holds", () => {
    for (let ms = 1; ms < 180_000; ms = Math.ceil(ms * 1.01)) {
      const value = bucketValue(latencyBucket(ms));
      expect(Math.abs(value - ms) / ms).toBeLessThan(0.0906);
    }
  });

  test("percentiles walk the merged counts", () => {
    const buckets = new Array<number>(LATENCY_BUCKETS).fill(0);
    expect(percentile(buckets, 0.5)).toBeNull();
    for (const ms of [10, 10, 10, 10, 10, 10, 10, 10, 10, 500]) {
      const b = latencyBucket(ms);
      buckets[b] = (buckets[b] ?? 0) + 1;
    }
    expect(percentile(buckets, 0.5)).toBe(bucketValue(latencyBucket(10)));
    expect(percentile(buckets, 0.9)).toBe(bucketValue(latencyBucket(10)));
    expect(percentile(buckets, 0.95)).toBe(bucketValue(latencyBucket(500)));
  });
});

describe("rollUp", () => {
  const call = (iso: string, tool: string, status = "ok", latencyMs = 5, upstreamMs?: number) => ({
    userId: "usr_a",
    instanceId: "ins_a",
    serviceType: "figma",
    tool,
    status,
    latencyMs,
    upstreamMs,
    createdAt: new Date(iso),
  });

  test("folds calls into hour and UTC-day rows with calls, errors by code, histogram and upstream time", () => {
    const rows = rollUp([
      call("2026-03-01T10:05:00Z", "get_me", "ok", 5, 4),
      call("2026-03-01T10:55:00Z", "get_me", "UPSTREAM_ERROR", 40, 38),
      call("2026-03-01T11:00:00Z", "get_me", "UPSTREAM_ERROR", 7),
      call("2026-03-01T23:59:59Z", "get_file"),
    ]);
    const find = (period: string, start: string, tool: string) =>
      rows.find((r) => r.period === period && r.period_start === start && r.tool === tool);
    expect(find("hour", "2026-03-01T10:00:00.000Z", "get_me")).toMatchObject({
      calls: 2,
      errors: { UPSTREAM_ERROR: 1 },
      upstream_calls: 2,
      upstream_ms_sum: 42,
    });
    expect(find("hour", "2026-03-01T11:00:00.000Z", "get_me")).toMatchObject({ calls: 1, upstream_calls: 0 });
    const day = find("day", "2026-03-01T00:00:00.000Z", "get_me");
    expect(day).toMatchObject({ calls: 3, errors: { UPSTREAM_ERROR: 2 }, upstream_ms_sum: 42 });
    expect(day?.latency_buckets.reduce((a, b) => a + b, 0)).toBe(3);
    expect(day?.latency_buckets[latencyBucket(40)]).toBe(1);
    expect(rows).toHaveLength(5);
    // Sorted by key, so concurrent writers lock rows in one order.
    expect(rows.map((r) => `${r.period}/${r.period_start}/${r.tool}`)).toEqual(
      [...rows.map((r) => `${r.period}/${r.period_start}/${r.tool}`)].sort(),
    );
  });
});
