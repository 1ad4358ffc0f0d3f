import { describe, expect, test } from "bun:test";
import type { Round } from "./load.ts";
import { UNCACHED } from "./scenarios.ts";
import { rssTrend, type SoakResult, soakChecks } from "./soak.ts";

const round = (errors: number): Round => ({
  requests: 1000,
  seconds: 60,
  rps: 17,
  p50Ms: 1,
  p99Ms: 2,
  errors,
  statuses: { 200: 1000 - errors },
  samples: [],
});
const result = (rssMb: number[], errors = 0): SoakResult => ({
  scenario: UNCACHED,
  era: "2026-07-28",
  durationMs: 60_000,
  holder: "the edge alone",
  rssMb,
  ...rssTrend(rssMb),
  round: round(errors),
});

describe("bench soak: RSS over one long load", () => {
  test("a resident set that climbs back to its working set, then holds, is flat and its slope is near 0", () => {
    // Climbs from what the process shrank to while idle, then holds with the garbage collector's ups and downs.
    const rss = [200, 230, 250, ...Array.from({ length: 57 }, (_, i) => 260 + ((i * 7) % 5) - 2)];
    const trend = rssTrend(rss);
    expect(trend).toMatchObject({ firstThirdMaxMb: 262, lastThirdMaxMb: 262, ratio: 1 });
    // The climb is left out of the slope (the last 40 readings only): what is left is noise.
    expect(Math.abs(trend.slopeMbPerMin)).toBeLessThan(2);
    const [flat, errors] = soakChecks(result(rss), false);
    expect(flat).toMatchObject({ value: 1, target: "flat (≤ 1.1)", met: true });
    expect(errors).toMatchObject({ value: 0, met: true });
  });

  test("a resident set that keeps climbing is not flat, whatever its first readings", () => {
    const rss = Array.from({ length: 60 }, (_, i) => 200 + i);
    const trend = rssTrend(rss);
    expect(trend.firstThirdMaxMb).toBe(219);
    expect(trend.lastThirdMaxMb).toBe(259);
    expect(trend.ratio).toBe(1.18);
    // One MB a second.
    expect(trend.slopeMbPerMin).toBe(60);
    expect(soakChecks(result(rss), false)[0]).toMatchObject({ met: false });
  });

  test("errors during the soak fail it; embedded, the RSS is reported, not judged", () => {
    const rss = Array.from({ length: 60 }, (_, i) => 200 + i);
    const [flat, errors] = soakChecks(result(rss, 3), true);
    expect(flat?.met).toBe("n/a");
    expect(errors).toMatchObject({ value: 3, target: "0", met: false });
    expect(soakChecks({ error: "edge exited" }, false)).toEqual([
      expect.objectContaining({ met: false, measure: expect.stringContaining("edge exited") }),
    ]);
  });

  test("no reading at all is an error, not a flat line", () => {
    expect(() => rssTrend([])).toThrow("no RSS reading");
  });
});
