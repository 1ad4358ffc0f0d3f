import type { Kv } from "@mcp/kv";
import { upstreamPoolStats } from "@mcp/services";
import { Counter, Gauge, Histogram, Registry } from "./prometheus.ts";

/**
 * Prometheus metrics for one edge process (a registry per app, so tests never share counters). With `kv`,
 * also its Redis failure policy: whether it is degraded now and for how long it has been in all.
 */
export function createMetrics(kv?: Pick<Kv, "degraded" | "degradedMs">) {
  const registry = new Registry();
  const requests = new Counter({
    name: "mcp_edge_requests_total",
    help: "MCP HTTP requests by outcome",
    labelNames: ["status"] as const,
    registers: [registry],
  });
  const toolCalls = new Counter({
    name: "mcp_edge_tool_calls_total",
    help: "Tool calls by service, tool and outcome",
    labelNames: ["service", "tool", "outcome"] as const,
    registers: [registry],
  });
  const toolLatency = new Histogram({
    name: "mcp_edge_tool_call_seconds",
    help: "Tool call latency including the upstream",
    labelNames: ["service"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  // Read from the process's upstream pools (packages/services/src/pool.ts) at each scrape.
  const poolGauge = (name: string, help: string, pick: "inUse" | "queued" | "max") =>
    new Gauge({
      name,
      help,
      labelNames: ["service"] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const s of upstreamPoolStats()) this.set({ service: s.service }, s[pick]);
      },
    });
  const upstreamPool = {
    inUse: poolGauge(
      "mcp_edge_upstream_pool_in_use",
      "Upstream requests in flight (pooled connections in use)",
      "inUse",
    ),
    queued: poolGauge(
      "mcp_edge_upstream_pool_queued",
      "Upstream calls waiting for a free pooled connection",
      "queued",
    ),
    max: poolGauge("mcp_edge_upstream_pool_max", "Upstream connection pool size", "max"),
  };
  const kvDegraded = new Gauge({
    name: "mcp_edge_kv_degraded",
    help: "1 while Redis is unreachable and the kv serves from the per-process fallback, else 0",
    registers: [registry],
    collect() {
      this.set(kv?.degraded?.() ? 1 : 0);
    },
  });
  const kvDegradedSeconds = new Counter({
    name: "mcp_edge_kv_degraded_seconds_total",
    help: "Time spent with Redis unreachable (the kv degraded to its per-process fallback)",
    registers: [registry],
    collect() {
      this.reset();
      const ms = kv?.degradedMs?.() ?? 0;
      if (ms > 0) this.inc(ms / 1000);
    },
  });
  return { registry, requests, toolCalls, toolLatency, upstreamPool, kvDegraded, kvDegradedSeconds };
}
export type EdgeMetrics = ReturnType<typeof createMetrics>;
