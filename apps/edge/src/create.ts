import { AuditLog, type CoreDeps, InstanceResolver } from "@mcp/core";
import { createEdgeApp } from "./app.ts";
import { DEFAULT_LIMITS, type EdgeDeps, type EdgeLimits } from "./deps.ts";
import { createMetrics } from "./metrics.ts";

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1"]);

/**
 * Builds an edge on shared core deps: the instance resolver (subscribed to invalidations), the batched
 * audit log and the metrics registry, then the Hono app. `close()` stops all of it.
 */
export async function createEdge(
  core: CoreDeps,
  opts: { host?: string; allowedOrigins?: string[]; limits?: Partial<EdgeLimits> } = {},
) {
  const resolver = new InstanceResolver(core);
  await resolver.start();
  const audit = new AuditLog(core);
  audit.start();
  const publicHost = new URL(core.publicEdgeUrl).hostname;
  const deps: EdgeDeps = {
    ...core,
    resolver,
    audit,
    metrics: createMetrics(),
    limits: { ...DEFAULT_LIMITS, ...opts.limits },
    allowedOrigins: opts.allowedOrigins ?? [],
    allowedHosts: LOOPBACK.has(opts.host ?? "127.0.0.1") ? [...LOOPBACK, publicHost] : [],
  };
  const { app, close } = createEdgeApp(deps);
  return {
    app,
    deps,
    async close() {
      await close();
      await resolver.stop();
      await audit.stop();
    },
  };
}
