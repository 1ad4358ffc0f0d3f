// Both official suites through the whole platform, exactly as `bun run conformance --target proxied`: the
// conformance upstream (./upstream.ts) behind a custom instance of a fresh user on an in-process stack
// (test/harness.ts: embedded backends, or DATABASE_URL / REDIS_URL when set). The yardstick is the upstream
// alone (direct.test.ts, ./expected.ts); the relay must score exactly that, check by check, except the
// checks in PROXIED_KNOWN_GAPS — and each of those must still fail, so the list only ever shrinks: when a
// gap is closed this test fails until its entry is removed.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { compareWithYardstick, EXPECTED_CHECKS } from "./expected.ts";
import { type ProxiedTarget, runSuite, type SuiteId, type SuiteResult, startProxiedTarget } from "./run.ts";

export interface KnownGap {
  suite: SuiteId;
  /** `scenario:check id`, as in EXPECTED_CHECKS, or a check only a failing run emits. */
  check: string;
  /** How many occurrences of the id fail, for an id a scenario emits several times (default 1). */
  times?: number;
  reason: string;
}

/**
 * Checks the proxied instance is allowed to score differently from the upstream alone. Empty: through a
 * custom instance both suites score exactly what the upstream scores alone, check by check.
 */
export const PROXIED_KNOWN_GAPS: readonly KnownGap[] = [];

/** A normal run of each suite takes about a second; a hung one is killed well inside the file's budget. */
const SUITE_TIMEOUT_MS = 20_000;

let target: ProxiedTarget | undefined;
const aborted = new AbortController();
/** Suite runs in flight: afterAll aborts them and waits until their CLI is gone and their files removed. */
const running = new Set<Promise<unknown>>();

beforeAll(
  async () => {
    target = await startProxiedTarget();
  },
  { timeout: 20_000 },
);
afterAll(
  async () => {
    aborted.abort(new Error("the test file is over"));
    await Promise.allSettled([...running]);
    await target?.stop();
  },
  { timeout: 20_000 },
);

async function run(suite: SuiteId): Promise<SuiteResult> {
  if (!target) throw new Error("the proxied target did not start");
  const pending = runSuite(suite, target.url, { timeoutMs: SUITE_TIMEOUT_MS, signal: aborted.signal });
  running.add(pending);
  try {
    return await pending;
  } finally {
    running.delete(pending);
  }
}

/** Adds `n` to a key's count. */
const bump = (counts: Map<string, number>, key: string, n = 1) => counts.set(key, (counts.get(key) ?? 0) + n);

/** What is in `a` beyond `b`, as multisets: one key per surplus occurrence. */
function surplus(a: Map<string, number>, b: Map<string, number>): string[] {
  return [...a].flatMap(([key, n]) => Array.from({ length: Math.max(0, n - (b.get(key) ?? 0)) }, () => key));
}

function gapsOf(suite: SuiteId): Map<string, number> {
  const counts = new Map<string, number>();
  for (const gap of PROXIED_KNOWN_GAPS) if (gap.suite === suite) bump(counts, gap.check, gap.times ?? 1);
  return counts;
}

/**
 * Every check whose result differs from the yardstick's, one key per occurrence: an expected check that
 * did not pass (failed, warned, was skipped or never ran), and any check the yardstick does not run.
 */
function deviations(result: SuiteResult): Map<string, number> {
  const vs = compareWithYardstick(result);
  const counts = new Map<string, number>();
  for (const key of vs.missing) bump(counts, key);
  // `extra` entries are `scenario:id STATUS`.
  for (const entry of vs.extra) bump(counts, entry.slice(0, entry.lastIndexOf(" ")));
  return counts;
}

/** How the run reported a key: each non-passing occurrence's status and message, or that it never ran. */
function reported(result: SuiteResult, key: string): string {
  const seen = result.checks.filter((c) => `${c.scenario}:${c.id}` === key && c.status !== "SUCCESS");
  if (seen.length === 0) return "not reported";
  return seen
    .map(
      (c) => `${c.status}${c.errorMessage ? ` (${c.errorMessage.replace(/\s+/g, " ").slice(0, 200)})` : ""}`,
    )
    .join("; ");
}

describe("known gaps list", () => {
  test("names each check once, with a one-line reason, in a scenario of its suite", () => {
    const seen = new Set<string>();
    for (const gap of PROXIED_KNOWN_GAPS) {
      const [scenario] = gap.check.split(":");
      expect({ gap, duplicate: seen.has(`${gap.suite} ${gap.check}`) }).toEqual({ gap, duplicate: false });
      seen.add(`${gap.suite} ${gap.check}`);
      expect(Object.keys(EXPECTED_CHECKS[gap.suite])).toContain(scenario ?? "");
      expect(gap.reason).toMatch(/^[^\n]+$/);
      // An id the yardstick runs n times in the scenario can fail at most n times.
      const runs = EXPECTED_CHECKS[gap.suite][scenario ?? ""]?.filter(
        (id) => `${scenario}:${id}` === gap.check,
      );
      expect(gap.times ?? 1).toBeGreaterThanOrEqual(1);
      if (runs?.length) expect(gap.times ?? 1).toBeLessThanOrEqual(runs.length);
    }
  });
});

describe("conformance through a custom instance (the whole stack)", () => {
  for (const suite of ["2025", "2026"] as const) {
    test(
      `the ${suite} suite scores the direct yardstick check by check, known gaps aside`,
      async () => {
        const result = await run(suite);
        expect(result.checks.length).toBeGreaterThan(0);
        const found = deviations(result);
        const known = gapsOf(suite);
        // (a) Every check not in the list scores what it scores against the upstream alone, and
        // (b) every check in the list still fails: a closed gap must leave the list.
        const unexpected = surplus(found, known).map((key) => `${key}: ${reported(result, key)}`);
        const closed = surplus(known, found).map(
          (key) => `${key} matches the yardstick now: remove it from PROXIED_KNOWN_GAPS (or lower its times)`,
        );
        expect({ unexpected, closed }).toEqual({ unexpected: [], closed: [] });
      },
      { timeout: SUITE_TIMEOUT_MS + 10_000 },
    );
  }
});
