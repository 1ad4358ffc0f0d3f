// Child process: the product as the harness starts it (control plane + edge on loopback, embedded PGlite and
// in-process kv unless DATABASE_URL / REDIS_URL are set), with Figma's base URL pointed at the benchmark's
// shared fake upstream and every limit lifted through the environment, as an operator would for a
// benchmark: RATE_LIMIT_PER_INSTANCE, RATE_LIMIT_PER_USER and RATE_LIMIT_INVALID_TOKENS are read by the
// edge's own `edgeOptionsFromEnv`, SERVICE_FIGMA_RATE_LIMIT by the service registry (0 = unlimited). Signs a
// user up, connects Figma and a custom instance (the fake remote MCP server), then prints what the load
// generator needs.
import { parseEnv } from "@mcp/core";
import { edgeOptionsFromEnv } from "@mcp/edge";
import { connectFigma, data, newUser, trpc } from "../../client.ts";
import { startStack } from "../../harness.ts";
import { FAKE_FIGMA_KEY, LIFTED_LIMITS, ready, upstreamUrl } from "../common.ts";

for (const [name, value] of Object.entries(LIFTED_LIMITS)) {
  if (process.env[name] !== value)
    throw new Error(`${name} must be ${value} here (got ${process.env[name]})`);
}

const upstream = upstreamUrl();
const remoteMcpUrl = process.env.BENCH_REMOTE_MCP_URL;
if (!remoteMcpUrl) throw new Error("BENCH_REMOTE_MCP_URL is not set");

const stack = await startStack({
  // The relay scenario's fake server listens on 127.0.0.1.
  allowPrivateUpstreams: true,
  // The harness's own fake Figma is started but unused: this base URL replaces the one it would set.
  serviceEnv: { SERVICE_FIGMA_BASE_URL: upstream },
  limits: edgeOptionsFromEnv(parseEnv()).limits,
});
// The harness keeps every log line and kv write for tests' assertions; under load these arrays would grow
// without bound and read as the edge's memory, so they are emptied as they fill.
setInterval(() => {
  stack.logs.length = 0;
  stack.kvWrites.length = 0;
}, 250);

// SIGUSR2: a full garbage collection, asked for by the idle-streams step (../clients/streams.ts) before it
// reads this process's resident set, so that what the throughput scenarios left behind as garbage does not
// read as the streams' cost (or as a saving).
process.on("SIGUSR2", () => Bun.gc(true));

const user = await newUser(stack);
const { instanceUrl } = await connectFigma(stack, user, FAKE_FIGMA_KEY);
const relayed = await trpc(
  stack,
  "instances.connectCustom",
  { name: "bench", url: remoteMcpUrl },
  { cookie: user.cookie },
);
const relayUrl = data<{ instanceUrl: string }>(relayed).instanceUrl;

ready(
  {
    instanceUrl,
    relayUrl,
    controlPlaneUrl: stack.controlPlaneUrl,
    cookie: user.cookie,
    userId: user.userId,
    upstreamUrl: upstream,
    figmaKey: FAKE_FIGMA_KEY,
  },
  async () => {
    await stack.edge.deps.audit.flush();
    await stack.stop();
  },
);
