import { backOff } from "./breaker.ts";
import type { BodyErrorsConfig } from "./definition.ts";
import { type CursorSigner, cursorSigner, encodeCursor, nextMarker, pageFromCursor } from "./pagination.ts";
import { getPath, pickFields } from "./paths.ts";
import { ownerQueueShare } from "./pool.ts";
import { createRedactor, type Redactor } from "./redact.ts";
import {
  buildRequest,
  type CredentialParts,
  isSendableCredential,
  type PageParam,
  resolveBaseUrl,
} from "./request.ts";
import type { AccountInfo, KeyValidation, ServiceDefinition, ToolDefinition, ToolOutcome } from "./types.ts";
import { callUpstream, isRateLimited, type UpstreamResult } from "./upstream.ts";

export interface ExecuteOptions {
  signal?: AbortSignal;
  /**
   * Whole-call deadline (waiting for a pooled connection included): for tools, the tool's own `timeoutMs`
   * when its definition sets one, else this, else DEFAULT_TOOL_TIMEOUT_MS; 5 s for key validation.
   */
  timeoutMs?: number;
  /** Bytes of an answer read at most; a larger one is cut there (with a note) and the rest never read. 10 MB by default. */
  maxResponseBytes?: number;
}

const MAX_RESPONSE_BYTES = 10 * 1024 * 1024;
/** A tool call's upstream deadline when neither its definition nor the caller sets one. */
export const DEFAULT_TOOL_TIMEOUT_MS = 30_000;
const MAX_MESSAGE_CHARS = 500;
const MAX_EXCERPT_CHARS = 200;
/** Characters dropped from the end of a cut answer: more than the longest form of any secret (4 KB, escaped). */
const CUT_MARGIN = 64 * 1024;
/** Characters of a result handed to the model unless the tool says otherwise. */
export const DEFAULT_MAX_CHARS = 100_000;

/** The user's key, plus the extra fields a service needs. */
export type UpstreamCredential = string | CredentialParts;

const credentialParts = (c: UpstreamCredential): CredentialParts =>
  typeof c === "string" ? { apiKey: c } : c;

/**
 * Redactors built for a credential object, per service: building one (every encoded form of every secret,
 * one pattern) cost more than the rest of a call's own work. Keyed on the object, so a credential the edge
 * keeps opened for a while (frozen) reuses its redactor, and one dropped takes its redactor with it.
 */
const redactors = new WeakMap<object, { service: object | undefined; redactor: Redactor }>();

/**
 * Every secret value of a credential, which must never come back out of an upstream's answer: the key and
 * each additional field, except those the service declares as not secret (an email, a site name).
 */
export function credentialRedactor(
  credential: UpstreamCredential,
  service?: Pick<ServiceDefinition, "additionalCredentials">,
): Redactor {
  // Only a frozen credential is remembered: one that can still change must not keep an old redactor.
  if (typeof credential === "object" && Object.isFrozen(credential)) {
    const hit = redactors.get(credential);
    if (hit && hit.service === service) return hit.redactor;
    const redactor = buildCredentialRedactor(credential, service);
    redactors.set(credential, { service, redactor });
    return redactor;
  }
  return buildCredentialRedactor(credential, service);
}

function buildCredentialRedactor(
  credential: UpstreamCredential,
  service?: Pick<ServiceDefinition, "additionalCredentials">,
): Redactor {
  const { apiKey, additional } = credentialParts(credential);
  const open = new Set(service?.additionalCredentials.filter((f) => !f.secret).map((f) => f.name));
  const secrets = Object.entries(additional ?? {})
    .filter(([name]) => !open.has(name))
    .map(([, value]) => value);
  return createRedactor([apiKey, ...secrets]);
}

