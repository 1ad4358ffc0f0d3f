// The "RSS flat over a 60 s run": once the scenarios are done, the edge that served them takes
// BENCH_SOAK_MS (60 000) ms of one load, uncached 2026-07-28 `tools/call`s at the run's connections, without a
// pause, while its VmRSS is read every second. Flat: the highest reading of the run's last third within 10 %
// of the highest of its first third, both under the same load (the scenario rounds' readings, taken after
// different scenarios, also move with what each scenario allocates). The least-squares slope of the last two
// thirds is reported beside it.
import { memoryOf } from "./children.ts";
import { load, type Round } from "./load.ts";
import type { Ratio } from "./report.ts";
import type { Scenario } from "./scenarios.ts";

/** How long the soak runs (0 skips it). */
export const SOAK_MS = Number(process.env.BENCH_SOAK_MS ?? 60_000);
const SAMPLE_EVERY_MS = 1000;
/** The highest RSS of the last third over the highest of the first third may be at most this. */
export const FLAT_RATIO = 1.1;

export interface SoakResult {
  scenario: string;
  era: string;
  durationMs: number;
  /** The process under load: the edge alone (shared backends) or the stack child (embedded). */
  holder: string;
  /** VmRSS (MB) once a second, from the start of the load. */
  rssMb: number[];
  /** Highest reading of the first and of the last third, and their ratio. */
  firstThirdMaxMb: number;
  lastThirdMaxMb: number;
  ratio: number;
  /** Least-squares slope of the last two thirds of the readings, MB per minute. */
  slopeMbPerMin: number;
  round: Round;
}

/** Runs `scenario` on the process `pid` for SOAK_MS, reading its RSS every second. */
export async function soak(scenario: Scenario, pid: number, holder: string, connections: number) {
  const rssMb: number[] = [];
  const sampler = setInterval(() => {
    try {
      rssMb.push(memoryOf(pid).rssMb);
    } catch {
      // The process is gone: the round's errors will say so.
    }
  }, SAMPLE_EVERY_MS);
  let round: Round;
  try {
    round = await load(scenario, connections, SOAK_MS);
  } finally {
    clearInterval(sampler);
  }
  return {
    scenario: scenario.scenario,
    era: scenario.era,
    durationMs: SOAK_MS,
    holder,
    rssMb,
    ...rssTrend(rssMb),
    round,
  } satisfies SoakResult;
}

/**
 * Readings taken once a second: the highest of the first and of the last third, their ratio, and the slope of
 * the last two thirds (the first holds the climb from the resident set the process had shrunk to while idle
 * back to what the load keeps in use).
 */
export function rssTrend(rssMb: number[]) {
  if (rssMb.length === 0) throw new Error("no RSS reading was taken");
  const third = Math.max(1, Math.floor(rssMb.length / 3));
  const firstThirdMaxMb = Math.max(...rssMb.slice(0, third));
  const lastThirdMaxMb = Math.max(...rssMb.slice(-third));
  return {
    firstThirdMaxMb,
    lastThirdMaxMb,
    ratio: round2(lastThirdMaxMb / firstThirdMaxMb),
    slopeMbPerMin: round2(slope(rssMb.slice(third)) * (60_000 / SAMPLE_EVERY_MS)),
  };
}

/** Least-squares slope of `ys` against their index (per sample). */
function slope(ys: number[]): number {
  const n = ys.length;
  if (n < 2) return 0;
  const meanX = (n - 1) / 2;
  const meanY = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (i - meanX) * ((ys[i] ?? meanY) - meanY);
    den += (i - meanX) ** 2;
  }
  return num / den;
}

const round2 = (n: number) => Math.round(n * 100) / 100;

/**
 * The soak's checks. Embedded, the process under load also holds the database (PGlite, in memory), which
 * grows by every audit event written: its RSS is reported, not held to the target (the targets are
 * stated for PostgreSQL + Redis).
 */
export function soakChecks(result: SoakResult | { error: string }, embedded: boolean): Ratio[] {
  if ("error" in result) {
    return [
      {
        measure: `edge RSS over a soak: step failed (${result.error})`,
        value: 0,
        target: "flat",
        met: false,
      },
    ];
  }
  const seconds = Math.round(result.durationMs / 1000);
  const { firstThirdMaxMb, lastThirdMaxMb, ratio, slopeMbPerMin, round } = result;
  return [
    {
      measure:
        `edge RSS over a ${seconds} s run of ${result.scenario} ${result.era} (${round.rps} req/s): highest of the ` +
        `last third / of the first (${firstThirdMaxMb} → ${lastThirdMaxMb} MB, slope ${slopeMbPerMin} MB/min; ${result.holder})`,
      value: ratio,
      target: embedded ? "(reported: embedded, the database is in the process)" : `flat (≤ ${FLAT_RATIO})`,
      met: embedded ? "n/a" : ratio <= FLAT_RATIO,
    },
    {
      measure: `requests answered with an error during the ${seconds} s run`,
      value: round.errors,
      target: "0",
      met: round.errors === 0,
    },
  ];
}
