import type { AppRouter } from "@mcp/control-plane/router";
import type { Operation, TRPCLink } from "@trpc/client";
import { observable } from "@trpc/server/observable";
import {
  AbortedError,
  ConnectionError,
  type ErrorShape,
  errorFromResponse,
  McpPlatformError,
  TimeoutError,
} from "./errors.ts";
import {
  type Backoff,
  backoffDelay,
  MAX_DELAY_MS,
  parseRetryAfter,
  retryableStatus,
  sleep,
} from "./retry.ts";

/** The part of `fetch` the SDK uses. */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

export interface TransportConfig {
  /** `<baseUrl>/trpc`, without a trailing slash. */
  url: string;
  apiKey: string;
  fetch: FetchLike;
  maxRetries: number;
  timeout: number;
  headers: Record<string, string>;
  backoff: Backoff;
}

/** What a call may override (carried in the operation's context). */
export interface CallContext {
  timeout?: number;
  maxRetries?: number;
  headers?: Record<string, string>;
  idempotencyKey?: string;
}

type Outcome =
  | { ok: true; data: unknown }
  | { ok: false; error: McpPlatformError; retryable: boolean; retryAfterMs?: number };

/**
 * The terminating link: one HTTP request per call (no batching, so retries and idempotency are per call),
 * typed errors, and retries with backoff. A mutation carries one `Idempotency-Key` across its retries.
 */
export function platformLink(cfg: TransportConfig): TRPCLink<AppRouter> {
  return () =>
    ({ op }) =>
      observable((observer) => {
        const stop = new AbortController();
        const signal = op.signal ? AbortSignal.any([op.signal, stop.signal]) : stop.signal;
        call(cfg, op, signal).then(
          (data) => {
            observer.next({ result: { type: "data", data } });
            observer.complete();
          },
          (error: unknown) => observer.error(asPlatformError(error)),
        );
        return () => stop.abort();
      });
}

async function call(cfg: TransportConfig, op: Operation, signal: AbortSignal): Promise<unknown> {
  if (op.type === "subscription") {
    throw new McpPlatformError("Subscriptions are not supported", { code: "BAD_REQUEST" });
  }
  const ctx = op.context as CallContext;
  const maxRetries = ctx.maxRetries ?? cfg.maxRetries;
  const timeout = ctx.timeout ?? cfg.timeout;
  const headers = new Headers({ accept: "application/json" });
  headers.set("authorization", `Bearer ${cfg.apiKey}`);
  for (const [name, value] of Object.entries({ ...cfg.headers, ...ctx.headers })) {
    // Node's Headers quotes a refused value in its error: name the header, never show its value (a secret).
    try {
      headers.set(name, value);
    } catch {
      throw new McpPlatformError(`The header "${name}" has a name or value no HTTP header may have`, {
        code: "CLIENT_ERROR",
      });
    }
  }

  let url = `${cfg.url}/${op.path}`;
  const init: RequestInit = { method: op.type === "query" ? "GET" : "POST", headers };
  if (op.type === "query") {
    if (op.input !== undefined) url += `?input=${encodeURIComponent(JSON.stringify(op.input))}`;
  } else {
    headers.set("content-type", "application/json");
    if (!headers.has("idempotency-key")) {
      headers.set("idempotency-key", ctx.idempotencyKey ?? crypto.randomUUID());
    }
    if (op.input !== undefined) init.body = JSON.stringify(op.input);
  }

  for (let retry = 0; ; retry++) {
    const outcome = await attempt(cfg, url, init, timeout, signal);
    if (outcome.ok) return outcome.data;
    const { error, retryable, retryAfterMs } = outcome;
    if (!retryable || retry >= maxRetries) throw error;
    if (retryAfterMs !== undefined && retryAfterMs > cfg.backoff.maxRetryAfterMs) throw error;
    try {
      await sleep(retryAfterMs ?? backoffDelay(retry, cfg.backoff), signal);
    } catch (reason) {
      throw aborted(reason);
    }
  }
}