/** Runs one tool against the upstream with the user's credential; expected failures are results, not throws. */
export async function executeTool(
  service: ServiceDefinition,
  tool: ToolDefinition | string,
  args: unknown,
  credential: UpstreamCredential,
  opts: ExecuteOptions = {},
): Promise<ToolOutcome> {
  const parts = credentialParts(credential);
  const def = typeof tool === "string" ? service.getTool(tool) : tool;
  if (!def) return { ok: false, error: "BAD_REQUEST", message: `Unknown tool "${String(tool)}"` };
  const input = def.validateInput(args);
  if (!input.ok) return { ok: false, error: "BAD_REQUEST", message: input.message };
  if (!isSendableCredential(parts.apiKey)) {
    return {
      ok: false,
      error: "EXPIRED_CREDENTIALS",
      message: `The stored ${service.name} credential is unusable; reconnect the service.`,
    };
  }
  const baseUrl = resolveBaseUrl(service, parts);
  if (typeof baseUrl !== "string") return unusable(service, baseUrl.error);
  let page: PageParam | undefined;
  const { cursor, ...rest } = input.data;
  const sign = cursorSigner(parts.apiKey, service.type, def.name);
  if (def.pagination && typeof cursor === "string") {
    const decoded = pageFromCursor(def.pagination, cursor, baseUrl, sign);
    if ("error" in decoded) return { ok: false, error: "BAD_REQUEST", message: decoded.error };
    page = decoded;
  }
  const req = buildRequest(service, def.request, def.pagination ? rest : input.data, parts, page);
  if ("error" in req) return { ok: false, error: "BAD_REQUEST", message: req.error };

  const result = await callUpstream(service, parts, req, {
    signal: opts.signal,
    // The definition knows its slow tools (a large render), so its per-tool deadline wins over the caller's.
    timeoutMs: def.timeoutMs ?? opts.timeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS,
    maxBytes: opts.maxResponseBytes ?? MAX_RESPONSE_BYTES,
  });
  const redactor = credentialRedactor(parts, service);
  const outcome = toOutcome(service, result, redactor);
  // A rate limit reported in a body (Slack's `ratelimited` in a 200, Linear's RATELIMITED in a 400) pauses the
  // credential like a 429 does (the upstream layer already paused it for a 429, or a 403 with a wait).
  if (!outcome.ok && outcome.error === "RATE_LIMITED" && result.kind === "status" && !isRateLimited(result)) {
    backOff(service, parts, outcome.retryAfterMs ?? 30_000);
  }
  if (!outcome.ok || outcome.parsed === undefined) return finish(def, outcome);
  const marker = def.pagination
    ? nextMarker(def.pagination, outcome.parsed, linkOf(result), page, baseUrl)
    : undefined;
  return finish(def, outcome, cursorFor(service, marker, redactor, sign));
}

/**
 * The signed `nextCursor`. A next-page URL loses the key's query parameter (it is added again on the next
 * call), and no cursor is handed out while any form of a secret is still in it.
 */
function cursorFor(
  service: ServiceDefinition,
  marker: string | number | undefined,
  redactor: Redactor,
  sign: CursorSigner,
): string | undefined {
  if (marker === undefined) return undefined;
  let value = marker;
  if (typeof marker === "string" && service.auth.type === "query" && URL.canParse(marker)) {
    const url = new URL(marker);
    url.searchParams.delete(service.auth.name);
    value = url.toString();
  }
  if (typeof value === "string" && redactor.found(value)) return undefined;
  return encodeCursor(value, sign);
}

function unusable(service: ServiceDefinition, why: string): ToolOutcome {
  return {
    ok: false,
    error: "EXPIRED_CREDENTIALS",
    message: `The stored ${service.name} credential is unusable (${why}); reconnect the service.`,
  };
}

const linkOf = (r: UpstreamResult): string | null => (r.kind === "status" ? r.link : null);

/** A 2xx answer: parsed JSON, or (over the size limit) the first part of its text. */
type Answer =
  | { ok: true; status: number; parsed: unknown; cut?: undefined }
  | { ok: true; status: number; parsed?: undefined; cut: { text: string; declaredBytes: number | null } };
type Outcome = Answer | Extract<ToolOutcome, { ok: false }>;

