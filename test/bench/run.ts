// `bun run bench`: throughput and latency of the hot paths on this machine, against a real stack on
// loopback (embedded backends unless DATABASE_URL / REDIS_URL are set). Prints a table and writes
// test/bench/results.json. Every loop is bounded in requests and in time.
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { connectFigma, data, figmaKeyFor, newUser, trpc } from "../client.ts";
import { FAKE_FILE_KEY } from "../fakes/figma.ts";
import { startRemoteMcp } from "../fakes/remote-mcp.ts";
import { startStack } from "../harness.ts";

const DURATION_MS = Number(process.env.BENCH_MS ?? 3000);
const MAX_REQUESTS = 200_000;
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);

// The limits are what is measured around, not what is measured: lift them all, as an operator would
// (RATE_LIMIT_PER_INSTANCE=0, RATE_LIMIT_PER_USER=0, SERVICE_FIGMA_RATE_LIMIT=0: 0 = unlimited).
const stack = await startStack({
  // The relay scenario's fake server listens on 127.0.0.1.
  allowPrivateUpstreams: true,
  serviceEnv: { SERVICE_FIGMA_RATE_LIMIT: "0" },
  limits: {
    perInstancePerMinute: 0,
    perUserPerMinute: 0,
    // The 401 scenario sends one bad token from one address as fast as it can: what is measured is the
    // cost of a refusal, so the per-address guessing limit is lifted too.
    invalidTokensPerMinutePerIp: 0,
  },
});
const user = await newUser(stack);
const { instanceUrl } = await connectFigma(stack, user, figmaKeyFor(stack, "bench"));
// A relayed server: the same fake remote MCP server called directly (the floor) and through a custom instance.
const remote = await startRemoteMcp();
const relayed = await trpc(
  stack,
  "instances.connectCustom",
  { name: "bench", url: remote.url },
  { cookie: user.cookie },
);
const relayUrl = data<{ instanceUrl: string }>(relayed).instanceUrl;

const MODERN = {
  "content-type": "application/json",
  accept: "application/json, text/event-stream",
  "mcp-protocol-version": "2026-07-28",
};
const meta = {
  "io.modelcontextprotocol/protocolVersion": "2026-07-28",
  "io.modelcontextprotocol/clientCapabilities": {},
  "io.modelcontextprotocol/clientInfo": { name: "bench", version: "1" },
};
const modern = (method: string, params: Record<string, unknown>, name?: string) => ({
  headers: { ...MODERN, "mcp-method": method, ...(name && { "mcp-name": name }) },
  body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params: { ...params, _meta: meta } }),
});
const legacy = (method: string, params: Record<string, unknown>) => ({
  headers: {
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    "mcp-protocol-version": "2025-11-25",
  },
  body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
});

interface Scenario {
  name: string;
  url: string;
  init: () => { method?: string; headers: Record<string, string>; body?: string };
}
let n = 0;
const scenarios: Scenario[] = [
  { name: "edge tools/list (2026-07-28)", url: instanceUrl, init: () => modern("tools/list", {}) },
  {
    name: "edge tools/call cached read (2026-07-28)",
    url: instanceUrl,
    init: () => modern("tools/call", { name: "get_me", arguments: {} }, "get_me"),
  },
  {
    name: "edge tools/call via upstream (2026-07-28)",
    url: instanceUrl,
    init: () =>
      modern(
        "tools/call",
        { name: "get_file_nodes", arguments: { file_key: FAKE_FILE_KEY, ids: `0:${n++}` } },
        "get_file_nodes",
      ),
  },
  {
    name: "edge tools/call cached read (2025-11-25)",
    url: instanceUrl,
    init: () => legacy("tools/call", { name: "get_me", arguments: {} }),
  },
  {
    name: "remote MCP server direct tools/call (floor)",
    url: remote.url,
    init: () => modern("tools/call", { name: "add", arguments: { a: 1, b: n++ } }, "add"),
  },
  {
    name: "edge relay tools/call (2026-07-28)",
    url: relayUrl,
    init: () => modern("tools/call", { name: "add", arguments: { a: 1, b: n++ } }, "add"),
  },
  {
    name: "edge 401 bad token",
    url: instanceUrl.replace(/_(.)/, "_x"),
    init: () => modern("tools/list", {}),
  },
  {
    name: "control plane instances.list",
    url: `${stack.controlPlaneUrl}/trpc/instances.list`,
    init: () => ({ method: "GET", headers: { cookie: user.cookie } }),
  },
];

async function run(s: Scenario) {
  const latencies: number[] = [];
  let errors = 0;
  const statuses: Record<number, number> = {};
  const deadline = performance.now() + DURATION_MS;
  const started = performance.now();
  async function worker() {
    while (performance.now() < deadline && latencies.length < MAX_REQUESTS) {
      const { method, ...init } = s.init();
      const t0 = performance.now();
      const res = await fetch(s.url, { method: method ?? "POST", ...init });
      await res.arrayBuffer();
      latencies.push(performance.now() - t0);
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      if (res.status >= 500 || (res.status !== 200 && !s.name.includes("401"))) errors++;
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    Number((latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0).toFixed(2));
  if (errors > 0) console.error(`${s.name}: statuses ${JSON.stringify(statuses)}`);
  return {
    scenario: s.name,
    requests: latencies.length,
    rps: Math.round(latencies.length / seconds),
    p50_ms: pct(0.5),
    p99_ms: pct(0.99),
    errors,
  };
}

const results = [];
for (const s of scenarios) {
  await run({ ...s, name: `${s.name} (warm-up)` }).catch(() => undefined);
  results.push(await run(s));
}
await stack.edge.deps.audit.flush();
await stack.stop();
await remote.stop();

const backend = process.env.DATABASE_URL ? "postgres+redis" : "embedded";
console.log(`\nbench: ${backend}, concurrency ${CONCURRENCY}, ${DURATION_MS} ms per scenario\n`);
console.table(results);
const out = resolve(import.meta.dir, "results.json");
writeFileSync(
  out,
  `${JSON.stringify({ date: new Date().toISOString(), backend, concurrency: CONCURRENCY, results }, null, 2)}\n`,
);
console.log(`wrote ${out}`);
process.exit(0);
