import { buildRequest, isSendableCredential, type RequestSpec } from "./request.ts";
import type { KeyValidation, ServiceDefinition, ToolDefinition, ToolOutcome } from "./types.ts";
import { callUpstream, type UpstreamResult } from "./upstream.ts";

export interface ExecuteOptions {
  signal?: AbortSignal;
  /** Whole-call deadline; 10 s for tools, 5 s for key validation. */
  timeoutMs?: number;
  /** Larger responses are refused rather than buffered; 10 MB by default. */
  maxResponseBytes?: number;
}

const MAX_RESPONSE_BYTES = 10 * 1024 * 1024;
const MAX_MESSAGE_CHARS = 500;

/** Runs one tool against the upstream with the user's credential; expected failures are results, not throws. */
export async function executeTool(
  service: ServiceDefinition,
  tool: ToolDefinition | string,
  args: unknown,
  credential: string,
  opts: ExecuteOptions = {},
): Promise<ToolOutcome> {
  const def = typeof tool === "string" ? service.getTool(tool) : tool;
  if (!def) return { ok: false, error: "BAD_REQUEST", message: `Unknown tool "${String(tool)}"` };
  const input = def.validateInput(args);
  if (!input.ok) return { ok: false, error: "BAD_REQUEST", message: input.message };
  if (!isSendableCredential(credential)) {
    return {
      ok: false,
      error: "EXPIRED_CREDENTIALS",
      message: `The stored ${service.name} credential is unusable; reconnect the service.`,
    };
  }
  const req = buildRequest(service.baseUrl, service.auth, def.request, input.data, credential);
  if ("error" in req) return { ok: false, error: "BAD_REQUEST", message: req.error };

  const result = await callUpstream(service, credential, req, {
    signal: opts.signal,
    timeoutMs: opts.timeoutMs ?? 10_000,
    maxBytes: opts.maxResponseBytes ?? MAX_RESPONSE_BYTES,
  });
  const outcome = toOutcome(service.name, result);
  // Upstreams sometimes echo what they were sent; the key must never reach a client or a log.
  return outcome.ok ? outcome : { ...outcome, message: redact(outcome.message, credential) };
}

function toOutcome(name: string, r: UpstreamResult): ToolOutcome {
  switch (r.kind) {
    case "network":
      return { ok: false, error: "SERVICE_UNAVAILABLE", message: `Could not reach ${name}.` };
    case "timeout":
      return { ok: false, error: "SERVICE_UNAVAILABLE", message: `${name} did not answer in time.` };
    case "cancelled":
      return { ok: false, error: "SERVICE_UNAVAILABLE", message: "The request was cancelled." };
    case "open":
      return {
        ok: false,
        error: "SERVICE_UNAVAILABLE",
        message:
          r.scope === "service"
            ? `${name} is failing; calls are paused briefly.`
            : `${name} kept failing on this account's recent requests; its calls are paused briefly.`,
      };
    case "too_large":
      return {
        ok: false,
        error: "UPSTREAM_ERROR",
        status: r.status,
        message: `${name} sent a response over the size limit.`,
      };
  }
  const { status, data } = r;
  if (status >= 200 && status < 300) return { ok: true, status, data };
  // Figma (like many APIs) answers 403 both for a bad key and for a resource the key may not access;
  // the caller tells them apart by re-validating the key. The message keeps the upstream's own words.
  if (status === 401 || status === 403) {
    return {
      ok: false,
      error: "EXPIRED_CREDENTIALS",
      status,
      message: `${name} error ${status}: ${upstreamMessage(data)}`,
    };
  }
  if (status === 429)
    return {
      ok: false,
      error: "SERVICE_UNAVAILABLE",
      status,
      message: `${name} is rate limiting this account; retry later.`,
    };
  if (status >= 500)
    return { ok: false, error: "SERVICE_UNAVAILABLE", status, message: `${name} failed (${status}).` };
  return {
    ok: false,
    error: "UPSTREAM_ERROR",
    status,
    message: `${name} error ${status}: ${upstreamMessage(data)}`,
  };
}

/** The human part of an upstream error body, e.g. Figma's `{ status, err }` or `{ error, status, message }`. */
export function upstreamMessage(data: unknown): string {
  let text = "request failed";
  if (typeof data === "string" && data.trim() !== "") text = data;
  else if (typeof data === "object" && data !== null) {
    const body: Record<string, unknown> = { ...data };
    const nested = typeof body.error === "object" && body.error !== null ? { ...body.error } : {};
    const candidate = [
      body.err,
      body.message,
      body.error,
      "message" in nested ? nested.message : undefined,
    ].find((v) => typeof v === "string" && v.trim() !== "");
    if (typeof candidate === "string") text = candidate;
  }
  return text.length > MAX_MESSAGE_CHARS ? `${text.slice(0, MAX_MESSAGE_CHARS)}…` : text;
}

function redact(message: string, credential: string): string {
  return credential.length > 0 ? message.replaceAll(credential, "[redacted]") : message;
}

/** Checks a key with the service's validation request before it is stored. */
export async function validateKey(
  service: ServiceDefinition,
  credential: string,
  opts: ExecuteOptions = {},
): Promise<KeyValidation> {
  const invalid = {
    ok: false,
    error: "INVALID_API_KEY",
    message: `${service.name} rejected the API key.`,
  } as const;
  if (!isSendableCredential(credential)) return invalid;
  const spec: RequestSpec = service.validation;
  const req = buildRequest(service.baseUrl, service.auth, spec, {}, credential);
  if ("error" in req) throw new Error(`${service.type}: validation request cannot be built: ${req.error}`);
  const r = await callUpstream(service, credential, req, {
    signal: opts.signal,
    timeoutMs: opts.timeoutMs ?? 5_000,
    maxBytes: opts.maxResponseBytes ?? MAX_RESPONSE_BYTES,
  });
  const status = r.kind === "status" || r.kind === "too_large" ? r.status : 0;
  if (status >= 200 && status < 300) return { ok: true };
  // Any other 4xx means the upstream answered and refused this key; 429 says nothing about it.
  if (status >= 400 && status < 500 && status !== 429) return invalid;
  return {
    ok: false,
    error: "SERVICE_UNAVAILABLE",
    message: `${service.name} could not check the key right now; try again.`,
  };
}
