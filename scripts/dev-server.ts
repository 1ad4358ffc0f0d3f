// `bun run dev` (started by scripts/dev.ts, which gives it the edge's runtime settings): the whole product in
// one Bun process on the embedded default (PGlite under DATA_DIR, in-process kv) or on PostgreSQL/Redis when
// DATABASE_URL/REDIS_URL are set. Builds the dashboard if needed, migrates, starts the control plane (with
// the dashboard) and the edge, prints the URLs.
import { resolve } from "node:path";
import { createApp } from "@mcp/control-plane";
import { createPlatform, createSessionStore, onShutdown, parseEnvOrExit, publicEdgeUrl } from "@mcp/core";
import { createEdge, edgeOptionsFromEnv, serveMetrics, serverBodyCap, stopEdge } from "@mcp/edge";
import { loopbackAllowlist } from "@mcp/http";
import { ensureDashboardBuilt } from "./dashboard-build.ts";

const env = parseEnvOrExit();
await ensureDashboardBuilt();
const platform = await createPlatform(env, { monitor: true });
const { deps } = platform;
const allowedOrigins = env.ALLOWED_ORIGINS;

const edge = await createEdge(deps, edgeOptionsFromEnv(env));
const controlPlane = createApp({
  ...deps,
  sessions: createSessionStore(deps.db, { secureCookies: env.NODE_ENV === "production" }),
  allowedOrigins,
  allowedHosts: loopbackAllowlist(env.HOST, env.PUBLIC_URL),
  trustProxy: env.TRUST_PROXY === "1",
  dashboardDir: resolve(import.meta.dir, "../apps/dashboard/dist"),
});

function serve(
  name: string,
  port: number,
  fetch: (req: Request, server: Bun.Server<undefined>) => Response | Promise<Response>,
  extra = {},
) {
  try {
    return Bun.serve({ port, hostname: env.HOST, fetch, ...extra });
  } catch (error) {
    const message = (error as Error).message;
    console.error(`could not start the ${name} on ${env.HOST}:${port}: ${message}`);
    // Only a port in use is the port's fault; an address that cannot be bound (EINVAL, EADDRNOTAVAIL) is HOST's.
    if (/EADDRINUSE|in use/i.test(message))
      console.error(`set ${name === "edge" ? "EDGE_PORT" : "PORT"} to a free port`);
    else console.error("check HOST: it must be an address of this machine (127.0.0.1, 0.0.0.0, …)");
    process.exit(1);
  }
}
const cp = serve("control plane", env.PORT, controlPlane.fetch);
const ed = serve("edge", env.EDGE_PORT, edge.fetch, {
  idleTimeout: 120,
  maxRequestBodySize: serverBodyCap(edge.deps.limits),
});

const metricsServer = serveMetrics(edge, env);
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
