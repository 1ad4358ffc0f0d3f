/**
 * One connection pool per upstream service: at most `maxConnections` requests to it in flight from this
 * process (Bun's fetch keeps their connections alive per host, so that is also the number of connections),
 * then a bounded queue (fair between the callers' owners, see UpstreamPool) whose callers wait at most
 * `queueTimeoutMs` for a free connection. Beyond the queue's bound a call is refused at once: memory never grows
 * with a flood of calls to a slow upstream.
 *
 * Connect timeout: Bun's fetch has no connect phase of its own to bound, so a pool that has not heard from
 * its upstream for WARM_MS first opens (and closes) one TCP connection to it, shared by every call waiting
 * meanwhile, within `connectTimeoutMs`. A host that does not accept one in time (black-holed, a dead load
 * balancer) fails the call as unreachable at once instead of holding it for the whole request timeout; a warm
 * pool, whose keep-alive connections are live, pays nothing.
 */

export interface PoolLimits {
  /** Requests in flight to the service at once (and so keep-alive connections). */
  maxConnections: number;
  /** Calls waiting for a free connection; one more is refused at once. */
  maxQueue: number;
  /** How long a queued call waits for a free connection before it gives up (never past its own deadline). */
  queueTimeoutMs: number;
  /** How long opening a connection to a cold upstream may take before the call fails as unreachable. */
  connectTimeoutMs: number;
}

export const DEFAULT_POOL_LIMITS: Readonly<PoolLimits> = {
  maxConnections: 50,
  maxQueue: 100,
  queueTimeoutMs: 10_000,
  connectTimeoutMs: 5_000,
};

/** A pool that heard from its upstream this recently is warm: its connections are live, no connect check. */
const WARM_MS = 30_000;

/** How long a timed-out connect check answers for its host before the next call checks again. */
const FAILED_CHECK_MS = 1_000;

/** Whether a TCP connection to `url`'s host opened in time: `refused` and `timeout` both mean unreachable. */
export type Reach = "ok" | "refused" | "timeout";

/**
 * A connection slot, or why there is none: the queue is full, the caller's owner already fills half of it
 * (`share`), the wait ran out, or the caller hung up.
 */
export type Slot =
  | { ok: true; release: () => void }
  | { ok: false; reason: "full" | "share" | "timeout" | "cancelled" };

interface Waiter {
  grant: () => void;
  owner: string | undefined;
}

/**
 * Fair to the pool's owners (the credentials calling through it): while there are free connections anyone takes
 * one, so a lone caller is never held back; once it is full, a freed connection goes to the longest waiter among
 * the owners holding the fewest, and no owner may fill more than half of the queue (`ownerQueueShare`). One user's slow calls can
 * then fill the free connections but never starve another user's, who is next whenever one comes free.
 */
export class UpstreamPool {
  private inUse = 0;
  // FIFO within an owner; bounded by `maxQueue` (100 by default), so removing a waiter that gave up is cheap.
  private readonly queue: Waiter[] = [];
  /** Connections in use and calls waiting, per owner (only owners with any). */
  private readonly held = new Map<string, number>();
  private readonly waiting = new Map<string, number>();
  private heardAt = Number.NEGATIVE_INFINITY;
  /** The connect check in flight, by host: concurrent cold calls share one. */
  private readonly checking = new Map<string, Promise<Reach>>();

  constructor(
    readonly service: string,
    readonly limits: Readonly<PoolLimits>,
  ) {}

  stats(): { inUse: number; queued: number; max: number } {
    return { inUse: this.inUse, queued: this.queue.length, max: this.limits.maxConnections };
  }

