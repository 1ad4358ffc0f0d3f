import { createRedactor, type Redactor } from "./redact.ts";
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
const MAX_EXCERPT_CHARS = 200;

/** The user's key, plus the extra fields a service needs (all of them treated as secrets). */
export type UpstreamCredential = string | { apiKey: string; additional?: Record<string, string> };

const credentialParts = (c: UpstreamCredential) => (typeof c === "string" ? { apiKey: c } : c);

/** Every value of a credential that must never come back out of an upstream's answer. */
export function credentialRedactor(credential: UpstreamCredential): Redactor {
  const { apiKey, additional } = credentialParts(credential);
  return createRedactor([apiKey, ...Object.values(additional ?? {})]);
}

/** Runs one tool against the upstream with the user's credential; expected failures are results, not throws. */
export async function executeTool(
  service: ServiceDefinition,
  tool: ToolDefinition | string,
  args: unknown,
  credential: UpstreamCredential,
  opts: ExecuteOptions = {},
): Promise<ToolOutcome> {
  const { apiKey } = credentialParts(credential);
  const def = typeof tool === "string" ? service.getTool(tool) : tool;
  if (!def) return { ok: false, error: "BAD_REQUEST", message: `Unknown tool "${String(tool)}"` };
  const input = def.validateInput(args);
  if (!input.ok) return { ok: false, error: "BAD_REQUEST", message: input.message };
  if (!isSendableCredential(apiKey)) {
    return {
      ok: false,
      error: "EXPIRED_CREDENTIALS",
      message: `The stored ${service.name} credential is unusable; reconnect the service.`,
    };
  }
  const req = buildRequest(service.baseUrl, service.auth, def.request, input.data, apiKey);
  if ("error" in req) return { ok: false, error: "BAD_REQUEST", message: req.error };

  const result = await callUpstream(service, apiKey, req, {
    signal: opts.signal,
    timeoutMs: opts.timeoutMs ?? 10_000,
    maxBytes: opts.maxResponseBytes ?? MAX_RESPONSE_BYTES,
  });
  return toOutcome(service.name, result, credentialRedactor(credential));
}

type Parsed = { ok: true; value: unknown } | { ok: false };

/**
 * The body, parsed, with the user's secrets gone before anything reads it (so no later cut can leave part
 * of one behind). JSON is redacted as a value — strings and keys, never numbers or structure, so it stays
 * JSON — whenever its text holds a form of a secret or an escape (`\u0041`, `\/`) that could spell one;
 * anything else is redacted as text.
 */
function readBody(body: string, redactor: Redactor): { text: string; json: Parsed } {
  if (body.trim() === "") return { text: "", json: { ok: true, value: null } };
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return { text: redactor.text(body), json: { ok: false } };
  }
  const suspect = redactor.found(body) || body.includes("\\u") || body.includes("\\/");
  return { text: "", json: { ok: true, value: suspect ? redactor.value(value) : value } };
}

/** A short, single-line piece of a body for an error message. */
function excerpt(text: string): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > MAX_EXCERPT_CHARS ? `${line.slice(0, MAX_EXCERPT_CHARS)}…` : line;
}

function toOutcome(name: string, r: UpstreamResult, redactor: Redactor): ToolOutcome {
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
  const { status } = r;
  const { text, json } = readBody(r.body, redactor);
  if (status >= 200 && status < 300) {
    if (json.ok) return { ok: true, status, data: json.value };
    // An HTML error page or a truncated body behind a 200 is not an answer (and is never cached).
    const type = r.contentType ? `, ${r.contentType.split(";")[0]}` : "";
    return {
      ok: false,
      error: "UPSTREAM_ERROR",
      status,
      message: `${name} sent a response that is not JSON (HTTP ${status}${type}): ${excerpt(text)}`,
    };
  }
  const data = json.ok ? json.value : text;
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

/** Checks a key with the service's validation request before it is stored. */
export async function validateKey(
  service: ServiceDefinition,
  credential: UpstreamCredential,
  opts: ExecuteOptions = {},
): Promise<KeyValidation> {
  const { apiKey } = credentialParts(credential);
  const invalid = {
    ok: false,
    error: "INVALID_API_KEY",
    message: `${service.name} rejected the API key.`,
  } as const;
  const unchecked = {
    ok: false,
    error: "SERVICE_UNAVAILABLE",
    message: `${service.name} could not check the key right now; try again.`,
  } as const;
  if (!isSendableCredential(apiKey)) return invalid;
  const spec: RequestSpec = service.validation;
  const req = buildRequest(service.baseUrl, service.auth, spec, {}, apiKey);
  if ("error" in req) throw new Error(`${service.type}: validation request cannot be built: ${req.error}`);
  const r = await callUpstream(service, apiKey, req, {
    signal: opts.signal,
    timeoutMs: opts.timeoutMs ?? 5_000,
    maxBytes: opts.maxResponseBytes ?? MAX_RESPONSE_BYTES,
  });
  const status = r.kind === "status" || r.kind === "too_large" ? r.status : 0;
  // A 2xx that is not JSON (a captive portal's or proxy's HTML page) proves nothing about the key.
  if (status >= 200 && status < 300)
    return r.kind === "status" && isJsonOrEmpty(r.body) ? { ok: true } : unchecked;
  // Any other 4xx means the upstream answered and refused this key; 429 says nothing about it.
  if (status >= 400 && status < 500 && status !== 429) return invalid;
  return unchecked;
}

function isJsonOrEmpty(body: string): boolean {
  if (body.trim() === "") return true;
  try {
    JSON.parse(body);
    return true;
  } catch {
    return false;
  }
}
