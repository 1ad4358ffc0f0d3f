import { describe, expect, test } from "bun:test";
import { backoffDelay, DEFAULT_BACKOFF, parseRetryAfter, retryableStatus, sleep } from "./retry.ts";

describe("backoff", () => {
  test("full jitter under an exponential ceiling capped at maxMs", () => {
    const backoff = { ...DEFAULT_BACKOFF, initialMs: 100, maxMs: 1000 };
    const almostOne = () => 0.999999;
    expect([0, 1, 2, 3, 4, 10].map((n) => backoffDelay(n, backoff, almostOne))).toEqual([
      99, 199, 399, 799, 999, 999,
    ]);
    expect(backoffDelay(3, backoff, () => 0)).toBe(0);
    expect(backoffDelay(1, backoff, () => 0.5)).toBe(100);
  });

  test("retryable: 408, 429 and every 5xx; no other status; a mutation's 500 is not retried", () => {
    expect([408, 429, 500, 502, 503, 504].every((s) => retryableStatus(s))).toBe(true);
    expect([200, 400, 401, 403, 404, 409, 413, 422].some((s) => retryableStatus(s))).toBe(false);
    expect([408, 429, 502, 503, 504].every((s) => retryableStatus(s, true))).toBe(true);
    expect(retryableStatus(500, true)).toBe(false);
  });
});

describe("Retry-After", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");
  test("delay-seconds and HTTP dates; a past date is 0", () => {
    expect(parseRetryAfter("0", now)).toBe(0);
    expect(parseRetryAfter(" 7 ", now)).toBe(7000);
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:30 GMT", now)).toBe(30_000);
    expect(parseRetryAfter("Wed, 31 Dec 2025 23:00:00 GMT", now)).toBe(0);
  });
  test("absent or unreadable → undefined", () => {
    for (const value of [null, "", "soon", "-1", "1.5", "12abc"]) {
      expect(parseRetryAfter(value, now)).toBeUndefined();
    }
  });
});

describe("sleep", () => {
  test("rejects with the signal's reason when aborted, before or during", async () => {
    const before = AbortSignal.abort(new Error("early"));
    await expect(sleep(10, before)).rejects.toThrow("early");
    const controller = new AbortController();
    const pending = sleep(60_000, controller.signal);
    controller.abort(new Error("late"));
    await expect(pending).rejects.toThrow("late");
  });
});
