import type { ResolvedInstance } from "@mcp/core";
import { executeTool, type ServiceDefinition, type ToolOutcome } from "@mcp/services";
import { type CallToolResult, ProtocolError, ProtocolErrorCode } from "@modelcontextprotocol/server";
import type { EdgeDeps } from "../deps.ts";
import { cachedRead } from "./read-cache.ts";

export interface CallContext {
  deps: EdgeDeps;
  service: ServiceDefinition;
  instance: ResolvedInstance;
  requestId?: string;
  signal?: AbortSignal;
}

const errorResult = (text: string): CallToolResult => ({ content: [{ type: "text", text }], isError: true });

/**
 * One `tools/call`: opens the credential in memory, runs the tool against the upstream (or the per-user
 * read cache), maps failures to tool errors, and records metrics and an audit event off the hot path.
 */
export async function callTool(ctx: CallContext, name: string, args: unknown): Promise<CallToolResult> {
  const { deps, service, instance } = ctx;
  const tool = service.getTool(name);
  if (!tool) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown tool: ${name.slice(0, 64)}`);
  const started = performance.now();
  const secret = deps.resolver.credential(instance);
  let outcome: ToolOutcome;
  if (!secret) {
    deps.log.error("credential could not be opened", { instanceId: instance.instanceId });
    outcome = {
      ok: false,
      error: "EXPIRED_CREDENTIALS",
      message: "The stored credential cannot be used; reconnect.",
    };
  } else {
    outcome = await cachedRead(deps, instance, tool, args, () =>
      executeTool(service, tool, args, secret.apiKey, {
        timeoutMs: deps.limits.upstreamTimeoutMs,
        signal: ctx.signal,
      }),
    );
  }
  const latencyMs = Math.round(performance.now() - started);
  const status = outcome.ok ? "ok" : outcome.error;
  deps.metrics.toolCalls.inc({ service: service.type, tool: tool.name, outcome: status });
  deps.metrics.toolLatency.observe({ service: service.type }, latencyMs / 1000);
  deps.audit.record({
    userId: instance.userId,
    instanceId: instance.instanceId,
    action: "tool.call",
    tool: tool.name,
    status,
    latencyMs,
    requestId: ctx.requestId,
  });
  deps.resolver.touch(instance.instanceId);

  if (outcome.ok) return { content: [{ type: "text", text: JSON.stringify(outcome.data) }] };
  switch (outcome.error) {
    case "BAD_REQUEST":
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, outcome.message);
    case "EXPIRED_CREDENTIALS":
      if (secret) await deps.resolver.markNeedsReauth(instance);
      return errorResult(
        `${service.name} rejected the stored credentials (expired or revoked). Reconnect ${service.name} in the dashboard to get a new key in place.`,
      );
    case "SERVICE_UNAVAILABLE":
      return errorResult(`${service.name} is unavailable right now (${outcome.message}). Try again shortly.`);
    default:
      return errorResult(`${service.name} answered with an error: ${outcome.message}`);
  }
}
