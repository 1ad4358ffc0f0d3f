import { CUSTOM_SERVICE, listenOrThrow, type PlatformEnv } from "@mcp/core";
import { loopbackAllowlist } from "@mcp/http";
import type { ServiceRegistry } from "@mcp/services";
import type { createEdge } from "./create.ts";

export { EDGE_RUNTIME_ENV } from "./runtime-env.ts";

export type EdgeOptions = NonNullable<Parameters<typeof createEdge>[1]>;

/**
 * The edge's options as the environment sets them (CONTRACT.md and README's table), MCP_TYPE aside:
 * `bun run dev` serves every service whatever it says; apps/edge/src/main.ts adds `serviceMode(env)`.
 */
export function edgeOptionsFromEnv(env: PlatformEnv): EdgeOptions {
  return {
    host: env.HOST,
    allowedOrigins: env.ALLOWED_ORIGINS,
    trustProxy: env.TRUST_PROXY === "1",
    metrics: { token: env.METRICS_TOKEN, separatePort: env.METRICS_PORT !== undefined },
    metricsHosts: loopbackAllowlist(env.METRICS_HOST),
    idleGcMs: env.IDLE_GC_MS,
    limits: {
      ...(env.RATE_LIMIT_PER_INSTANCE !== undefined && { perInstancePerMinute: env.RATE_LIMIT_PER_INSTANCE }),
      ...(env.RATE_LIMIT_PER_USER !== undefined && { perUserPerMinute: env.RATE_LIMIT_PER_USER }),
      ...(env.RATE_LIMIT_INVALID_TOKENS !== undefined && {
        invalidTokensPerMinutePerIp: env.RATE_LIMIT_INVALID_TOKENS,
      }),
    },
  };
}

/**
 * With METRICS_PORT set, a listener of its own for `GET /metrics` on METRICS_HOST; otherwise nothing. One that
 * cannot listen throws naming the setting to change (`listenOrThrow`).
 */
export function serveMetrics(
  edge: Awaited<ReturnType<typeof createEdge>>,
  env: PlatformEnv,
): ReturnType<typeof Bun.serve> | undefined {
  const port = env.METRICS_PORT;
  if (port === undefined) return undefined;
  const at = { host: env.METRICS_HOST, port, portSetting: "METRICS_PORT", hostSetting: "METRICS_HOST" };
  return listenOrThrow("metrics listener", at, () =>
    Bun.serve({ port, hostname: env.METRICS_HOST, fetch: edge.metricsApp.fetch }),
  );
}

/**
 * SERVICE_MODE and MCP_TYPE: `shared` serves the one service MCP_TYPE names (for every user), `dynamic`
 * every service in the registry. Unset, the mode follows MCP_TYPE (shared when set, else dynamic, as
 * `bun run dev` runs). A contradiction is refused at start-up rather than guessed.
 */
export function serviceMode(env: Pick<PlatformEnv, "MCP_TYPE" | "SERVICE_MODE">): {
  mode: "shared" | "dynamic";
  mcpType?: string;
} {
  const mode = env.SERVICE_MODE ?? (env.MCP_TYPE ? "shared" : "dynamic");
  if (mode === "shared" && !env.MCP_TYPE)
    throw new Error("invalid environment: SERVICE_MODE=shared needs MCP_TYPE (the service this edge serves)");
  if (mode === "dynamic" && env.MCP_TYPE)
    throw new Error("invalid environment: MCP_TYPE is set but SERVICE_MODE=dynamic serves every service");
  return mode === "shared" ? { mode, mcpType: env.MCP_TYPE } : { mode };
}

/** MCP_TYPE must name a service of the registry (or `custom`: users' own MCP servers). */
export function assertServedType(
  mcpType: string | undefined,
  registry: Pick<ServiceRegistry, "has" | "list">,
): void {
  if (!mcpType || mcpType === CUSTOM_SERVICE.type || registry.has(mcpType)) return;
  const known = [...registry.list().map((s) => s.type), CUSTOM_SERVICE.type].join(", ");
  throw new Error(`invalid environment: MCP_TYPE=${mcpType} is not a service of the registry (${known})`);
}

/** The edge's listening port: PORT when set (one process per service under PM2), else EDGE_PORT. */
export function edgePort(
  env: Pick<PlatformEnv, "PORT" | "EDGE_PORT">,
  source: Record<string, string | undefined> = process.env,
): number {
  return source.PORT ? env.PORT : env.EDGE_PORT;
}
