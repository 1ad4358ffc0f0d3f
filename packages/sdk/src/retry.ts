/** How retries wait. Every field is optional in `createClient`'s `backoff`. */
export interface Backoff {
  /** The first retry waits up to this long (default 500 ms); each further one up to twice as long. */
  initialMs: number;
  /** Upper bound of one exponential wait (default 8 s). */
  maxMs: number;
  /**
   * The longest `Retry-After` the SDK waits out (default 60 s); a longer one is not retried and surfaces as
   * the error (e.g. `RateLimitError.retryAfterMs`), so the caller decides.
   */
  maxRetryAfterMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 500, maxMs: 8_000, maxRetryAfterMs: 60_000 };

/** Statuses worth another attempt: timeouts, rate limits and server-side failures. */
export function retryableStatus(status: number, mutation = false): boolean {
  // A mutation's 500 is not asked again: the server keeps no 5xx answer under its Idempotency-Key, so a 500
  // that came after the change was made would make it a second time. 502/503/504 say the request did not get
  // through (or the database was down: nothing was written).
  if (mutation && status === 500) return false;
  return status === 408 || status === 429 || status >= 500;
}

/** Exponential backoff with full jitter: uniform in [0, min(maxMs, initialMs · 2^retry)). */
export function backoffDelay(retry: number, backoff: Backoff, random: () => number = Math.random): number {
  const ceiling = Math.min(backoff.maxMs, backoff.initialMs * 2 ** retry);
  return Math.floor(random() * ceiling);
}

/**
 * Milliseconds a `Retry-After` header asks for: delay-seconds or an HTTP date (a past date is 0).
 * Undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  if (!/[a-z]/i.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * The longest delay a timer takes (2^31 - 1 ms, about 24.8 days): Node and Bun fire a longer one after 1 ms, so
 * every wait and timeout is clamped to it (a `timeout` of `Number.MAX_SAFE_INTEGER` means "no timeout", not
 * "time out at once").
 */
export const MAX_DELAY_MS = 2_147_483_647;

/** Resolves after `ms` (at most `MAX_DELAY_MS`), or rejects with the signal's reason once it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(done, Math.min(ms, MAX_DELAY_MS));
    function done() {
      signal?.removeEventListener("abort", aborted);
      resolve();
    }
    function aborted() {
      clearTimeout(timer);
      reject(signal?.reason);
    }
    signal?.addEventListener("abort", aborted, { once: true });
  });
}
