import {
  type BreakerScope,
  backOff,
  backoffRemaining,
  breakersFor,
  type Circuit,
  type CredentialRef,
} from "./breaker.ts";
import { type PoolLimits, poolFor } from "./pool.ts";
import type { UpstreamRequest } from "./request.ts";

/** The response headers the executor reads (paging and rate limits); nothing else is kept. */
export interface UpstreamHeaders {
  contentType: string | null;
  link: string | null;
  /** How long the upstream asks us to wait, from `Retry-After` or an exhausted `X-RateLimit-*`. */
  retryAfterMs: number | null;
}

export type UpstreamResult =
  /** The body as text, unparsed: the caller redacts secrets from it before anything else reads it. */
  | ({ kind: "status"; status: number; body: string } & UpstreamHeaders)
  /** Over `maxBytes`: only its first `maxBytes` were read (the rest was never buffered). */
  | ({ kind: "too_large"; status: number; prefix: string; declaredBytes: number | null } & UpstreamHeaders)
  /** The upstream told this credential to wait (429) and the wait is not over; nothing was sent. */
  | { kind: "backoff"; retryAfterMs: number }
  | { kind: "network" }
  | { kind: "timeout" }
  | { kind: "cancelled" }
  | { kind: "open"; scope: BreakerScope }
  /**
   * The service's connection pool had no free connection: its queue was full (`full`, refused at once), or
   * none came free in time (`timeout`). Nothing was sent.
   */
  | { kind: "busy"; reason: "full" | "share" | "timeout"; limits: PoolLimits; waitedMs: number };

export interface CallOptions {
  signal?: AbortSignal;
  /**
   * Honour and record the credential's upstream-requested wait (429s); default true. Off for key checks: a
   * user connecting a key gets the upstream's own answer each time (connects have their own limit).
   */
  backoff?: boolean;
  timeoutMs: number;
  maxBytes: number;
}

const RETRY_BACKOFF_MS = 100;

// Thrown by an attempt when no pooled connection was free: it says nothing about the upstream's health.
class PoolBusy extends Error {
  constructor(readonly reason: "full" | "share" | "timeout") {
    super(reason);
  }
}

/**
 * One upstream call through two circuit breakers, with one retry for GETs that never connected: the
 * caller's own (keyed by its credential; opened by 500s and timeouts, which a caller can provoke) around
 * the service's shared one (opened by connection failures and 502/503/504 only). Each attempt holds one
 * connection of the service's pool (see pool.ts) while it is sent and its answer read.
 */
export async function callUpstream(
  service: { type?: string; pool?: Partial<PoolLimits> },
  credential: CredentialRef,
  req: UpstreamRequest,
  opts: CallOptions,
): Promise<UpstreamResult> {
  // One deadline for the whole call, queueing, retry and body included, so callers get a hard bound.
  const deadline = AbortSignal.timeout(opts.timeoutMs);
  const pool = poolFor(service);
  // `owner`: the credential's id; the pool shares its connections fairly between them (see UpstreamPool).
  const once = async (owner: string): Promise<UpstreamResult> => {
    const slot = await pool.acquire(opts.signal, deadline, owner);
    if (!slot.ok) {
      if (slot.reason === "cancelled") return { kind: "cancelled" };
      throw new PoolBusy(slot.reason);
    }
    try {
      // A cold pool first checks that the host accepts a connection within connectTimeoutMs (a warm one
      // needs no check, nor the combined signal bounding it).
      if (!pool.warm()) {
        const signal = opts.signal ? AbortSignal.any([deadline, opts.signal]) : deadline;
        if ((await pool.reach(req.url, signal)) !== "ok") return { kind: "network" };
      }
      const result = await attempt(req, deadline, opts);
      if (result.kind === "status" || result.kind === "too_large") pool.heard();
      return result;
    } finally {
      slot.release();
    }
  };
  const backoff = opts.backoff ?? true;
  const waiting = backoff ? backoffRemaining(service, credential) : 0;
  if (waiting > 0) return { kind: "backoff", retryAfterMs: waiting };
  const { shared, own, id } = breakersFor(service, credential);
  let result: UpstreamResult;
  try {
    result = await throughBreakers(shared, own, () => once(id), req.method);
  } catch (err) {
    if (!(err instanceof PoolBusy)) throw err;
    const { limits } = pool;
    const waitedMs = err.reason === "timeout" ? Math.min(limits.queueTimeoutMs, opts.timeoutMs) : 0;
    return { kind: "busy", reason: err.reason, limits, waitedMs };
  }
  if (backoff && isRateLimited(result))
    backOff(service, credential, result.retryAfterMs ?? DEFAULT_BACKOFF_MS);
  return result;
}

