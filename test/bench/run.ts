// `bun run bench`: the edge's hot paths against the bare MCP SDKs and a hand-written floor, on this machine.
//
// Setup: every server runs in a process of its own, started here with Bun.spawn (test/bench/servers/*.ts),
// so the load generator never shares a server's event loop:
//   - upstream: the fake Figma REST API and the fake remote MCP server. The ONE upstream every server
//     below calls (same process, same URL), answering `get_file_nodes` as Figma does.
//   - edge: the product as test/harness.ts starts it (control plane + edge; PGlite and in-process kv, or
//     PostgreSQL and Redis when DATABASE_URL / REDIS_URL are set), limits lifted through the environment
//     (RATE_LIMIT_PER_INSTANCE, RATE_LIMIT_PER_USER, RATE_LIMIT_INVALID_TOKENS, SERVICE_FIGMA_RATE_LIMIT = 0),
//     HEALTH_CHECK_INTERVAL_MS=0, with a signed-up user, a Figma instance and a custom (relayed) instance.
//     With both DATABASE_URL and REDIS_URL set, the MCP scenarios go to the edge alone (edge-alone:
//     apps/edge/src/main.ts in a process of its own, same limits, same backends and key), as production runs
//     it, and the idle streams to another, fresh one; the stack child then serves only the control-plane
//     scenario. A third edge alone (edge-limited) has its rate limits on (counted, far above what the run
//     sends, as production runs them) and takes the uncached call and the cached read once more.
//   - sdk-v2: the bare SDK v2 server (createMcpHandler, a new McpServer per request), 2026-07-28 calls.
//   - sdk-1.x: the bare SDK 1.x server (stateless transport per request, pooled McpServers, one shared
//     validator), 2025-era calls; sdk-1.x-fresh: the same with a new McpServer per request, as the SDK's
//     stateless example builds it (still one shared validator). Both are reported; the pooled one is the
//     faster, stricter baseline.
//   - floor: Hono parsing the JSON-RPC call by hand, one kv GET (Redis when REDIS_URL is set), the upstream
//     call, the result written by hand; both eras.
// Every child inherits this process's environment: a runtime setting given to the benchmark (e.g.
// MIMALLOC_PURGE_DELAY or BUN_JSC_useWarmUpMarkedBlocks, see README → Speed) applies to every process of the run
// alike (each server, the upstream, the load generator), and is printed and stored with the run. The processes
// serving the edge's scenarios also start with the edge's production runtime settings (EDGE_RUNTIME_ENV, which
// the PM2 ecosystem sets), unless this environment sets them.
// The load generator is autocannon in this process: BENCH_CONNECTIONS (64) keep-alive connections, per
// scenario a warm-up (BENCH_FIRST_WARMUP_MS, 15000, for the first scenario a server process serves, so its JIT
// is past its start; 1 s for the next ones), then BENCH_ROUNDS (3) rounds of BENCH_MS (5000) ms, taken in
// turns by the servers compared with each other (edge, SDK, floor: round 1 of each, then round 2 of each, ...);
// the best round is reported (all are in the JSON). Uncached calls ask for a node id never asked before, so
// every one reaches the upstream. After each scenario the server's VmRSS / VmHWM are read from /proc. Once the
// throughput scenarios are done, the edge that served them takes BENCH_SOAK_MS (60000) ms of uncached
// 2026-07-28 calls without a pause, its VmRSS read every second (soak.ts: the issue's "RSS flat over a 60 s
// run"). Last, BENCH_STREAMS (1000) idle 2025-era GET streams are held open on the edge's relayed instance by a
// process of its own (clients/streams.ts, see streams.ts) and the edge's VmRSS is read before and with them
// open, each after a full GC (the issue's "held in under 200 MB"); they are closed before the children
// stop. Prints a table, every process's CPU per uncached call on the machine (by role: the server, PostgreSQL,
// Redis, the upstream, this load generator, the rest) and the ratios the issue's targets are stated in, writes
// test/bench/results.json (git-ignored), and exits 1 if any request was answered with an error or any stream
// could not be held.
// Everything runs on loopback, bounded in time; the children die with this process.
import { availableParallelism, loadavg } from "node:os";
import { resolve } from "node:path";
import { auditEvents, createDatabase, usageRollups } from "@mcp/db";
import { EDGE_RUNTIME_ENV } from "@mcp/edge";
import { eq, sql } from "drizzle-orm";
import {
  type Child,
  type CpuRole,
  type Memory,
  machineCpuUs,
  memoryOf,
  startChild,
  stopChildren,
} from "./children.ts";
import { LIFTED_LIMITS, UPSTREAM_ENV } from "./common.ts";
import { load, type Round } from "./load.ts";
import { printMachineCpu, printTable, type Row, ratios, streamsChecks } from "./report.ts";
import { type ServerName, scenarios, UNCACHED } from "./scenarios.ts";
import { SOAK_MS, type SoakResult, soak, soakChecks } from "./soak.ts";
import { measureStreams, STREAMS, type StreamsResult } from "./streams.ts";

