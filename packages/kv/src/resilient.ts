import { createMemoryKv } from "./memory.ts";
import type { Kv, RateLimitResult } from "./types.ts";

/** How long one Redis call may take before the kv counts Redis as unreachable. */
export const DEFAULT_KV_TIMEOUT_MS = 100;
/**
 * Calls in a row that miss their deadline on a live connection before the kv counts Redis as down (one
 * slow answer on a busy host is served by the fallback, but does not switch the process over); a failed or
 * lost connection counts at once.
 */
const TIMEOUTS_BEFORE_DEGRADED = 3;
/** The most of a call's wait, in timeouts, that stalls of this process's own event loop may excuse. */
const MAX_STALL_CREDIT = 9;
/** How often a degraded kv pings Redis to find out whether it is back. */
export const DEFAULT_PROBE_EVERY_MS = 1_000;
/** How long one recovery probe waits for the channels subscribed during the outage to be live in Redis. */
const SUBSCRIBE_WAIT_MS = 1_000;

export interface ResilientKvOptions {
  /** Per-call deadline (default 100 ms): a call that takes longer fails over to the per-process fallback. */
  timeoutMs?: number;
  /** Ping interval while degraded (default 1 s). */
  probeEveryMs?: number;
  /** Told when an outage starts (with the failure that revealed it) and when it ends. */
  onStateChange?: (degraded: boolean, error?: Error) => void;
}

type Handler = (message: string) => void;

interface Channel {
  handlers: Set<Handler>;
  /** The subscription in the backend: none (never made, or failed), being made, or live. */
  remote: "none" | "pending" | "live";
  off?: () => Promise<void>;
}

