// `bun run dev` (started by scripts/dev.ts, which gives it the edge's runtime settings): the whole product in
// one Bun process on the embedded default (PGlite under DATA_DIR, in-process kv) or on PostgreSQL/Redis when
// DATABASE_URL/REDIS_URL are set. Reads the settings and migrates, builds the dashboard if needed, starts the
// control plane (with the dashboard) and the edge, prints the URLs.
import { resolve } from "node:path";
import { createApp } from "@mcp/control-plane";
import {
  createPlatform,
  createSessionStore,
  listenOrThrow,
  onShutdown,
  parseEnv,
  publicEdgeUrl,
  secureCookiesFor,
  startOrExit,
} from "@mcp/core";
import { createEdge, edgeOptionsFromEnv, serveMetrics, serverBodyCap, stopEdge } from "@mcp/edge";
import { loopbackAllowlist } from "@mcp/http";
import { ensureDashboardBuilt } from "./dashboard-build.ts";

// A start-up that fails (a bad setting, a database that cannot be opened, a port in use, a dashboard build)
// prints one line `dev: …` and exits 1; the launcher (scripts/dev.ts) prints nothing of its own and exits
// with this process's code. What goes wrong once it serves is logged as usual.
const { env, platform, edge, cp, ed, metricsServer } = await startOrExit("dev", async () => {
  const env = parseEnv();
  // Settings first (read while building the platform), then the dashboard build, which may take a while.
  const platform = await createPlatform(env, { monitor: true });
  await ensureDashboardBuilt();
  const { deps } = platform;
  const edge = await createEdge(deps, edgeOptionsFromEnv(env));
  const controlPlane = createApp({
    ...deps,
    sessions: createSessionStore(deps.db, { secureCookies: secureCookiesFor(env) }),
    allowedOrigins: env.ALLOWED_ORIGINS,
    allowedHosts: loopbackAllowlist(env.HOST, env.PUBLIC_URL),
    trustProxy: env.TRUST_PROXY === "1",
    dashboardDir: resolve(import.meta.dir, "../apps/dashboard/dist"),
  });
  const at = (port: number, portSetting: string) => ({
    host: env.HOST,
    port,
    portSetting,
    hostSetting: "HOST",
  });
  const cp = listenOrThrow("control plane", at(env.PORT, "PORT"), () =>
    Bun.serve({ port: env.PORT, hostname: env.HOST, fetch: controlPlane.fetch }),
  );
  const ed = listenOrThrow("edge", at(env.EDGE_PORT, "EDGE_PORT"), () =>
    Bun.serve({
      port: env.EDGE_PORT,
      hostname: env.HOST,
      fetch: edge.fetch,
      idleTimeout: 120,
      maxRequestBodySize: serverBodyCap(edge.deps.limits),
    }),
  );
  const metricsServer = serveMetrics(edge, env);
  return { env, platform, edge, cp, ed, metricsServer };
});
const { deps } = platform;

platform.monitor?.start();
const metricsLine = metricsServer
  ? `http://${env.METRICS_HOST}:${metricsServer.port}/metrics${env.METRICS_TOKEN ? " (bearer METRICS_TOKEN)" : ""}`
  : env.METRICS_TOKEN
    ? `${publicEdgeUrl(env, ed.port)}/metrics (bearer METRICS_TOKEN)`
    : "off (set METRICS_PORT or METRICS_TOKEN)";

const backend = env.DATABASE_URL ? "PostgreSQL" : `PGlite (${resolve(env.DATA_DIR, "pglite")})`;
console.log(`
  MCP platform is running
  dashboard       http://${env.HOST}:${cp.port}/
  control plane   http://${env.HOST}:${cp.port}/trpc   REST http://${env.HOST}:${cp.port}/api/v1
  edge (MCP)      ${publicEdgeUrl(env, ed.port)}/<instance-token>/mcp   health ${publicEdgeUrl(env, ed.port)}/health
  metrics         ${metricsLine}
  database        ${backend}
  kv              ${env.REDIS_URL ? "Redis" : "in-process"}
`);

onShutdown(async () => {
  await stopEdge(edge, [cp, ed, metricsServer]);
  await platform.close();
}, deps.log);