  /**
   * A slot for one request. `cancel` is the caller hanging up; `deadline` is the call's own deadline (the
   * wait never outlives it). The slot must be released exactly once; later releases do nothing.
   */
  acquire(cancel?: AbortSignal, deadline?: AbortSignal, owner?: string): Promise<Slot> {
    if (cancel?.aborted) return Promise.resolve({ ok: false, reason: "cancelled" });
    if (deadline?.aborted) return Promise.resolve({ ok: false, reason: "timeout" });
    if (this.inUse < this.limits.maxConnections) {
      this.inUse++;
      return Promise.resolve(this.slot(owner));
    }
    if (this.queue.length >= this.limits.maxQueue) return Promise.resolve({ ok: false, reason: "full" });
    if (owner !== undefined && count(this.waiting, owner) >= ownerQueueShare(this.limits)) {
      return Promise.resolve({ ok: false, reason: "share" });
    }
    return new Promise<Slot>((resolve) => {
      const done = (result: Slot) => {
        clearTimeout(timer);
        cancel?.removeEventListener("abort", onCancel);
        deadline?.removeEventListener("abort", onDeadline);
        resolve(result);
      };
      const giveUp = (reason: "timeout" | "cancelled") => {
        const at = this.queue.indexOf(waiter);
        if (at >= 0) {
          this.queue.splice(at, 1);
          add(this.waiting, owner, -1);
        }
        done({ ok: false, reason });
      };
      const onCancel = () => giveUp("cancelled");
      const onDeadline = () => giveUp("timeout");
      // The slot is handed over by `release`, which has already counted it as in use.
      const waiter: Waiter = { grant: () => done(this.slot(owner)), owner };
      const timer = setTimeout(() => giveUp("timeout"), this.limits.queueTimeoutMs);
      cancel?.addEventListener("abort", onCancel, { once: true });
      deadline?.addEventListener("abort", onDeadline, { once: true });
      this.queue.push(waiter);
      add(this.waiting, owner, 1);
    });
  }

  /**
   * The waiter a freed connection goes to: the longest waiting among the owners holding the fewest connections
   * (a caller without an owner counts as holding none). Plain FIFO when everyone waiting is one owner.
   */
  private next(): Waiter | undefined {
    const first = this.queue[0];
    // Every waiter ownerless, or all of one owner: first in, first out.
    const oneOwner =
      this.waiting.size === 0 ||
      (this.waiting.size === 1 && count(this.waiting, first?.owner) === this.queue.length);
    if (first === undefined || oneOwner) return this.queue.shift();
    let best = 0;
    let fewest = count(this.held, first.owner);
    // Bounded: a definition may allow a long queue; past the first MAX_FAIR_SCAN waiters, order is FIFO.
    const end = Math.min(this.queue.length, MAX_FAIR_SCAN);
    for (let i = 1; i < end && fewest > 0; i++) {
      const holds = count(this.held, this.queue[i]?.owner);
      if (holds < fewest) {
        fewest = holds;
        best = i;
      }
    }
    return this.queue.splice(best, 1)[0];
  }

  /** The upstream answered (any HTTP status): the pool is warm. */
  heard(): void {
    this.heardAt = performance.now();
  }

  /** Heard from its upstream lately: its connections are live and `reach` would answer "ok" at once. */
  warm(): boolean {
    return performance.now() - this.heardAt < WARM_MS;
  }

  /**
   * Whether `url`'s host accepts a connection within `connectTimeoutMs` (at once "ok" when the pool is warm).
   * Never waits past `signal`.
   */
  reach(url: string | URL, signal?: AbortSignal): Promise<Reach> {
    if (this.warm()) return Promise.resolve("ok");
    const { hostname, port, protocol } = new URL(url);
    const host = hostname.replace(/^\[|\]$/g, "");
    const target = `${host}:${port || (protocol === "https:" ? 443 : 80)}`;
    let check = this.checking.get(target);
    if (!check) {
      check = openOnce(
        host,
        Number(port) || (protocol === "https:" ? 443 : 80),
        this.limits.connectTimeoutMs,
      );
      this.checking.set(target, check);
      void check.then((reach) => {
        if (reach === "ok") this.heard();
        // A timed-out check stands for a moment, so a GET's one retry does not wait for a second one; a
        // refusal is known at once, so the next call checks again (the host may be back already).
        if (reach !== "timeout") this.checking.delete(target);
        else setTimeout(() => this.checking.delete(target), FAILED_CHECK_MS).unref?.();
      });
    }
    if (!signal) return check;
    return Promise.race([
      check,
      new Promise<Reach>((resolve) => {
        if (signal.aborted) resolve("ok");
        signal.addEventListener("abort", () => resolve("ok"), { once: true });
      }),
    ]);
  }