/** Waits for `work` to settle, or for `ms`, whichever comes first (the work goes on either way). */
async function waitAtMost(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([work, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/** `answer()` as a promise, a synchronous throw as its rejection. */
function answerOf<T>(answer: () => T | Promise<T>): Promise<T> {
  try {
    return Promise.resolve(answer());
  } catch (error) {
    return Promise.reject(error);
  }
}

class Timeout extends Error {
  constructor(ms: number) {
    super(`kv call took longer than ${ms} ms`);
    this.name = "KvTimeout";
  }
}

/**
 * A caller's mistake (a bad TTL or cost) or an answer Redis gave on purpose (a wrong type): neither says
 * anything about whether Redis is reachable, so they reach the caller instead of failing over.
 */
const isCallerError = (error: unknown) =>
  error instanceof RangeError || (error instanceof Error && error.name === "ReplyError");

/**
 * Redis failure policy, around a Redis kv: every call has a deadline (100 ms); a call that fails, or the third
 * in a row to miss it, turns the kv *degraded*, and until a background ping finds Redis again every call is
 * served without touching Redis:
 * - storage and the rate limiter run on a fresh per-process in-memory kv, as if REDIS_URL were unset
 *   (limits hold per process: never a blanket refusal, never an error). Callers whose data has another
 *   source of truth check `degraded()` and skip the kv altogether: the response cache is bypassed and
 *   instance resolution reads the database;
 * - `publish` reaches this process's subscribers only; subscriptions made meanwhile are taken to Redis as
 *   soon as it answers again (ioredis re-subscribes the ones it already had). The outage ends once Redis
 *   answers a ping within a call's deadline *and* the subscriber connection has re-subscribed, so nothing
 *   published after the end of an outage goes unheard.
 *
 * On recovery the per-process state is dropped (Redis is the source of truth again) and listeners hear
 * `false`. `degradedMs()` is the total time spent degraded, for a metric.
 */
export function createResilientKv(inner: Kv, opts: ResilientKvOptions = {}): Kv {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_KV_TIMEOUT_MS;
  const probeEveryMs = opts.probeEveryMs ?? DEFAULT_PROBE_EVERY_MS;
  const listeners = new Set<(degraded: boolean) => void>();
  const channels = new Map<string, Channel>();
  // Made when first needed (an outage, or a lone call that missed its deadline) and dropped at recovery, so a
  // process whose Redis never fails holds none (kept ready, it held 6 MB while its caches were preallocated).
  let fallback: Kv | undefined;
  const fb = () => (fallback ??= createMemoryKv({ prefix: "" }));
  let degradedSince: number | null = null;
  let timeoutsInRow = 0;
  let degradedTotal = 0;
  let probe: ReturnType<typeof setInterval> | undefined;
  let probing = false;
  let closed = false;

  function notify(degraded: boolean, error?: Error): void {
    try {
      opts.onStateChange?.(degraded, error);
    } catch {
      // A failing reporter must not break the kv.
    }
    for (const listener of listeners) queueMicrotask(() => listener(degraded));
  }

  function degrade(error: unknown): void {
    if (degradedSince !== null || closed) return;
    degradedSince = performance.now();
    notify(true, error instanceof Error ? error : new Error(String(error)));
    probe = setInterval(() => void tryRecover(), probeEveryMs);
    probe.unref?.();
  }

  /**
   * Whether Redis answers a ping within a call's deadline. A slower answer is no recovery: the calls after it
   * would miss their deadlines again (a host short of CPU, Redis starved of it), and every switch back and
   * forth costs the calls in between a deadline's wait and drops the per-process state.
   */
  async function pingInTime(): Promise<{ up: boolean; inTime: boolean }> {
    const started = performance.now();
    // How late a timer due at once runs: this process's own lag, which held the answer up too (a stall is
    // not Redis's slowness, as for the calls; see `sweep`).
    const lag = new Promise<number>((resolve) => setTimeout(() => resolve(performance.now() - started), 0));
    const [up, lagMs] = await Promise.all([inner.ping(), lag]);
    return { up, inTime: up && performance.now() - started - lagMs <= timeoutMs };
  }

  /**
   * Ends the outage once Redis answers a ping in time *and* this process hears what is published again: the
   * subscriber connection has re-subscribed (ioredis does it after a reconnect) and the channels subscribed
   * during the outage are live in Redis. Before that, an invalidation published elsewhere could be missed.
   */
  async function tryRecover(alreadyPinged = false): Promise<void> {
    if (probing || degradedSince === null || closed) return;
    probing = true;
    try {
      if (!alreadyPinged && !(await pingInTime()).inTime) return;
      if (inner.listening?.() === false) return;
      const missing = [...channels].filter(([, channel]) => channel.remote === "none");
      // Bounded, so a probe never hangs: a SUBSCRIBE still pending is waited for by the next probe.
      await waitAtMost(
        Promise.all(missing.map(([name, channel]) => connect(name, channel).catch(() => {}))),
        SUBSCRIBE_WAIT_MS,
      );
      for (const channel of channels.values()) if (channel.remote !== "live") return;
      recover();
    } finally {
      probing = false;
    }
  }

  function recover(): void {
    if (degradedSince === null || closed) return;
    degradedTotal += performance.now() - degradedSince;
    degradedSince = null;
    timeoutsInRow = 0;
    clearInterval(probe);
    probe = undefined;
    // Redis is the source of truth again: what was kept per process meanwhile is forgotten.
    const old = fallback;
    fallback = undefined;
    void old?.close();
    notify(false);
  }

  function live(): void {
    if (closed) throw new Error("kv is closed");
  }

  // The deadlines of the calls in flight. Every call has the same timeout, so in insertion order (a Map's)
  // the oldest call is always the next to expire: one sweeping timer, running only while calls are in
  // flight, instead of a timer (and a race of promises) per call on the hot path. A call is given up on
  // between `timeoutMs` and 1.25 × `timeoutMs` after it started, not counting stalls:
  //
  // Time this process's event loop was held up (a long GC, a busy handler, a host short of CPU: the sweep
  // runs late) does not count against the calls in flight: answers that arrived meanwhile are still unread
  // in the socket, behind this very timer. Without this, one stall of 100 ms answered every call in flight
  // from the per-process fallback (a session "not found", an empty cache read) although Redis had answered
  // them in time. A call is credited at most MAX_STALL_CREDIT timeouts of it, so one that really goes
  // unanswered is still given up on however slow the loop stays. (The credit of a call started later is
  // never larger than its start is later, so the oldest call still expires first.)
  const inFlight = new Map<number, { started: number; stalledBefore: number; expire: () => void }>();
  const sweepEveryMs = Math.max(1, timeoutMs / 4);
  const maxCredit = MAX_STALL_CREDIT * timeoutMs;
  let nextCall = 0;
  let sweeper: ReturnType<typeof setInterval> | undefined;
  let lastSweep = 0;
  /** How long the event loop has been held up in all, as seen by the sweeps (ms). */
  let stalled = 0;
  function sweep(): void {
    const now = performance.now();
    // Up to a whole interval late is a timer's ordinary jitter; beyond it, the loop was held up.
    const stall = Math.max(0, now - lastSweep - 2 * sweepEveryMs);
    stalled += stall;
    lastSweep = now;
    for (const [id, call] of inFlight) {
      const sinceStart = now - call.started;
      const waited = sinceStart - Math.min(stalled - call.stalledBefore, maxCredit);
      if (waited < timeoutMs) break;
      // A sweep that ends a stall gives up on nothing (short of the credit's bound): the answers that came in
      // meanwhile are read in the loop's next turn for I/O, which comes before the next sweep.
      if (stall > 0 && sinceStart < timeoutMs + maxCredit) break;
      inFlight.delete(id);
      call.expire();
    }
    if (inFlight.size === 0) stopSweeping();
  }
  function stopSweeping(): void {
    clearInterval(sweeper);
    sweeper = undefined;
  }
  /**
   * One Redis call with its deadline; on an outage, the fallback's answer instead. One promise per call (this
   * wraps every kv call on the hot path): settled by the answer, or by the sweep once the deadline passed.
   */
  function guarded<T>(call: () => Promise<T>, otherwise: () => T | Promise<T>): Promise<T> {
    if (closed) return Promise.reject(new Error("kv is closed"));
    if (degradedSince !== null) return answerOf(otherwise);
    let work: Promise<T>;
    try {
      work = call();
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<T>((resolve, reject) => {
      const id = nextCall++;
      const failed = (error: unknown) => {
        if (closed || isCallerError(error)) return reject(error);
        // The late answer (or failure) of a call given up on goes nowhere (see the `inFlight` check below).
        const outage =
          !(error instanceof Timeout) ||
          inner.connected?.() === false ||
          ++timeoutsInRow >= TIMEOUTS_BEFORE_DEGRADED;
        if (outage) degrade(error);
        resolve(answerOf(otherwise));
      };
      inFlight.set(id, {
        started: performance.now(),
        stalledBefore: stalled,
        expire: () => failed(new Timeout(timeoutMs)),
      });
      if (!sweeper) {
        lastSweep = performance.now();
        sweeper = setInterval(sweep, sweepEveryMs);
        sweeper.unref?.();
      }
      work.then(
        (value) => {
          if (!inFlight.delete(id)) return;
          timeoutsInRow = 0;
          resolve(value);
        },
        (error: unknown) => {
          if (inFlight.delete(id)) failed(error);
        },
      );
    });
  }

  function dispatch(channel: Channel, message: string): void {
    for (const handler of channel.handlers) queueMicrotask(() => handler(message));
  }

  /** Takes a channel to Redis; one attempt at a time, retried on recovery when it fails. */
  function connect(name: string, channel: Channel): Promise<unknown> {
    channel.remote = "pending";
    const attempt = inner.subscribe(name, (message) => dispatch(channel, message));
    return attempt.then(
      (off) => {
        if (channels.get(name) !== channel || closed) {
          void off().catch(() => {});
          return;
        }
        channel.remote = "live";
        channel.off = off;
      },
      (error: unknown) => {
        channel.remote = "none";
        throw error;
      },
    );
  }

  const limiter = (use: (kv: Kv) => Promise<RateLimitResult>) =>
    guarded(
      () => use(inner),
      () => use(fb()),
    );

  return {
    kind: inner.kind,
    ...(inner.listenEpoch && { listenEpoch: inner.listenEpoch }),

    get: (key) =>
      guarded(
        () => inner.get(key),
        () => fb().get(key),
      ),
    set: (key, value, ttlMs) =>
      guarded(
        () => inner.set(key, value, ttlMs),
        () =>
          fb()
            .set(key, value, ttlMs)
            .then(() => undefined),
      ),
    getThrough: (pointerKey, absent, before, after) =>
      guarded(
        () => inner.getThrough(pointerKey, absent, before, after),
        () => fb().getThrough(pointerKey, absent, before, after),
      ),
    setIfAbsent: (key, value, ttlMs) =>
      guarded(
        () => inner.setIfAbsent(key, value, ttlMs),
        () => fb().setIfAbsent(key, value, ttlMs),
      ),
    lease: (key, owner, ttlMs) =>
      guarded(
        () => inner.lease(key, owner, ttlMs),
        () => fb().lease(key, owner, ttlMs),
      ),
    release: (key, owner) =>
      guarded(
        () => inner.release(key, owner),
        () => fb().release(key, owner),
      ),
    del: (...keys) =>
      guarded(
        () => inner.del(...keys),
        () => fb().del(...keys),
      ),
    rateLimit: (key, limit, windowMs, cost) => limiter((kv) => kv.rateLimit(key, limit, windowMs, cost)),
    peekRateLimit: (key, limit) => limiter((kv) => kv.peekRateLimit(key, limit)),
    // The fallback charges without the read: while Redis is out nothing is read from a cache (see above), and
    // the caller, finding no `read`, goes without.
    rateLimitChain: (buckets, cost, then) =>
      guarded(
        () => inner.rateLimitChain(buckets, cost, then),
        () => fb().rateLimitChain(buckets, cost),
      ),
    resetRateLimit: (key) =>
      guarded(
        () => inner.resetRateLimit(key),
        () => fb().resetRateLimit(key),
      ),
    append: (key, value, maxLength, ttlMs) =>
      guarded(
        () => inner.append(key, value, maxLength, ttlMs),
        () => fb().append(key, value, maxLength, ttlMs),
      ),
    list: (key) =>
      guarded(
        () => inner.list(key),
        () => fb().list(key),
      ),

    async publish(channelName, message) {
      live();
      const channel = channels.get(channelName);
      if (degradedSince !== null) {
        if (channel) dispatch(channel, message);
        return;
      }
      // The backend delivers to this process's subscribers itself, except to a channel it does not have.
      if (channel?.remote === "none") dispatch(channel, message);
      await guarded(
        () => inner.publish(channelName, message),
        () => undefined,
      );
    },

    async subscribe(channelName, onMessage) {
      live();
      let channel = channels.get(channelName);
      if (!channel) {
        channel = { handlers: new Set(), remote: "none" };
        channels.set(channelName, channel);
      }
      const handler: Handler = (message) => onMessage(message);
      channel.handlers.add(handler);
      if (channel.remote === "none" && degradedSince === null) {
        // Live here at once either way; in Redis once it answers. A first SUBSCRIBE opens a connection, so
        // a slow one only stops the wait; a failed one is an outage (and is retried at recovery).
        const attempt = connect(channelName, channel).catch((error: unknown) => {
          if (!closed) degrade(error);
        });
        await waitAtMost(attempt, timeoutMs);
      }
      const own = channel;
      return async () => {
        if (!own.handlers.delete(handler) || own.handlers.size > 0) return;
        if (channels.get(channelName) === own) channels.delete(channelName);
        const off = own.off;
        own.off = undefined;
        if (off && !closed) await guarded(off, () => undefined);
      };
    },

    async ping() {
      if (closed) return false;
      const { up, inTime } = await pingInTime();
      if (inTime) await tryRecover(true);
      return up;
    },

    degraded: () => degradedSince !== null,
    degradedMs: () => degradedTotal + (degradedSince === null ? 0 : performance.now() - degradedSince),
    onDegradedChange(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },

    async close() {
      closed = true;
      clearInterval(probe);
      channels.clear();
      listeners.clear();
      await Promise.all([fallback?.close(), inner.close()]);
    },
  };
}