async function attempt(
  cfg: TransportConfig,
  url: string,
  init: RequestInit,
  timeout: number,
  signal: AbortSignal,
): Promise<Outcome> {
  // Nothing is sent for a call aborted already (a fetch that ignores its signal would still send it).
  if (signal.aborted) return { ok: false, error: aborted(signal.reason), retryable: false };
  // A plain timer rather than AbortSignal.timeout, whose unref'd timer would not keep Node alive to fire.
  const deadline = new AbortController();
  const timer = setTimeout(
    () => deadline.abort(new DOMException("timed out", "TimeoutError")),
    Math.min(timeout, MAX_DELAY_MS),
  );
  const both = AbortSignal.any([signal, deadline.signal]);
  let res: Response;
  let body: unknown;
  try {
    // Raced against the signal as well: a custom fetch (or a body) that ignores it still times out and aborts.
    res = await untilAborted(cfg.fetch(url, { ...init, signal: both }), both);
    const text = await untilAborted(res.text(), both);
    body = parseJson(text);
  } catch (cause) {
    if (signal.aborted) return { ok: false, error: aborted(signal.reason), retryable: false };
    if (deadline.signal.aborted) {
      const error = new TimeoutError(`No answer within ${timeout} ms`, { code: "TIMEOUT", cause });
      return { ok: false, error, retryable: true };
    }
    const message = `Could not reach the control plane: ${cause instanceof Error ? cause.message : cause}`;
    return {
      ok: false,
      error: new ConnectionError(message, { code: "CONNECTION_ERROR", cause }),
      retryable: true,
    };
  } finally {
    clearTimeout(timer);
  }

  const result = field(body, "result");
  if (res.ok && result !== undefined) return { ok: true, data: field(result, "data") };
  const shape = errorShape(body);
  const requestId = res.headers.get("x-request-id") ?? stringField(body, "requestId");
  const retryAfterMs = parseRetryAfter(res.headers.get("retry-after")) ?? shape?.data.retryAfterMs;
  if (res.ok) {
    const error = new McpPlatformError("The control plane sent an answer that is not a tRPC result", {
      code: "INVALID_RESPONSE",
      status: res.status,
      requestId,
    });
    return { ok: false, error, retryable: false };
  }
  const error = errorFromResponse(res.status, shape, requestId, retryAfterMs);
  // A 409 with Retry-After is the server saying the same Idempotency-Key is still being served (an earlier
  // attempt that timed out here): asking again after the wait replays its answer.
  const inFlight = res.status === 409 && res.headers.has("retry-after");
  const mutation = init.method === "POST";
  return { ok: false, error, retryable: retryableStatus(res.status, mutation) || inFlight, retryAfterMs };
}

/** `work`'s outcome, or the signal's reason as soon as it aborts (`work` is then left to settle unobserved). */
function untilAborted<T>(pending: T | PromiseLike<T>, signal: AbortSignal): Promise<T> {
  const work = Promise.resolve(pending);
  return new Promise<T>((resolve, reject) => {
    const stop = () => {
      work.catch(() => {});
      reject(signal.reason);
    };
    if (signal.aborted) return stop();
    signal.addEventListener("abort", stop, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener("abort", stop);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", stop);
        reject(error);
      },
    );
  });
}

function aborted(reason: unknown): AbortedError {
  return new AbortedError("The call was aborted", { code: "ABORTED", cause: reason });
}

function asPlatformError(error: unknown): McpPlatformError {
  if (error instanceof McpPlatformError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new McpPlatformError(message, { code: "CLIENT_ERROR", cause: error });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function field(value: unknown, name: string): unknown {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>)[name] : undefined;
}

function stringField(value: unknown, name: string): string | undefined {
  const v = field(value, name);
  return typeof v === "string" ? v : undefined;
}

function errorShape(body: unknown): ErrorShape | undefined {
  const error = field(body, "error");
  const data = field(error, "data");
  if (typeof field(error, "message") !== "string" || typeof data !== "object" || data === null)
    return undefined;
  return error as ErrorShape;
}