/** The model's view of an answer: the tool's fields, `nextCursor`, and a cap with a note. */
function finish(tool: ToolDefinition, outcome: Outcome, next?: string): ToolOutcome {
  if (!outcome.ok) return outcome;
  const max = tool.response?.maxChars ?? DEFAULT_MAX_CHARS;
  if (outcome.cut) {
    const { text, declaredBytes } = outcome.cut;
    const size = declaredBytes ? `${formatBytes(declaredBytes)}` : "over the size limit";
    const note = `[Truncated: the response was ${size}, too large to read whole; only its first ${max.toLocaleString("en-US")} characters are shown, so it is not valid JSON. Ask for less: fewer fields, a smaller page, a narrower query.]`;
    return {
      ok: true,
      status: outcome.status,
      data: undefined,
      text: `${text.slice(0, max)}\n\n${note}`,
      truncated: true,
    };
  }
  const root = tool.response?.root ? getPath(outcome.parsed, tool.response.root) : outcome.parsed;
  let data = tool.response?.fields ? pickFields(root, tool.response.fields) : root;
  if (tool.pagination) {
    const page = typeof data === "object" && data !== null && !Array.isArray(data) ? data : { items: data };
    data = next === undefined ? page : { ...page, nextCursor: next };
  }
  const text = JSON.stringify(data) ?? "null";
  if (text.length <= max) return { ok: true, status: outcome.status, data, text };
  const note = `[Truncated: the result is ${text.length.toLocaleString("en-US")} characters; only the first ${max.toLocaleString("en-US")} are shown, so it is not valid JSON.${next ? " nextCursor was in the cut part; ask for a smaller page." : ""} Ask for less: fewer fields, a smaller page, a narrower query.]`;
  return {
    ok: true,
    status: outcome.status,
    data: undefined,
    text: `${text.slice(0, max)}\n\n${note}`,
    truncated: true,
  };
}