const BENCH_MS = Number(process.env.BENCH_MS ?? 5000);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const WARMUP_MS = 1000;
/**
 * A server process's first warm-up in the run: its JIT reaches its steady state only after tens of thousands of
 * calls (after a 1 s warm-up the edge's CPU per uncached call over its first three 5 s rounds was 473, 486 and
 * 379 µs; the limits-on edge's 356, 239 and 230), and a production edge serves its calls long after that.
 */
const FIRST_WARMUP_MS = Number(process.env.BENCH_FIRST_WARMUP_MS ?? 15_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

const backend =
  [process.env.DATABASE_URL && "postgres", process.env.REDIS_URL && "redis"].filter(Boolean).join("+") ||
  "embedded";

process.on("SIGINT", () => {
  stopChildren().finally(() => process.exit(130));
});

interface EdgeInfo {
  instanceUrl: string;
  relayUrl: string;
  controlPlaneUrl: string;
  cookie: string;
  userId: string;
}

const shared = !!process.env.DATABASE_URL && !!process.env.REDIS_URL;
/** Embedded, the process serving the edge's scenarios, as the results name it. */
const STACK_CHILD = "edge child = edge + control plane + PGlite";
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};
/** µs of CPU per answered request, by role, between two readings of `machineCpuUs`. */
function perRequest(before: Record<CpuRole, number>, after: Record<CpuRole, number>, requests: number) {
  const out = {} as Record<CpuRole, number>;
  for (const role of Object.keys(before) as CpuRole[]) {
    out[role] = Math.max(0, Math.round((after[role] - before[role]) / Math.max(1, requests)));
  }
  return out;
}
/** Each role's median over the rounds, and their sum. */
function medianByRole(rounds: Record<CpuRole, number>[]): Record<CpuRole | "total", number> {
  const out = {} as Record<CpuRole | "total", number>;
  let total = 0;
  for (const role of Object.keys(rounds[0] ?? {}) as CpuRole[]) {
    out[role] = median(rounds.map((r) => r[role]));
    total += out[role];
  }
  out.total = total;
  return out;
}
/**
 * Runtime settings in this environment (the allocator's `MIMALLOC_*`, JavaScriptCore's `BUN_JSC_*`), which every
 * process of the run inherits (README → Speed); none by default.
 */
const RUNTIME_ENV = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => k.startsWith("MIMALLOC_") || k.startsWith("BUN_JSC_")),
);
/**
 * The runtime settings the edge's processes start with in production (EDGE_RUNTIME_ENV, set by the PM2
 * ecosystem), given to the processes serving the edge's scenarios; a value in this environment wins, as an
 * operator's does.
 */
const EDGE_RUNTIME = Object.fromEntries(
  Object.entries(EDGE_RUNTIME_ENV).map(([name, value]) => [name, process.env[name] ?? value]),
);
const runtimeNote =
  Object.keys(RUNTIME_ENV).length === 0
    ? ""
    : `, every process with ${Object.entries(RUNTIME_ENV)
        .map(([k, v]) => `${k}=${v}`)
        .join(" ")}`;
const edgeRuntimeNote = Object.entries(EDGE_RUNTIME)
  .map(([k, v]) => `${k}=${v}`)
  .join(" ");
