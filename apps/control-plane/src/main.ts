// Entry point: parse env, build deps, serve. Everything else lives in createApp. A start-up that fails (a bad
// setting, a database that cannot be opened, a port in use) prints one line `control-plane: …` and exits 1
// (startOrExit); what goes wrong once it serves is logged as usual.
import { resolve } from "node:path";
import {
  assertSharedBackends,
  createPlatform,
  createSessionStore,
  listenOrThrow,
  onShutdown,
  parseEnv,
  secureCookiesFor,
  startOrExit,
} from "@mcp/core";
import { loopbackAllowlist } from "@mcp/http";
import { createApp } from "./app.ts";

const { env, platform, server } = await startOrExit("control-plane", async () => {
  const env = parseEnv();
  assertSharedBackends(env, "the control plane");
  const platform = await createPlatform(env, { monitor: true });
  const app = createApp({
    ...platform.deps,
    sessions: createSessionStore(platform.deps.db, { secureCookies: secureCookiesFor(env) }),
    allowedOrigins: env.ALLOWED_ORIGINS,
    allowedHosts: loopbackAllowlist(env.HOST, env.PUBLIC_URL),
    trustProxy: env.TRUST_PROXY === "1",
    dashboardDir: resolve(import.meta.dir, "../../dashboard/dist"),
  });
  const at = { host: env.HOST, port: env.PORT, portSetting: "PORT", hostSetting: "HOST" };
  const server = listenOrThrow("control plane", at, () =>
    Bun.serve({ port: env.PORT, hostname: env.HOST, fetch: app.fetch }),
  );
  return { env, platform, server };
});
platform.monitor?.start();
platform.deps.log.info("control plane listening", { url: `http://${env.HOST}:${server.port}` });
onShutdown(async () => {
  await server.stop();
  await platform.close();
}, platform.deps.log);
