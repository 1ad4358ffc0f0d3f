// Entry point: parse env, build deps, serve. Everything else lives in createApp.
import { resolve } from "node:path";
import {
  assertSharedBackends,
  createPlatform,
  createSessionStore,
  onShutdown,
  parseEnvOrExit,
} from "@mcp/core";
import { loopbackAllowlist } from "@mcp/http";
import { createApp } from "./app.ts";

const env = parseEnvOrExit();
assertSharedBackends(env, "the control plane");
const platform = await createPlatform(env, { monitor: true });
const app = createApp({
  ...platform.deps,
  sessions: createSessionStore(platform.deps.db, { secureCookies: env.NODE_ENV === "production" }),
  allowedOrigins: env.ALLOWED_ORIGINS,
  allowedHosts: loopbackAllowlist(env.HOST, env.PUBLIC_URL),
  trustProxy: env.TRUST_PROXY === "1",
  dashboardDir: resolve(import.meta.dir, "../../dashboard/dist"),
});
const server = Bun.serve({ port: env.PORT, hostname: env.HOST, fetch: app.fetch });
platform.monitor?.start();
platform.deps.log.info("control plane listening", { url: `http://${env.HOST}:${server.port}` });
onShutdown(async () => {
  await server.stop();
  await platform.close();
}, platform.deps.log);