  private slot(owner: string | undefined): Slot {
    let released = false;
    add(this.held, owner, 1);
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        add(this.held, owner, -1);
        const next = this.next();
        // Handed straight to a waiter: the count of slots in use does not change.
        if (next) {
          add(this.waiting, next.owner, -1);
          next.grant();
        } else this.inUse--;
      },
    };
  }
}

/** How many of the queue's places one owner may take: half, rounded down, at least one. */
export const ownerQueueShare = (limits: Pick<PoolLimits, "maxQueue">): number =>
  Math.max(1, Math.floor(limits.maxQueue / 2));

/** Waiters a freed connection's choice looks at, at most (the default queue holds 100). */
const MAX_FAIR_SCAN = 1000;

const count = (counts: Map<string, number>, owner: string | undefined): number =>
  owner === undefined ? 0 : (counts.get(owner) ?? 0);

/** Moves an owner's count by `by`, keeping only owners with a count in the map. */
function add(counts: Map<string, number>, owner: string | undefined, by: 1 | -1): void {
  if (owner === undefined) return;
  const n = (counts.get(owner) ?? 0) + by;
  if (n > 0) counts.set(owner, n);
  else counts.delete(owner);
}

/** Opens one TCP connection to `host:port` and closes it; "timeout" when it did not open within `ms`. */
function openOnce(host: string, port: number, ms: number): Promise<Reach> {
  return new Promise<Reach>((resolve) => {
    let settled = false;
    const settle = (reach: Reach, socket?: { end(): void }) => {
      socket?.end();
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(reach);
    };
    const timer = setTimeout(() => settle("timeout"), ms);
    Bun.connect({
      hostname: host,
      port,
      socket: {
        open: (socket) => settle("ok", socket),
        connectError: () => settle("refused"),
        data: () => {},
      },
    })
      // A late connection (after the deadline) is closed as soon as it opens.
      .then((socket) => {
        if (settled) socket.end();
      })
      .catch(() => settle("refused"));
  });
}

// Keyed by the loaded service object (like the breakers): every call for a type shares one pool, while
// each registry (and so each test) starts with an empty one.
const pools = new WeakMap<object, UpstreamPool>();
// Every pool still alive, for the metrics; a registry that is dropped takes its pools with it.
const live = new Set<WeakRef<UpstreamPool>>();

/** The pool of a service, made with its definition's `pool` limits (defaults for what it leaves out). */
export function poolFor(service: { type?: string; pool?: Partial<PoolLimits> }): UpstreamPool {
  let pool = pools.get(service);
  if (!pool) {
    pool = new UpstreamPool(service.type ?? "unknown", { ...DEFAULT_POOL_LIMITS, ...service.pool });
    pools.set(service, pool);
    live.add(new WeakRef(pool));
  }
  return pool;
}

export interface PoolStats {
  service: string;
  /** Requests in flight (connections in use). */
  inUse: number;
  /** Calls waiting for a free connection. */
  queued: number;
  /** The pool's size. */
  max: number;
}

/** The pools of this process by service type (pools of the same type in several registries are summed). */
export function upstreamPoolStats(): PoolStats[] {
  const byType = new Map<string, PoolStats>();
  for (const ref of live) {
    const pool = ref.deref();
    if (!pool) {
      live.delete(ref);
      continue;
    }
    const s = pool.stats();
    const total = byType.get(pool.service) ?? { service: pool.service, inUse: 0, queued: 0, max: 0 };
    total.inUse += s.inUse;
    total.queued += s.queued;
    total.max += s.max;
    byType.set(pool.service, total);
  }
  return [...byType.values()].sort((a, b) => a.service.localeCompare(b.service));
}