function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} MB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${n} bytes`;
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

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

function rateLimited(name: string, retryAfterMs: number, status?: number): Outcome {
  return {
    ok: false,
    error: "RATE_LIMITED",
    ...(status !== undefined && { status }),
    retryAfterMs,
    message: `${name} is rate limiting this account; retry after ${seconds(retryAfterMs)} s.`,
  };
}

/** A failure reported inside a body (Slack's `ok: false`, GraphQL's `errors`), with its code and message. */
function bodyError(
  rules: BodyErrorsConfig | undefined,
  value: unknown,
): { code?: string; message: string } | null {
  if (!rules) return null;
  const failedOk = rules.okPath !== undefined && getPath(value, rules.okPath) === false;
  const errors = rules.errorsPath !== undefined ? getPath(value, rules.errorsPath) : undefined;
  if (!failedOk && !(Array.isArray(errors) && errors.length > 0)) return null;
  const code = rules.codePath !== undefined ? getPath(value, rules.codePath) : undefined;
  const message = getPath(value, rules.messagePath);
  return {
    code: typeof code === "string" ? code : undefined,
    message: bounded(typeof message === "string" && message.trim() !== "" ? message : "request failed"),
  };
}

function toOutcome(service: ServiceDefinition, r: UpstreamResult, redactor: Redactor): Outcome {
  const { name } = service;
  switch (r.kind) {
    case "network":
      return { ok: false, error: "SERVICE_UNAVAILABLE", message: `Could not reach ${name}.` };
    case "timeout":
      return { ok: false, error: "SERVICE_UNAVAILABLE", message: `${name} did not answer in time.` };
    case "cancelled":
      return { ok: false, error: "SERVICE_UNAVAILABLE", message: "The request was cancelled." };
    case "backoff":
      return rateLimited(name, r.retryAfterMs);
    case "busy": {
      const { maxConnections, maxQueue } = r.limits;
      return {
        ok: false,
        error: "SERVICE_UNAVAILABLE",
        message:
          r.reason === "full"
            ? `${name} is busy: connections in use ${maxConnections}/${maxConnections}, calls queued ${maxQueue}/${maxQueue}`
            : r.reason === "share"
              ? `${name} is busy: connections in use ${maxConnections}/${maxConnections}, and this key's calls already fill ${ownerQueueShare(r.limits)} of the ${maxQueue} queued places (the most one key may take)`
              : `${name} is busy: no connection came free within ${r.waitedMs} ms`,
      };
    }
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
      if (r.status >= 200 && r.status < 300) {
        // Not JSON any more, so `\u` escapes are spelled out before redaction (a key written that way is
        // caught), and the tail is dropped: a secret cut in half at the byte limit must not survive.
        const text = r.prefix
          .slice(0, Math.max(0, r.prefix.length - CUT_MARGIN))
          .replace(/\\u([0-9a-fA-F]{4})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
        return {
          ok: true,
          status: r.status,
          cut: { text: redactor.text(text), declaredBytes: r.declaredBytes },
        };
      }
      return {
        ok: false,
        error: r.status === 429 ? "RATE_LIMITED" : "UPSTREAM_ERROR",
        status: r.status,
        message: `${name} error ${r.status} (with an oversized body).`,
      };
  }
  const { status } = r;
  const { text, json } = readBody(r.body, redactor);
  if (status === 429 || (status === 403 && r.retryAfterMs !== null)) {
    return rateLimited(name, r.retryAfterMs ?? 30_000, status);
  }
  const inBody = json.ok ? bodyError(service.bodyErrors, json.value) : null;
  if (inBody) {
    const rules = service.bodyErrors;
    if (inBody.code && rules?.rateLimitCodes.includes(inBody.code))
      return rateLimited(name, r.retryAfterMs ?? 30_000, status);
    const auth = inBody.code !== undefined && rules?.authCodes.includes(inBody.code);
    return {
      ok: false,
      error: auth ? "EXPIRED_CREDENTIALS" : status >= 500 ? "SERVICE_UNAVAILABLE" : "UPSTREAM_ERROR",
      status,
      message: `${name} error${inBody.code ? ` ${inBody.code}` : ""}: ${inBody.message}`,
    };
  }
  if (status >= 200 && status < 300) {
    if (json.ok) return { ok: true, status, parsed: json.value };
    // An HTML error page or a truncated body behind a 200 is not an answer (and is never cached).
    const type = r.contentType ? `, ${r.contentType.split(";")[0]}` : "";
    return {
      ok: false,
      error: "UPSTREAM_ERROR",
      status,
      message: `${name} sent a response that is not JSON (HTTP ${status}${type}): ${excerpt(text)}`,
    };
  }
  const data = json.ok ? json.value : excerpt(text);
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
  if (status >= 500)
    return { ok: false, error: "SERVICE_UNAVAILABLE", status, message: `${name} failed (${status}).` };
  return {
    ok: false,
    error: "UPSTREAM_ERROR",
    status,
    message: `${name} error ${status}: ${upstreamMessage(data)}`,
  };
}

const bounded = (text: string) =>
  text.length > MAX_MESSAGE_CHARS ? `${text.slice(0, MAX_MESSAGE_CHARS)}…` : text;

/**
 * The human part of an upstream error body: Figma's `{ status, err }`, `{ error, message }`, Stripe's
 * `{ error: { message } }`, GraphQL's `{ errors: [{ message }] }`, Jira's `{ errorMessages: [...], errors:
 * { field: message } }`, GitHub's `{ message, errors: [{ field, code, message? }] }` — with the per-field
 * details when there are any, since they are what lets the model fix its input.
 */
export function upstreamMessage(data: unknown): string {
  let text = "request failed";
  if (typeof data === "string" && data.trim() !== "") text = data;
  else if (typeof data === "object" && data !== null) {
    const candidate = [
      getPath(data, "err"),
      getPath(data, "message"),
      getPath(data, "error"),
      getPath(data, "error.message"),
      getPath(data, "errors.0.message"),
      getPath(data, "errorMessages.0"),
      getPath(data, "error_description"),
    ].find((v) => typeof v === "string" && v.trim() !== "");
    if (typeof candidate === "string") text = candidate;
    const details = errorDetails(getPath(data, "errors")).filter((d) => d !== text);
    if (details.length > 0) text = `${text} (${details.join("; ")})`;
  }
  return bounded(text);
}

