import { CUSTOM_SERVICE, type ResolvedInstance } from "@mcp/core";
import type { EdgeDeps } from "../deps.ts";

/**
 * Metrics, the audit event (who, instance, tool, status, latency and the upstream's part of it; never
 * arguments or results) and last use.
 */
export function recordToolCall(
  deps: EdgeDeps,
  instance: ResolvedInstance,
  call: {
    tool: string;
    status: string;
    latencyMs: number;
    /** Of `latencyMs`, the time spent on the upstream call; omitted when none was made. */
    upstreamMs?: number;
    requestId?: string;
    /**
     * The server listed this tool (a relayed call): only then is its name a metric label. A name a client sent
     * that no definition or list vouches for would be a new series per name, without bound.
     */
    listed?: boolean;
  },
): void {
  // Tool names of custom servers are chosen by their owners, and of a relayed call that the server did not
  // list by the caller: never a label value (unbounded cardinality).
  const tool = instance.serviceType === CUSTOM_SERVICE.type || call.listed === false ? "*" : call.tool;
  deps.metrics.toolCalls.inc({ service: instance.serviceType, tool, outcome: call.status });
  deps.metrics.toolLatency.observe({ service: instance.serviceType }, call.latencyMs / 1000);
  deps.audit.record({
    userId: instance.userId,
    orgId: instance.orgId,
    instanceId: instance.instanceId,
    action: "tool.call",
    actorKind: "instance",
    serviceType: instance.serviceType,
    tool: call.tool,
    status: call.status,
    latencyMs: call.latencyMs,
    upstreamMs: call.upstreamMs,
    requestId: call.requestId,
  });
  deps.resolver.touch(instance.instanceId);
}
