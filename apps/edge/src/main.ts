// Entry point: parse env, build deps, serve the edge alone (production runs it as its own process).
import { assertSharedBackends, createPlatform, onShutdown, parseEnv } from "@mcp/core";
import { createEdge } from "./create.ts";

const env = parseEnv();
assertSharedBackends(env, "the edge");
const platform = await createPlatform(env);
const edge = await createEdge(platform.deps, {
  host: env.HOST,
  allowedOrigins: env.ALLOWED_ORIGINS.split(",").filter(Boolean),
});
const server = Bun.serve({
  port: env.EDGE_PORT,
  hostname: env.HOST,
  fetch: edge.app.fetch,
  idleTimeout: 120, // SSE streams send keep-alives every 15 s
  maxRequestBodySize: edge.deps.limits.maxBodyBytes,
});
platform.deps.log.info("edge listening", { url: `http://${env.HOST}:${server.port}` });
onShutdown(async () => {
  await server.stop();
  await edge.close();
  await platform.close();
}, platform.deps.log);