/** Per-field error details: a list of `{ field?, code?, message? }` or strings, or a `{ field: message }` map. */
function errorDetails(errors: unknown): string[] {
  const out: string[] = [];
  if (Array.isArray(errors)) {
    for (const e of errors.slice(0, 10)) {
      if (typeof e === "string") out.push(e);
      else if (typeof e === "object" && e !== null) {
        const field = getPath(e, "field") ?? getPath(e, "param");
        const message = getPath(e, "message") ?? getPath(e, "code");
        if (typeof message !== "string") continue;
        out.push(typeof field === "string" ? `${field}: ${message}` : message);
      }
    }
  } else if (typeof errors === "object" && errors !== null) {
    for (const [field, message] of Object.entries(errors).slice(0, 10)) {
      if (typeof message === "string") out.push(`${field}: ${message}`);
    }
  }
  return out;
}

/** A value from the validation answer for "connected as ...": short text only. */
function accountField(value: unknown): string | undefined {
  if (typeof value === "number") return String(value);
  if (typeof value !== "string" || value.trim() === "") return undefined;
  return value.length > 200 ? value.slice(0, 200) : value;
}

function accountOf(service: ServiceDefinition, value: unknown): AccountInfo | undefined {
  const paths = service.validation.account;
  if (!paths) return undefined;
  const account: AccountInfo = {};
  for (const key of ["id", "name", "email"] as const) {
    const path = paths[key];
    const field = path === undefined ? undefined : accountField(getPath(value, path));
    if (field !== undefined) account[key] = field;
  }
  return Object.keys(account).length > 0 ? account : undefined;
}

/** Checks a key with the service's validation request before it is stored; says whose account it is. */
export async function validateKey(
  service: ServiceDefinition,
  credential: UpstreamCredential,
  opts: ExecuteOptions = {},
): Promise<KeyValidation> {
  const parts = credentialParts(credential);
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
  if (!isSendableCredential(parts.apiKey)) return invalid;
  const { validation } = service;
  const spec = { method: validation.method, path: validation.path, bodyTemplate: validation.body };
  const req = buildRequest(service, spec, {}, parts);
  // A credential whose additional fields cannot form a request (a site that is not a site) is not valid.
  if ("error" in req) return invalid;
  const r = await callUpstream(service, parts, req, {
    signal: opts.signal,
    backoff: false,
    timeoutMs: opts.timeoutMs ?? 5_000,
    maxBytes: opts.maxResponseBytes ?? MAX_RESPONSE_BYTES,
  });
  if (r.kind !== "status") return unchecked;
  const { status } = r;
  if (status === 429 || (status === 403 && r.retryAfterMs !== null)) return unchecked;
  const json = readBody(r.body, credentialRedactor(parts, service)).json;
  const inBody = json.ok ? bodyError(service.bodyErrors, json.value) : null;
  // Only a code the definition names as an auth failure says the key is bad; any other failure in the
  // body (a rate limit, an upstream problem) says nothing about it.
  if (inBody) return inBody.code && service.bodyErrors?.authCodes.includes(inBody.code) ? invalid : unchecked;
  // A 2xx that is not JSON (a captive portal's or proxy's HTML page) proves nothing about the key.
  if (status >= 200 && status < 300) {
    if (!json.ok) return unchecked;
    const account = accountOf(service, json.value);
    return account ? { ok: true, account } : { ok: true };
  }
  // A 401 refuses the key whatever its body (Jira answers in plain text). Another 4xx refuses it only when
  // the API itself answered (JSON): an HTML 403 from a WAF or proxy, a 408 or a 425 says nothing about it.
  if (status === 401) return invalid;
  if (status >= 400 && status < 500 && status !== 408 && status !== 425 && json.ok && r.body.trim() !== "") {
    return invalid;
  }
  return unchecked;
}
