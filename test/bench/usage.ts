// `bun run bench:usage`: how fast usage.summary answers over a month of heavy traffic.
//
// Seeds, in a schema of its own (dropped at the end), the usage roll-ups the audit writer would have made for
// a month of tool calls — one user, INSTANCES instances (one per service type) × 8 tools × 720 hours, hour
// rows and day rows, written with the writer's own upsert — then times `summarizeUsage` for each groupBy
// (median of RUNS runs after a warm-up) over the whole month in whole days, and over the month with ragged
// ends (hour rows for the first and last partial days). PostgreSQL when DATABASE_URL is set (10 million
// calls); otherwise embedded PGlite with a smaller seed (1 million calls over 5 instances).
import { readdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import {
  LATENCY_BUCKETS,
  latencyBucket,
  type RollupRow,
  summarizeUsage,
  type UsageGroupBy,
  upsertRollups,
} from "@mcp/core";
import { createDatabase, type Database } from "@mcp/db";
import { sql } from "drizzle-orm";

const DATABASE_URL = process.env.DATABASE_URL;
const TOTAL_CALLS = DATABASE_URL ? 10_000_000 : 1_000_000;
const INSTANCES = DATABASE_URL ? 20 : 5;
const TOOLS = 8;
const DAYS = 30;
const HOURS = DAYS * 24;
const RUNS = 7;
const CHUNK = 2_000;
const USER = "usr_bench_usage";
const ORG = "org_bench_usage";
const START = Date.UTC(2026, 0, 1);
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const SCHEMA = `bench_usage_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;

/** Deterministic pseudo-random numbers (mulberry32): the same seed every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The share of a log-normal latency (median `median` ms, shape `sigma`) falling in each histogram bucket. */
function bucketShares(median: number, sigma: number): number[] {
  const shares = new Array<number>(LATENCY_BUCKETS).fill(0);
  // Sampled finely on the quantile scale: each sample is one 1/4000 of the calls.
  const samples = 4000;
  for (let i = 0; i < samples; i++) {
    const u = (i + 0.5) / samples;
    // The normal quantile, by its logistic approximation (close enough for a synthetic load).
    const z = Math.log(u / (1 - u)) / 1.702;
    const b = latencyBucket(Math.round(median * Math.exp(sigma * z)));
    shares[b] = (shares[b] ?? 0) + 1 / samples;
  }
  return shares;
}

/** Splits `n` calls over `shares` (largest remainders), so every row's buckets add up to its calls. */
function split(n: number, shares: number[]): number[] {
  const exact = shares.map((s) => s * n);
  const out = exact.map(Math.floor);
  let left = n - out.reduce((a, b) => a + b, 0);
  const order = exact.map((e, i) => [e - Math.floor(e), i] as const).sort((a, b) => b[0] - a[0]);
  for (const [, i] of order) {
    if (left-- <= 0) break;
    out[i] = (out[i] ?? 0) + 1;
  }
  return out;
}

/** The roll-up rows of the seeded month: hour rows, and day rows that are the sums of their hours. */
function seedRows(): { hours: RollupRow[]; days: RollupRow[]; calls: number } {
  const rand = random(42);
  const toolWeight = Array.from({ length: TOOLS }, (_, t) => 1 / (t + 1)); // a few tools carry most calls
  const instanceWeight = Array.from({ length: INSTANCES }, () => 0.5 + rand());
  const diurnal = (h: number) => 0.35 + Math.sin((Math.PI * ((h % 24) - 6)) / 24) ** 2; // busy afternoons (UTC)
  const weights: number[] = [];
  for (let i = 0; i < INSTANCES; i++)
    for (let t = 0; t < TOOLS; t++)
      for (let h = 0; h < HOURS; h++)
        weights.push((instanceWeight[i] ?? 1) * (toolWeight[t] ?? 1) * diurnal(h) * (0.8 + 0.4 * rand()));
  const scale = TOTAL_CALLS / weights.reduce((a, b) => a + b, 0);
  const shares = Array.from({ length: TOOLS }, (_, t) => bucketShares(40 + 45 * t, 0.5 + 0.05 * t));
  const hours: RollupRow[] = [];
  const days = new Map<string, RollupRow>();
  let calls = 0;
  let w = 0;
  for (let i = 0; i < INSTANCES; i++) {
    for (let t = 0; t < TOOLS; t++) {
      for (let h = 0; h < HOURS; h++) {
        const n = Math.max(1, Math.round((weights[w++] ?? 0) * scale));
        calls += n;
        const failed = Math.round(n * 0.02 * rand());
        const errors: Record<string, number> = {};
        if (failed > 0) errors.UPSTREAM_ERROR = failed;
        if (rand() < 0.05) errors.SERVICE_UNAVAILABLE = 1 + Math.floor(rand() * 5);
        if (rand() < 0.01) errors.RATE_LIMIT_EXCEEDED = 1 + Math.floor(rand() * 20);
        const upstreamCalls = Math.round(n * 0.85);
        const row: RollupRow = {
          user_id: USER,
          org_id: ORG,
          period: "hour",
          period_start: new Date(START + h * HOUR_MS).toISOString(),
          instance_id: `ins_bench_${String(i).padStart(2, "0")}`,
          service_type: `service_${String(i).padStart(2, "0")}`,
          tool: `tool_${t}`,
          calls: n,
          errors,
          latency_buckets: split(n, shares[t] ?? []),
          upstream_calls: upstreamCalls,
          upstream_ms_sum: Math.round(upstreamCalls * (35 + 45 * t)),
        };
        hours.push(row);
        const dayStart = new Date(START + Math.floor(h / 24) * DAY_MS).toISOString();
        const key = `${row.instance_id}/${row.tool}/${dayStart}`;
        const day = days.get(key);
        if (!day) {
          days.set(key, {
            ...row,
            period: "day",
            period_start: dayStart,
            errors: { ...errors },
            latency_buckets: [...row.latency_buckets],
          });
          continue;
        }
        day.calls += row.calls;
        for (const [code, k] of Object.entries(errors)) day.errors[code] = (day.errors[code] ?? 0) + k;
        row.latency_buckets.forEach((k, b) => {
          day.latency_buckets[b] = (day.latency_buckets[b] ?? 0) + k;
        });
        day.upstream_calls += row.upstream_calls;
        day.upstream_ms_sum += row.upstream_ms_sum;
      }
    }
  }
  return { hours, days: [...days.values()], calls };
}

/** The DDL of `usage_rollups` as the migrations made it (every statement that names the table, in order). */
function rollupDdl(): string[] {
  const dir = resolve(import.meta.dir, "../../drizzle");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".sql"))
    .sort()
    .flatMap((f) => readFileSync(resolve(dir, f), "utf8").split("--> statement-breakpoint"))
    .map((s) => s.trim())
    .filter((s) => /"usage_rollups"/.test(s));
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

async function main(): Promise<void> {
  let admin: Database | undefined;
  let bench: Database;
  if (DATABASE_URL) {
    admin = createDatabase({ DATABASE_URL, poolSize: 1 });
    await admin.db.execute(sql.raw(`create schema ${SCHEMA}`));
    const url = new URL(DATABASE_URL);
    url.searchParams.set("search_path", SCHEMA);
    bench = createDatabase({ DATABASE_URL: url.toString(), poolSize: 4 });
  } else {
    bench = createDatabase({ memory: true });
    // One session: the search path set here holds for every statement after it.
    await bench.db.execute(sql.raw(`create schema ${SCHEMA}`));
    await bench.db.execute(sql.raw(`set search_path to ${SCHEMA}`));
  }
  const engine = DATABASE_URL
    ? ((await bench.db.execute(sql`show server_version`)) as unknown as { server_version: string }[])[0]
        ?.server_version
    : "PGlite";
  try {
    for (const statement of rollupDdl()) await bench.db.execute(sql.raw(statement));
    const seeded = Date.now();
    const { hours, days, calls } = seedRows();
    const rows = [...hours, ...days];
    for (let i = 0; i < rows.length; i += CHUNK) {
      await bench.db.execute(upsertRollups(JSON.stringify(rows.slice(i, i + CHUNK))));
    }
    await bench.db.execute(sql.raw("analyze usage_rollups"));
    const seedSeconds = ((Date.now() - seeded) / 1000).toFixed(1);

    const ranges = {
      "whole days": { from: new Date(START), to: new Date(START + DAYS * DAY_MS) },
      "ragged ends": {
        from: new Date(START + 5 * HOUR_MS + 30 * 60_000),
        to: new Date(START + DAYS * DAY_MS - 3 * HOUR_MS),
      },
    };
    const table: string[] = [];
    for (const groupBy of ["day", "instance", "service", "tool"] as UsageGroupBy[]) {
      const cells: string[] = [];
      let groups = 0;
      let total = 0;
      for (const range of Object.values(ranges)) {
        const run = async () => {
          const started = performance.now();
          const result = await summarizeUsage(bench, { userId: USER, orgId: ORG }, { ...range, groupBy });
          const ms = performance.now() - started;
          if (!result.ok) throw new Error(result.message);
          groups = result.value.groups.length;
          total = result.value.groups.reduce((n, g) => n + g.calls, 0);
          return ms;
        };
        await run(); // warm-up
        const times: number[] = [];
        for (let i = 0; i < RUNS; i++) times.push(await run());
        cells.push(median(times).toFixed(1));
      }
      table.push(`| ${groupBy} | ${groups} | ${cells.join(" | ")} | ${total.toLocaleString("en")} |`);
    }
    console.log(
      [
        `usage.summary — ${engine === "PGlite" ? "PGlite (embedded)" : `PostgreSQL ${engine}`}, schema ${SCHEMA}`,
        `seeded in ${seedSeconds} s: ${calls.toLocaleString("en")} calls over ${DAYS} days (${new Date(START).toISOString().slice(0, 10)} on), one user,`,
        `  ${INSTANCES} instances × ${TOOLS} tools × ${HOURS} hours → ${hours.length.toLocaleString("en")} hour rows + ${days.length.toLocaleString("en")} day rows`,
        "  (diurnal load, tool popularity 1/rank, log-normal latencies with medians 40–355 ms, ~1 % UPSTREAM_ERROR,",
        "  occasional SERVICE_UNAVAILABLE and RATE_LIMIT_EXCEEDED, 85 % of calls reaching the upstream)",
        `median of ${RUNS} runs after a warm-up, ms; "ragged ends": ${ranges["ragged ends"].from.toISOString()} → ${ranges["ragged ends"].to.toISOString()}`,
        "",
        "| groupBy | groups | whole days (ms) | ragged ends (ms) | calls counted (ragged) |",
        "| --- | --- | --- | --- | --- |",
        ...table,
      ].join("\n"),
    );
  } finally {
    if (admin) {
      await bench.close();
      await admin.db.execute(sql.raw(`drop schema ${SCHEMA} cascade`));
      await admin.close();
    } else {
      await bench.close();
    }
  }
}

await main();