/** A 429, or a refusal whose `X-RateLimit-Remaining` is 0 (GitHub answers those 403). */
export function isRateLimited(r: UpstreamResult): r is Extract<UpstreamResult, { kind: "status" }> {
  return r.kind === "status" && (r.status === 429 || (r.status === 403 && r.retryAfterMs !== null));
}

/** Used when a 429 names no wait. */
const DEFAULT_BACKOFF_MS = 30_000;

/**
 * `once` through the caller's own breaker and the service's shared one (see `Circuit`), the own one asked first;
 * a GET that never connected is tried once more, inside both. A result counts towards each breaker's failures
 * as that breaker's rule says; a call the caller hung up on, or that found no free pooled connection (thrown),
 * counts towards neither.
 */
async function throughBreakers(
  shared: Circuit,
  own: Circuit,
  once: () => Promise<UpstreamResult>,
  method: string,
): Promise<UpstreamResult> {
  const ownPass = own.enter();
  if (ownPass === undefined) return { kind: "open", scope: "credential" };
  const sharedPass = shared.enter();
  if (sharedPass === undefined) {
    own.abandon(ownPass);
    return { kind: "open", scope: "service" };
  }
  let result: UpstreamResult;
  try {
    result = await once();
    // Only a GET whose connection failed is safe to repeat; a timed-out or POST request may have been applied
    // upstream already.
    if (result.kind === "network" && method === "GET") {
      await Bun.sleep(RETRY_BACKOFF_MS + Math.random() * RETRY_BACKOFF_MS);
      result = await once();
    }
  } catch (err) {
    shared.abandon(sharedPass);
    own.abandon(ownPass);
    throw err;
  }
  if (result.kind === "cancelled") {
    shared.abandon(sharedPass);
    own.abandon(ownPass);
    return result;
  }
  shared.settle(sharedPass, result);
  own.settle(ownPass, result);
  return result;
}

/**
 * One request and its answer, read whole (bounded). Its one abort controller is tripped by the call's
 * deadline, by the caller hanging up, or by a body cut at the size limit: the connection is then dropped
 * rather than handed back to the pool with the rest of the body unread (the next request on it would read
 * that as its answer). One controller and two listeners, not `AbortSignal.any` chains: this runs per call.
 */
async function attempt(
  req: UpstreamRequest,
  deadline: AbortSignal,
  opts: CallOptions,
): Promise<UpstreamResult> {
  const caller = opts.signal;
  const stop = new AbortController();
  const abort = () => stop.abort();
  if (deadline.aborted || caller?.aborted) stop.abort();
  deadline.addEventListener("abort", abort, { once: true });
  caller?.addEventListener("abort", abort, { once: true });
  try {
    // Redirects are not followed: the credential header must never travel to another host.
    const res = await fetch(req.url, {
      method: req.method,
      headers: req.headers,
      body: req.body,
      signal: stop.signal,
      redirect: "manual",
    });
    const headers = upstreamHeaders(res);
    const read = await readBounded(res, opts.maxBytes);
    if (read.truncated) stop.abort();
    const { text } = read;
    // A 403 that says it is a rate limit but names no wait (GitHub's secondary limits): a minute.
    if (res.status === 403 && headers.retryAfterMs === null && RATE_LIMIT_WORDS.test(text.slice(0, 2000))) {
      headers.retryAfterMs = 60_000;
    }
    if (read.truncated) {
      const declared = Number(res.headers.get("content-length"));
      const declaredBytes = Number.isFinite(declared) && declared > 0 ? declared : null;
      return { kind: "too_large", status: res.status, prefix: text, declaredBytes, ...headers };
    }
    return { kind: "status", status: res.status, body: text, ...headers };
  } catch {
    if (caller?.aborted) return { kind: "cancelled" };
    if (deadline.aborted) return { kind: "timeout" };
    return { kind: "network" };
  } finally {
    deadline.removeEventListener("abort", abort);
    caller?.removeEventListener("abort", abort);
  }
}

