import { isServiceAvailable, type ResolvedInstance } from "@mcp/core";
import {
  executeTool,
  type ServiceDefinition,
  type ToolOutcome,
  type UpstreamCredential,
  validateKey,
} from "@mcp/services";
import { type CallToolResult, ProtocolError, ProtocolErrorCode } from "@modelcontextprotocol/server";
import type { EdgeDeps } from "../deps.ts";
import { errorResult, type InstanceAuth } from "./instance-handler.ts";
import { cachedRead, type ReadAhead } from "./read-cache.ts";
import { recordToolCall } from "./record.ts";
import { toolAllowed } from "./tool-filter.ts";
import { unopenedCredential } from "./unopened.ts";

export interface CallContext {
  deps: EdgeDeps;
  service: ServiceDefinition;
  instance: ResolvedInstance;
  requestId?: string;
  signal?: AbortSignal;
  /** The call's cache slot, already read with the rate-limit charge (see `cachedRead`). */
  readAhead?: ReadAhead;
}

/** A call's context from what the route handed over for it (its instance, request id and read-ahead slot). */
export const callContext = (
  deps: EdgeDeps,
  service: ServiceDefinition,
  auth: InstanceAuth,
  signal: AbortSignal,
): CallContext => ({
  deps,
  service,
  instance: auth.instance,
  requestId: auth.requestId,
  signal,
  ...(auth.readAhead && { readAhead: auth.readAhead }),
});

