// Entry point: parse env, build deps, serve the edge alone (production runs it as its own process).
import { assertSharedBackends, createPlatform, onShutdown, parseEnv } from "@mcp/core";
import { createEdge } from "./create.ts";
import { serverBodyCap } from "./deps.ts";
import { edgeOptionsFromEnv, serveMetrics } from "./options.ts";

const env = parseEnv();
assertSharedBackends(env, "the edge");
const platform = await createPlatform(env);
const edge = await createEdge(platform.deps, edgeOptionsFromEnv(env));
const server = Bun.serve({
  port: env.EDGE_PORT,
  hostname: env.HOST,
  fetch: edge.app.fetch,
  idleTimeout: 120, // SSE streams send keep-alives every 15 s
  maxRequestBodySize: serverBodyCap(edge.deps.limits),
});
const metricsServer = serveMetrics(edge, env);
platform.deps.log.info("edge listening", {
  url: `http://${env.HOST}:${server.port}`,
  ...(metricsServer && { metrics: `http://${env.METRICS_HOST}:${metricsServer.port}/metrics` }),
});
onShutdown(async () => {
  await Promise.all([server.stop(), metricsServer?.stop()]);
  await edge.close();
  await platform.close();
}, platform.deps.log);