const UTF8 = new TextDecoder();

const MAX_WAIT_MS = 60 * 60_000;
const RATE_LIMIT_WORDS = /\brate[ -]?limit(ed)?\b/i;

/**
 * The budgets an upstream reports as `<prefix>-remaining` and `<prefix>-reset`: GitHub's (and many APIs')
 * `x-ratelimit-*`, Linear's per-request and per-complexity buckets.
 */
const BUDGETS = ["x-ratelimit", "x-ratelimit-requests", "x-ratelimit-complexity"];

/**
 * `Retry-After` (seconds or an HTTP date), else an exhausted budget (`X-RateLimit-Remaining: 0`, or Linear's
 * `X-RateLimit-Requests-Remaining` / `-Complexity-Remaining`) with its reset time.
 */
export function retryAfterMs(headers: Headers, now = Date.now()): number | null {
  const clamp = (ms: number) => Math.min(Math.max(Math.ceil(ms), 1000), MAX_WAIT_MS);
  const retryAfter = headers.get("retry-after")?.trim();
  if (retryAfter) {
    if (/^[0-9]+(\.[0-9]+)?$/.test(retryAfter)) return clamp(Number(retryAfter) * 1000);
    const date = Date.parse(retryAfter);
    if (!Number.isNaN(date)) return clamp(date - now);
  }
  for (const budget of BUDGETS) {
    if (headers.get(`${budget}-remaining`)?.trim() !== "0") continue;
    const reset = Number(headers.get(`${budget}-reset`));
    // Epoch milliseconds (Linear), epoch seconds (GitHub) or, when small, seconds from now.
    if (Number.isFinite(reset) && reset > 0)
      return clamp(reset > 1e12 ? reset - now : reset > 1e9 ? reset * 1000 - now : reset * 1000);
    return clamp(60_000);
  }
  return null;
}

function upstreamHeaders(res: Response): UpstreamHeaders {
  // A refusal may be a rate limit whatever its status: 429, GitHub's 403, Linear's 400 with RATELIMITED in the
  // body (the executor tells from the body); a success never is.
  const limited = res.status >= 400;
  return {
    contentType: res.headers.get("content-type"),
    link: res.headers.get("link"),
    retryAfterMs: limited ? retryAfterMs(res.headers) : null,
  };
}

/**
 * Reads the body, as text, up to `max` bytes. A larger body is cut there: the rest is never read, let alone
 * buffered, and the connection is dropped. A body that declares its length within `max` and is not
 * compressed (the common case) is read whole at once as text: HTTP framing holds it to that length,
 * while a compressed one may inflate past its declared size, so it is counted as it streams.
 */
async function readBounded(res: Response, max: number): Promise<{ text: string; truncated: boolean }> {
  if (!res.body) return { text: "", truncated: false };
  const declared = res.headers.get("content-length");
  const encoding = res.headers.get("content-encoding");
  if (declared !== null && Number(declared) <= max && (encoding === null || encoding === "identity")) {
    return { text: await res.text(), truncated: false };
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (size + value.byteLength > max) {
      chunks.push(value.subarray(0, max - size));
      await reader.cancel();
      return { text: UTF8.decode(Buffer.concat(chunks)), truncated: true };
    }
    size += value.byteLength;
    chunks.push(value);
  }
  return { text: UTF8.decode(Buffer.concat(chunks)), truncated: false };
}
