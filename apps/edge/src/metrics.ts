import { Counter, Histogram, Registry } from "prom-client";

/** Prometheus metrics for one edge process (a registry per app, so tests never share counters). */
export function createMetrics() {
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
  return { registry, requests, toolCalls, toolLatency };
}
export type EdgeMetrics = ReturnType<typeof createMetrics>;
