// Entry point: parse env, build deps, serve the edge alone (production runs it as its own process). A start-up
// that fails (a bad setting, a database that cannot be opened, a port in use) prints one line `edge: …` and
// exits 1 (startOrExit); what goes wrong once it serves is logged as usual.
import {
  assertSharedBackends,
  createPlatform,
  listenOrThrow,
  onShutdown,
  parseEnv,
  publicEdgeUrl,
  startOrExit,
} from "@mcp/core";
import { createEdge } from "./create.ts";
import { serverBodyCap } from "./deps.ts";
import { assertServedType, edgeOptionsFromEnv, edgePort, serveMetrics, serviceMode } from "./options.ts";
import { stopEdge } from "./shutdown.ts";

const { env, platform, edge, server, metricsServer, mode, mcpType } = await startOrExit("edge", async () => {
  const env = parseEnv();
  const { mode, mcpType } = serviceMode(env);
  assertSharedBackends(env, "the edge");
  const port = edgePort(env);
  const platform = await createPlatform(env, { monitor: true, edgeUrl: publicEdgeUrl(env, port) });
  assertServedType(mcpType, platform.deps.registry);
  const edge = await createEdge(platform.deps, { ...edgeOptionsFromEnv(env), ...(mcpType && { mcpType }) });
  const portSetting = process.env.PORT ? "PORT" : "EDGE_PORT";
  const server = listenOrThrow("edge", { host: env.HOST, port, portSetting, hostSetting: "HOST" }, () =>
    Bun.serve({
      port,
      hostname: env.HOST,
      fetch: edge.fetch,
      idleTimeout: 120, // SSE streams send keep-alives every 15 s
      maxRequestBodySize: serverBodyCap(edge.deps.limits),
    }),
  );
  const metricsServer = serveMetrics(edge, env);
  return { env, platform, edge, server, metricsServer, mode, mcpType };
});
platform.monitor?.start();
platform.deps.log.info("edge listening", {
  url: `http://${env.HOST}:${server.port}`,
  mode,
  ...(mcpType && { mcpType }),
  ...(metricsServer && { metrics: `http://${env.METRICS_HOST}:${metricsServer.port}/metrics` }),
});
onShutdown(async () => {
  await stopEdge(edge, [server, metricsServer]);
  await platform.close();
}, platform.deps.log);
