import type { PlatformEnv } from "@mcp/core";
import { loopbackAllowlist } from "@mcp/http";
import type { createEdge } from "./create.ts";

export type EdgeOptions = NonNullable<Parameters<typeof createEdge>[1]>;

/** The edge's options as the environment sets them (CONTRACT.md and README's table). */
export function edgeOptionsFromEnv(env: PlatformEnv): EdgeOptions {
  return {
    host: env.HOST,
    allowedOrigins: env.ALLOWED_ORIGINS.split(",").filter(Boolean),
    trustProxy: env.TRUST_PROXY === "1",
    metrics: { token: env.METRICS_TOKEN, separatePort: env.METRICS_PORT !== undefined },
    metricsHosts: loopbackAllowlist(env.METRICS_HOST),
    limits: {
      ...(env.RATE_LIMIT_PER_INSTANCE !== undefined && { perInstancePerMinute: env.RATE_LIMIT_PER_INSTANCE }),
      ...(env.RATE_LIMIT_PER_USER !== undefined && { perUserPerMinute: env.RATE_LIMIT_PER_USER }),
      ...(env.RATE_LIMIT_INVALID_TOKENS !== undefined && {
        invalidTokensPerMinutePerIp: env.RATE_LIMIT_INVALID_TOKENS,
      }),
    },
  };
}

/** With METRICS_PORT set, a listener of its own for `GET /metrics` on METRICS_HOST; otherwise nothing. */
export function serveMetrics(
  edge: Awaited<ReturnType<typeof createEdge>>,
  env: PlatformEnv,
): ReturnType<typeof Bun.serve> | undefined {
  if (env.METRICS_PORT === undefined) return undefined;
  return Bun.serve({ port: env.METRICS_PORT, hostname: env.METRICS_HOST, fetch: edge.metricsApp.fetch });
}
