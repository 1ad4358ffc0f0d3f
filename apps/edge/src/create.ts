import { AuditLog, type CoreDeps, InstanceResolver } from "@mcp/core";
import { hostSet, loopbackAllowlist } from "@mcp/http";
import { createEdgeApp } from "./app.ts";
import { DEFAULT_LIMITS, type EdgeDeps, type EdgeLimits } from "./deps.ts";
import { IdleCollector, type IdleGcThresholds } from "./idle-gc.ts";
import { createMetrics } from "./metrics.ts";
import { type MetricsAccess, metricsApp } from "./metrics-route.ts";

/**
 * Builds an edge on shared core deps: the instance resolver (subscribed to invalidations), the batched
 * audit log and the metrics registry, then the Hono app. `close()` stops all of it.
 */
export async function createEdge(
  core: CoreDeps,
  opts: {
    host?: string;
    allowedOrigins?: string[];
    limits?: Partial<EdgeLimits>;
    /** TRUST_PROXY=1: the client address is the last X-Forwarded-For entry. */
    trustProxy?: boolean;
    /** METRICS_TOKEN / METRICS_PORT: see `MetricsAccess`. */
    metrics?: MetricsAccess;
    /** Host names the METRICS_PORT listener answers to (`loopbackAllowlist(METRICS_HOST)`); empty → any. */
    metricsHosts?: string[];
    /** MCP_TYPE (SERVICE_MODE=shared): serve only this service's instances; unset: every service. */
    mcpType?: string;
    /**
     * Serve canonical tools/list and tools/call of REST services without the per-request SDK server (default
     * true); false sends everything through the SDK (tests compare both).
     */
    fastPath?: boolean;
    /**
     * A full garbage collection once this long passes with no MCP request, after a burst (`IdleCollector`); 0
     * (the default): none. Edges started from the environment (apps/edge/src/main.ts, `bun run dev`) take
     * IDLE_GC_MS, 1,000 unless set.
     */
    idleGcMs?: number;
    /** The idle collector's thresholds (tests): see `IdleCollector`. */
    idleGcThresholds?: IdleGcThresholds;
  } = {},
) {
  const resolver = new InstanceResolver(core);
  await resolver.start();
  const audit = new AuditLog(core);
  audit.start();
  const deps: EdgeDeps = {
    ...core,
    resolver,
    audit,
    metrics: createMetrics(core.kv),
    limits: { ...DEFAULT_LIMITS, ...opts.limits },
    allowedOrigins: opts.allowedOrigins ?? [],
    // The names instance URLs are handed out on: PUBLIC_EDGE_URL's, and each SERVICE_<TYPE>_PUBLIC_URL's (a
    // per-service edge behind a local proxy that keeps the Host its clients sent).
    allowedHosts: hostSet(
      loopbackAllowlist(
        opts.host ?? "127.0.0.1",
        core.publicEdgeUrl,
        ...Object.values(core.servicePublicUrls ?? {}),
      ),
    ),
    trustProxy: opts.trustProxy ?? false,
    metricsAccess: opts.metrics ?? {},
    ...(opts.mcpType && { mcpType: opts.mcpType }),
    fastPath: opts.fastPath ?? true,
  };
  const idle = new IdleCollector(opts.idleGcThresholds);
  const { app, fetch, drain, close } = createEdgeApp(deps, opts.idleGcMs ? idle : undefined);
  idle.start(opts.idleGcMs ?? 0);
  return {
    app,
    /** Bun.serve's `fetch`: the MCP route and the Hono app (pass the server, for client addresses). */
    fetch,
    /** The idle-time collector (`IdleCollector`), told of the MCP requests `fetch` serves when it runs. */
    idle,
    deps,
    /** For METRICS_PORT: a listener serving only `GET /metrics` (answering only to `metricsHosts`). */
    metricsApp: metricsApp(deps.metrics, deps.metricsAccess, opts.metricsHosts),
    /** Shutting down: `/ready` answers 503 (`closing`) while what is in flight finishes (see `stopEdge`). */
    drain,
    async close() {
      idle.stop();
      await close();
      await resolver.stop();
      await audit.stop();
    },
  };
}