/** The answer to a call of a tool that does not exist (or that the instance's settings leave out). */
export const unknownTool = (name: string) =>
  new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown tool: ${name.slice(0, 64)}`);

/** Deadline for re-checking a key after the upstream refused a call (never longer than a tool call). */
const RECHECK_TIMEOUT_MS = 5_000;

/** A refused call (401/403) after the key has been re-checked against the upstream's validation request. */
type Refusal =
  /** The upstream rejects the key itself: the instance needs new credentials. */
  | { verdict: "reauth" }
  /** The key is still good; the upstream refused this resource (no permission, missing scope). */
  | { verdict: "forbidden"; status?: number; message: string }
  /** The key could not be re-checked (upstream down or slow): nothing is concluded, nothing is marked. */
  | { verdict: "unchecked"; message: string };

/**
 * Figma answers 403 both for a bad token and for a file the token may not open, so a refusal only means
 * "reconnect" once the key itself fails validation.
 */
async function confirmRefusal(
  ctx: CallContext,
  credential: UpstreamCredential,
  refused: Extract<ToolOutcome, { ok: false }>,
): Promise<Refusal> {
  // The whole credential: basic auth and `{site}` base URLs need the additional fields too.
  const check = await validateKey(ctx.service, credential, {
    timeoutMs: Math.min(RECHECK_TIMEOUT_MS, ctx.deps.limits.upstreamTimeoutMs),
    signal: ctx.signal,
  });
  if (check.ok) return { verdict: "forbidden", status: refused.status, message: refused.message };
  if (check.error === "INVALID_API_KEY") return { verdict: "reauth" };
  return { verdict: "unchecked", message: refused.message };
}

/**
 * One `tools/call`: opens the credential in memory, runs the tool against the upstream (or the per-user
 * read cache), maps failures to tool errors, and records metrics and an audit event off the hot path.
 */
export async function callTool(ctx: CallContext, name: string, args: unknown): Promise<CallToolResult> {
  const { deps, service, instance } = ctx;
  const tool = service.getTool(name);
  // A tool the instance's settings leave out is answered exactly as one the service does not have.
  if (!tool || !toolAllowed(instance, tool)) throw unknownTool(name);
  const started = performance.now();
  // Marked down by the health monitor: answer now instead of waiting for the upstream's timeout.
  if (!isServiceAvailable(deps, service.type)) {
    recordToolCall(deps, instance, {
      tool: tool.name,
      status: "SERVICE_UNAVAILABLE",
      latencyMs: 0,
      requestId: ctx.requestId,
    });
    return errorResult(`${service.name} is down (health check failed). Try again shortly.`, {
      code: "SERVICE_UNAVAILABLE",
    });
  }
  const secret = deps.resolver.credential(instance);
  if (!secret) return unusableCredential(ctx, tool.name, started);
  let refusal: Refusal | undefined;
  // When the upstream call started (stays -1 when the read cache answered): the rest is the gateway's time.
  let upstreamStarted = -1;
  let outcome = await cachedRead(
    deps,
    instance,
    tool,
    args,
    () => {
      upstreamStarted = performance.now();
      return executeTool(service, tool, args, secret, {
        timeoutMs: deps.limits.upstreamTimeoutMs,
        signal: ctx.signal,
      });
    },
    ctx.readAhead,
  );
  if (!outcome.ok && outcome.error === "EXPIRED_CREDENTIALS") {
    refusal = await confirmRefusal(ctx, secret, outcome);
    // What the call turned out to be, for metrics and the audit trail.
    if (refusal.verdict === "forbidden") outcome = { ...outcome, error: "UPSTREAM_ERROR" };
    if (refusal.verdict === "unchecked") outcome = { ...outcome, error: "SERVICE_UNAVAILABLE" };
  }
  const ended = performance.now();
  const latencyMs = Math.round(ended - started);
  // A key re-check after a refusal counts as upstream time too.
  const upstreamMs = upstreamStarted < 0 ? undefined : Math.round(ended - upstreamStarted);
  const status = outcome.ok ? "ok" : outcome.error;
  recordToolCall(deps, instance, {
    tool: tool.name,
    status,
    latencyMs,
    upstreamMs,
    requestId: ctx.requestId,
  });

  if (outcome.ok) return { content: [{ type: "text", text: outcome.text }] };
  if (refusal?.verdict === "forbidden") {
    // The message is the upstream's own (already redacted of the key by the executor).
    return errorResult(
      `${service.name} refused access to this resource (${refusal.message}). The stored credentials are still valid: the connected account (or the key's scopes) has no permission for it.`,
      { code: "FORBIDDEN" },
    );
  }
  if (refusal?.verdict === "unchecked") {
    return errorResult(
      `${service.name} refused the request (${refusal.message}) and is unavailable right now to re-check the stored credentials. Try again shortly.`,
      { code: "SERVICE_UNAVAILABLE" },
    );
  }
  switch (outcome.error) {
    case "BAD_REQUEST":
      return errorResult(`Invalid arguments for tool ${tool.name}: ${outcome.message}`, {
        code: "BAD_REQUEST",
      });
    case "EXPIRED_CREDENTIALS":
      // Reached only once the key itself failed validation.
      await deps.resolver.markNeedsReauth(instance);
      return errorResult(
        `${service.name} rejected the stored credentials (expired or revoked). Reconnect ${service.name} in the dashboard to get a new key in place.`,
        { code: "EXPIRED_CREDENTIALS" },
      );
    case "RATE_LIMITED": {
      // The wait is the upstream's own (Retry-After), passed on in words and as data a client can act on.
      const retryAfterSeconds = Math.max(1, Math.ceil((outcome.retryAfterMs ?? 1000) / 1000));
      return errorResult(
        `${service.name} is rate limiting this account: retry after ${retryAfterSeconds} seconds. Calls with these credentials wait until then.`,
        { code: "RATE_LIMIT_EXCEEDED", retryAfterMs: retryAfterSeconds * 1000 },
        { retryAfterSeconds },
      );
    }
    case "SERVICE_UNAVAILABLE":
      return errorResult(
        `${service.name} is unavailable right now (${outcome.message}). Try again shortly.`,
        {
          code: "SERVICE_UNAVAILABLE",
        },
      );
    default:
      return errorResult(`${service.name} answered with an error: ${outcome.message}`);
  }
}

/** No upstream call: the credential did not open (see `unopenedCredential` for what is marked). */
async function unusableCredential(ctx: CallContext, tool: string, started: number): Promise<CallToolResult> {
  const { status, message } = await unopenedCredential(ctx.deps, ctx.instance, ctx.service.name);
  const latencyMs = Math.round(performance.now() - started);
  recordToolCall(ctx.deps, ctx.instance, { tool, status, latencyMs, requestId: ctx.requestId });
  return errorResult(message, { code: status });
}
