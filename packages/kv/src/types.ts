/** Outcome of one rate-limit hit. */
export interface RateLimitResult {
  allowed: boolean;
  /** Hits left in the current window (0 when refused). */
  remaining: number;
  /** Milliseconds until the window frees a slot; 0 when allowed. */
  retryAfterMs: number;
}

/** One budget of a chained rate limit: at most `limit` units per `windowMs` for `key`. */
export interface RateLimitBucket {
  key: string;
  limit: number;
  windowMs: number;
}

/** Outcome of a chained hit: the first budget that refused (-1 when none did) and when it frees a slot. */
export interface RateLimitChainResult {
  refused: number;
  /** Milliseconds until the refusing budget's window frees a slot; 0 when allowed. */
  retryAfterMs: number;
  /**
   * The read asked for with the hit (`then`), made in the same step once every budget allowed it; absent when a
   * budget refused, or when the kv did not make it (a Redis outage: the resilient kv's fallback answers the hit
   * without it), so the caller reads for itself or goes without.
   */
  read?: ThroughValue;
}

/** A read through a pointer, as `getThrough` takes it: the pointer's key and fallback, and the key around it. */
export interface ThroughRead {
  pointerKey: string;
  fallback: string;
  before: string;
  after: string;
}

/** What a read through a pointer found: the pointer (or its fallback), and the value it led to. */
export interface ThroughValue {
  pointer: string;
  value: string | null;
}

/**
 * The one key-value interface the apps use: a cache with TTL, an atomic rate limiter and
 * publish/subscribe. Two backends: Redis (ioredis) and in-process. Every key and channel is
 * namespaced by the backend's `prefix`, so tests and tenants sharing one Redis never collide.
 */
export interface Kv {
  readonly kind: "redis" | "memory";
  /** Redis only: whether the connection is up right now (a slow answer on a live connection is not an outage). */
  connected?(): boolean;
  /**
   * Redis only: whether this process hears what is published (no subscription made, or the subscriber
   * connection is up and has re-subscribed after its last reconnect). A kv that stopped hearing may have
   * missed invalidations, so the resilient kv does not end an outage before this is true again.
   */
  listening?(): boolean;
  /**
   * Redis only: a number that changes every time the subscriber connection has re-subscribed after a reconnect,
   * and -1 while it has not (it is down, or re-subscribing). What was learnt under another epoch may be out of
   * date: an invalidation published while the subscriber connection was away is lost to this process, even
   * though the command connection (and so the kv) never failed. Absent: every publication is heard.
   */
  listenEpoch?(): number;
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlMs: number): Promise<void>;
  /**
   * Two dependent reads in one step (one Redis round trip): `pointer` = the value at `pointerKey` (or
   * `fallback` when absent), then the value at `before + pointer + after`. E.g. a cache entry whose key holds
   * a generation kept under another key.
   */
  getThrough(pointerKey: string, fallback: string, before: string, after: string): Promise<ThroughValue>;
  /** Sets only when the key is absent (atomic); true when it was set. */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  del(...keys: string[]): Promise<void>;
  /**
   * Takes or renews a lease (atomic): sets `key` to `owner` for `ttlMs` when it is absent or already held by
   * `owner`. True when `owner` holds it afterwards; false (and nothing changed) when someone else does.
   */
  lease(key: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Gives a lease up (atomic): deletes `key` only while `owner` holds it. True when it was deleted. */
  release(key: string, owner: string): Promise<boolean>;
  /**
   * Fixed-window counter: at most `limit` units per `windowMs` for `key`, atomic across processes. A hit
   * costs `cost` units (default 1), e.g. the number of messages in a JSON-RPC batch.
   */
  rateLimit(key: string, limit: number, windowMs: number, cost?: number): Promise<RateLimitResult>;
  /**
   * Several fixed-window budgets charged in order in one atomic step (one Redis round trip): each is charged
   * `cost` only when every one before it allowed the hit, so a hit refused by a narrow budget never spends a
   * wider one. Answers the index of the first budget that refused (-1 when all allowed) and its retry delay.
   * With `then`, a hit every budget allowed also reads through a pointer (as `getThrough`) in the same step (one
   * Redis round trip for the charge and, say, a cache lookup); a refused hit reads nothing.
   */
  rateLimitChain(
    buckets: readonly RateLimitBucket[],
    cost?: number,
    then?: ThroughRead,
  ): Promise<RateLimitChainResult>;
  /**
   * The current window of `key` without spending from it: { allowed: used < limit, remaining:
   * max(0, limit - used), retryAfterMs: ms until the window resets when !allowed, else 0 }. A key never
   * hit is fully allowed. Never creates or extends a window.
   */
  peekRateLimit(key: string, limit: number): Promise<RateLimitResult>;
  /** Forgets `key`'s window, so its next hit starts a fresh one (e.g. a successful sign-in clears its failure count). */
  resetRateLimit(key: string): Promise<void>;
  /**
   * Appends `value` to the list at `key`, keeping only its last `maxLength` entries, and (re)sets the
   * list's TTL: a bounded, expiring log (e.g. a session's SSE events for resumption). Returns the list's
   * length after the append (at most `maxLength`).
   */
  append(key: string, value: string, maxLength: number, ttlMs: number): Promise<number>;
  /** The list at `key`, oldest first (empty when absent or expired). */
  list(key: string): Promise<string[]>;
  /** Delivers to this process's subscribers at once (before it resolves) and to every other process. */
  publish(channel: string, message: string): Promise<void>;
  /** Resolves once the subscription is live; the returned function unsubscribes. */
  subscribe(channel: string, onMessage: (message: string) => void): Promise<() => Promise<void>>;
  /** True when the backend answers. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
  /**
   * Only a Redis kv under the failure policy (`createResilientKv`): true while Redis is unreachable and
   * calls are served per process. Absent: never degraded.
   */
  degraded?(): boolean;
  /** Milliseconds spent degraded since this kv was made (including an outage still going on). */
  degradedMs?(): number;
  /** Called with true when an outage starts and false when Redis answers again; returns the removal. */
  onDegradedChange?(listener: (degraded: boolean) => void): () => void;
}

export interface KvOptions {
  /** Namespace for every key and channel, e.g. "mcp:" (default) or a per-test prefix. */
  prefix?: string;
  /**
   * Called with backend connection errors (Redis unreachable, connection lost), at most once per
   * connection per 30 s, so an outage reaches the application's logger instead of stderr. Default: ignored.
   */
  onError?: (error: Error) => void;
  /** Redis only: per-call deadline before failing over to the per-process fallback (default 100 ms). */
  timeoutMs?: number;
  /** Redis only: how often a degraded kv pings Redis to find out whether it is back (default 1 s). */
  probeEveryMs?: number;
  /** Redis only: told when an outage starts (with the failure that revealed it) and when it ends. */
  onStateChange?: (degraded: boolean, error?: Error) => void;
}
