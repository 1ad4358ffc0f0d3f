// Entry point: parse env, build deps, serve the edge alone (production runs it as its own process).
import { assertSharedBackends, createPlatform, onShutdown, parseEnvOrExit, publicEdgeUrl } from "@mcp/core";
import { createEdge } from "./create.ts";
import { serverBodyCap } from "./deps.ts";
import { assertServedType, edgeOptionsFromEnv, edgePort, serveMetrics, serviceMode } from "./options.ts";
import { stopEdge } from "./shutdown.ts";

const env = parseEnvOrExit();
const { mode, mcpType } = serviceMode(env);
assertSharedBackends(env, "the edge");
const port = edgePort(env);
const platform = await createPlatform(env, { monitor: true, edgeUrl: publicEdgeUrl(env, port) });
assertServedType(mcpType, platform.deps.registry);
const edge = await createEdge(platform.deps, { ...edgeOptionsFromEnv(env), ...(mcpType && { mcpType }) });
const server = Bun.serve({
  port,
  hostname: env.HOST,
  fetch: edge.fetch,
  idleTimeout: 120, // SSE streams send keep-alives every 15 s
  maxRequestBodySize: serverBodyCap(edge.deps.limits),
});
const metricsServer = serveMetrics(edge, env);
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