const started = performance.now();
const rows: Row[] = [];
let streams: StreamsResult | { error: string } | undefined;
let soaked: SoakResult | { error: string } | undefined;
let benchUser: string | undefined;
const load0 = loadavg()[0] ?? 0;
try {
  const upstream = await startChild<{ upstreamUrl: string; remoteMcpUrl: string }>("upstream");
  const env = { [UPSTREAM_ENV]: upstream.info.upstreamUrl };
  const [edge, sdkV2, sdk1, sdk1Fresh, floor] = await Promise.all([
    startChild<EdgeInfo>("edge", {
      ...env,
      // Embedded, this process serves the edge's scenarios.
      ...(!shared && EDGE_RUNTIME),
      ...LIFTED_LIMITS,
      BENCH_REMOTE_MCP_URL: upstream.info.remoteMcpUrl,
      HEALTH_CHECK_INTERVAL_MS: "0",
    }),
    startChild<{ url: string }>("sdk-v2", env),
    startChild<{ url: string }>("sdk-v1", env),
    startChild<{ url: string }>("sdk-v1", { ...env, BENCH_SDK1_MODE: "fresh" }),
    startChild<{ url: string }>("floor", env),
  ]);
  benchUser = edge.info.userId;
  // With shared backends the MCP scenarios go to the edge alone, as production runs it (apps/edge/src/main.ts
  // in a process of its own, on the stack's PostgreSQL and Redis, serving its instances), so what is
  // measured is the edge's work only; embedded, only the stack child can serve them (the control plane and
  // the harness's log and kv capture share its process and its CPU).
  const alone = shared
    ? await startChild<{ url: string }>("edge-alone", {
        ...EDGE_RUNTIME,
        ...LIFTED_LIMITS,
        SERVICE_FIGMA_BASE_URL: upstream.info.upstreamUrl,
      })
    : undefined;
  // Limits on, so counted, but far above what the run sends: every call charges its budgets (and a cached read
  // reads its slot in the same step), none is refused.
  const COUNTED = "999999999";
  const limited = shared
    ? await startChild<{ url: string }>("edge-alone", {
        ...EDGE_RUNTIME,
        ...LIFTED_LIMITS,
        RATE_LIMIT_PER_INSTANCE: COUNTED,
        RATE_LIMIT_PER_USER: COUNTED,
        SERVICE_FIGMA_RATE_LIMIT: COUNTED,
        SERVICE_FIGMA_BASE_URL: upstream.info.upstreamUrl,
      })
    : undefined;
  const edgeChild = alone ?? edge;
  const onEdge = (url: string) => (alone ? `${alone.info.url}${new URL(url).pathname}` : url);
  const children: Record<ServerName, Child<unknown>> = {
    edge: edgeChild,
    "edge-limited": limited ?? edgeChild,
    "control-plane": edge,
    "sdk-v2": sdkV2,
    "sdk-1.x": sdk1,
    "sdk-1.x-fresh": sdk1Fresh,
    floor,
  };
  console.error(
    `bench: ${backend}, ${CONNECTIONS} connections, warm-up ${FIRST_WARMUP_MS} ms for a server's first scenario, ` +
      `${WARMUP_MS} ms for the next ones, + ${ROUNDS} × ${BENCH_MS} ms per scenario${runtimeNote}; ` +
      `the edge's processes with ${edgeRuntimeNote}`,
  );
  const list = scenarios({
    ...edge.info,
    instanceUrl: onEdge(edge.info.instanceUrl),
    relayUrl: onEdge(edge.info.relayUrl),
    sdkV2Url: sdkV2.info.url,
    sdk1Url: sdk1.info.url,
    sdk1FreshUrl: sdk1Fresh.info.url,
    floorUrl: floor.info.url,
    ...(limited && { limitedInstanceUrl: `${limited.info.url}${new URL(edge.info.instanceUrl).pathname}` }),
  });
  // The servers compared with each other (same scenario and era) take turns: each is warmed up, then the
  // rounds go round-robin over them, so a change in the machine's load during the run (it is shared) falls
  // on all of them alike instead of on whichever ran then.
  const groups: (typeof list)[] = [];
  for (const s of list) {
    const group = groups.find((g) => g[0]?.scenario === s.scenario && g[0]?.era === s.era);
    if (group) group.push(s);
    else groups.push([s]);
  }
  const warmed = new Set<number>();
  for (const group of groups) {
    const runs = [];
    for (const s of group) {
      const { pid } = children[s.server];
      const memoryBefore = memoryOf(pid);
      const warmup = await load(s, CONNECTIONS, warmed.has(pid) ? WARMUP_MS : FIRST_WARMUP_MS);
      warmed.add(pid);
      runs.push({
        s,
        pid,
        memoryBefore,
        warmup,
        rounds: [] as Round[],
        memory: [] as Memory[],
        machine: [] as Record<CpuRole, number>[],
      });
    }
    for (let i = 0; i < ROUNDS; i++) {
      for (const run of runs) {
        const pids = { server: run.pid, upstream: upstream.pid };
        const machineBefore = machineCpuUs(pids);
        const round = await load(run.s, CONNECTIONS, BENCH_MS);
        const machineAfter = machineCpuUs(pids);
        run.rounds.push(round);
        // Every process's CPU per answer, by role: on a machine this small the server shares its cores with
        // PostgreSQL, Redis, the upstream and the load generator, so what they spend per call bounds req/s too.
        run.machine.push(perRequest(machineBefore, machineAfter, round.requests));
        // Read at once, before another server's turn lets this one sit idle (and its GC shrink it).
        run.memory.push(memoryOf(run.pid));
      }
    }
    for (const { s, memoryBefore, warmup, rounds, memory, machine } of runs) {
      // The server's own CPU time per answer: what a request costs it, whatever the machine's other load let
      // its throughput be (this host is shared, so req/s moves with its neighbours; CPU per request much less).
      const cpu = machine.map((m) => m.server);
      const best = rounds.reduce((a, b) => (b.rps > a.rps ? b : a));
      const row: Row = {
        scenario: s.scenario,
        server: s.server,
        era: s.era,
        rps: best.rps,
        p50Ms: best.p50Ms,
        p99Ms: best.p99Ms,
        errors: [warmup, ...rounds].reduce((sum, r) => sum + r.errors, 0),
        memoryBefore,
        memoryAfter: memory.at(-1) ?? memoryBefore,
        memoryAfterRounds: memory.map((m) => m.rssMb),
        cpuUsPerRequest: median(cpu),
        cpuUsPerRequestRounds: cpu,
        machineCpuUsPerRequest: medianByRole(machine),
        warmup,
        rounds,
      };
      rows.push(row);
      console.error(
        `  ${s.scenario} · ${s.server} · ${s.era}: ${row.rps} req/s, p99 ${row.p99Ms} ms, CPU ${row.cpuUsPerRequest} µs/request`,
      );
      for (const r of [warmup, ...rounds].filter((r) => r.errors > 0)) {
        console.error(`    ${r.errors} error(s), statuses ${JSON.stringify(r.statuses)}; first answers:`);
        for (const sample of r.samples) console.error(`      ${sample}`);
      }
    }
  }
  const soakScenario = list.find(
    (s) => s.scenario === UNCACHED && s.server === "edge" && s.era === "2026-07-28",
  );
  if (SOAK_MS > 0 && soakScenario) {
    const holder = alone ? "the edge alone" : STACK_CHILD;
    soaked = await soak(soakScenario, edgeChild.pid, holder, CONNECTIONS).catch((error: unknown) => ({
      error: error instanceof Error ? error.message : String(error),
    }));
    if ("error" in soaked) console.error(`  soak · edge: failed: ${soaked.error}`);
    else {
      const { rssMb, ratio, slopeMbPerMin, round } = soaked;
      console.error(
        `  soak · edge · ${soaked.era}: ${round.rps} req/s for ${SOAK_MS} ms, RSS ${rssMb[0]} → ${rssMb.at(-1)} MB ` +
          `(last third's highest / first third's ${ratio}, slope ${slopeMbPerMin} MB/min), ${round.errors} error(s)`,
      );
      for (const sample of round.samples) console.error(`    ${sample}`);
    }
  }
  if (STREAMS > 0) {
    // With shared backends the streams are held by the edge alone, in a process of its own (as production
    // runs it), so its resident set is the edge's only; embedded, only the stack child can serve them.
    // A fresh one: the throughput scenarios' process keeps what its allocator grew to under load (its RSS
    // after them is in the table), which would read as the streams' cost.
    const fresh = shared
      ? await startChild<{ url: string }>("edge-alone", { ...EDGE_RUNTIME, ...LIFTED_LIMITS })
      : undefined;
    const holder = fresh
      ? {
          pid: fresh.pid,
          url: `${fresh.info.url}${new URL(edge.info.relayUrl).pathname}`,
          what: "the edge alone (a fresh process)",
        }
      : { pid: edge.pid, url: edge.info.relayUrl, what: STACK_CHILD };
    streams = await measureStreams(holder.pid, holder.url)
      .then((result) => ({ ...result, holder: holder.what }))
      .catch((error: unknown) => ({ error: error instanceof Error ? error.message : String(error) }));
    if ("error" in streams) console.error(`  idle GET streams · edge: failed: ${streams.error}`);
    else {
      const { openAtMeasure, asked, memoryBefore, memoryIdle, memoryAfter, setupMs } = streams;
      console.error(
        `  idle GET streams · edge · 2025-06-18: ${openAtMeasure}/${asked} open (set up in ${setupMs} ms), ` +
          `RSS after GC ${memoryBefore.rssMb} → ${memoryAfter.rssMb} MB (${memoryIdle.rssMb} MB before the GC)`,
      );
      for (const sample of streams.samples) console.error(`    ${sample}`);
    }
  }
} finally {
  await stopChildren();
  if (benchUser) await forgetBenchUser(benchUser);
}

