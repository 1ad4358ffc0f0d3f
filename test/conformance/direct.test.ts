// The yardstick itself: the conformance upstream (./upstream.ts), alone, scores full marks on both
// official suites — every check below reports SUCCESS, none fails, warns or is skipped (the 2026 suite's
// one INFO check, `server-sse-streams-functional`, is informational). The suites' CLI runs under Bun
// (see ./run.ts); the whole file takes about 6 s here, so it always runs.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { compareWithYardstick, EXPECTED_CHECKS, INFORMATIONAL } from "./expected.ts";
import { type CheckResult, runSuite } from "./run.ts";
import { type ConformanceUpstream, startConformanceUpstream } from "./upstream.ts";

let upstream: ConformanceUpstream;
beforeAll(async () => {
  upstream = await startConformanceUpstream();
});
afterAll(async () => {
  await upstream?.stop();
});

const describeCheck = (c: CheckResult) =>
  `${c.scenario}:${c.id} ${c.status}${c.errorMessage ? ` — ${c.errorMessage}` : ""}`;

describe("conformance upstream, direct", () => {
  for (const suite of ["2025", "2026"] as const) {
    test(
      `full marks on the ${suite} suite`,
      async () => {
        const result = await runSuite(suite, upstream.url);
        const notPassing = result.checks.filter(
          (c) =>
            c.status !== "SUCCESS" && !(c.status === "INFO" && INFORMATIONAL.has(`${c.scenario}:${c.id}`)),
        );
        expect(notPassing.map(describeCheck)).toEqual([]);
        const passed: Record<string, string[]> = {};
        for (const c of result.checks) {
          if (c.status === "SUCCESS") passed[c.scenario] = [...(passed[c.scenario] ?? []), c.id];
        }
        expect(passed).toEqual(EXPECTED_CHECKS[suite]);
        const total = Object.values(EXPECTED_CHECKS[suite]).reduce((n, ids) => n + ids.length, 0);
        expect(result.passed).toBe(total);
        expect(compareWithYardstick(result)).toEqual({ matched: total, total, missing: [], extra: [] });
        expect(result.failed).toBe(0);
        expect(result.exitCode).toBe(0);
      },
      { timeout: 120_000 },
    );
  }
});