/**
 * On PostgreSQL the run leaves an audit event per call (hundreds of thousands) and their roll-ups in the
 * database the tests use too: once every process has stopped (and flushed), the bench user's go, and the
 * space they took is vacuumed (its account itself is a few rows, like any test's). Embedded, the database
 * was the stack child's own, in memory.
 */
async function forgetBenchUser(userId: string): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (!url) return;
  const { db, close } = createDatabase({ DATABASE_URL: url, poolSize: 1 });
  try {
    await db.delete(auditEvents).where(eq(auditEvents.userId, userId));
    await db.delete(usageRollups).where(eq(usageRollups.userId, userId));
    // Their space back for the next run: without it (autovacuum may be off, as on these machines) each run
    // leaves hundreds of thousands of dead rows in the table and its indexes, and the next one's writes get
    // slower for it.
    await db.execute(sql`vacuum ${auditEvents}, ${usageRollups}`);
  } catch (error) {
    console.error(`bench: could not remove the bench user's rows: ${(error as Error).message}`);
  } finally {
    await close();
  }
}

const checks = [
  ...ratios(rows, CONNECTIONS),
  ...(soaked ? soakChecks(soaked, !shared) : []),
  ...(streams ? streamsChecks(streams, !process.env.DATABASE_URL) : []),
];
const seconds = Math.round((performance.now() - started) / 1000);
console.log(
  `\nbench: ${backend}, ${CONNECTIONS} connections, warm-up ${FIRST_WARMUP_MS} ms (a server's first scenario) or ` +
    `${WARMUP_MS} ms, ${ROUNDS} × ${BENCH_MS} ms per scenario (best round shown), ` +
    `${availableParallelism()} cores, load average ${load0.toFixed(2)} at start, ${seconds} s${runtimeNote}\n`,
);
printTable(rows);
console.log("\nCPU per answered call on the whole machine, µs (median of rounds; tools/call uncached)\n");
printMachineCpu(rows);
console.log("\nratios and targets\n");
console.table(checks);
const out = resolve(import.meta.dir, "results.json");
const results = {
  date: new Date().toISOString(),
  backend,
  connections: CONNECTIONS,
  warmupMs: WARMUP_MS,
  firstWarmupMs: FIRST_WARMUP_MS,
  roundMs: BENCH_MS,
  rounds: ROUNDS,
  loadGenerator: `autocannon (in the benchmark's process, Bun ${Bun.version})`,
  cores: availableParallelism(),
  loadAverageAtStart: load0,
  runtimeEnv: RUNTIME_ENV,
  edgeRuntimeEnv: EDGE_RUNTIME,
  results: rows,
  soakMs: SOAK_MS,
  ...(soaked && { soak: soaked }),
  ...(streams && { streams }),
  ratios: checks,
};
await Bun.write(out, `${JSON.stringify(results, null, 2)}\n`);
console.log(`wrote ${out}`);
const streamsFailed = streams !== undefined && ("error" in streams || streams.openAtMeasure < streams.asked);
const soakFailed = soaked !== undefined && ("error" in soaked || soaked.round.errors > 0);
process.exit(rows.some((r) => r.errors > 0) || streamsFailed || soakFailed ? 1 : 0);
