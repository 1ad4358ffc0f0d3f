import { tmpdir } from "node:os";
import type { Client, PriorDiscovery } from "@modelcontextprotocol/client";
import type { ChildTransport } from "./child.ts";
import { residentBytes } from "./memory.ts";
import { type Running, type SpawnSettings, spawnServer } from "./spawn.ts";
import { DEFAULT_STDERR_LIMITS } from "./stderr.ts";
import type {
  RestartPolicy,
  StdioEvent,
  StdioFailure,
  StdioLease,
  StdioPool,
  StdioPoolOptions,
  StdioProcessInfo,
  StdioRequest,
  StdioResult,
  StopReason,
} from "./types.ts";

const DEFAULT_RESTART: RestartPolicy = {
  maxAttempts: 3,
  baseDelayMs: 500,
  maxDelayMs: 10_000,
  coolDownMs: 60_000,
  stableMs: 60_000,
};

interface Proc extends Running {
  inFlight: number;
  lastUsedAt: number;
  /** Set when the pool stops the process on purpose: its exit is not a crash. */
  stopping?: StopReason;
  overMemory?: boolean;
  idleTimer?: ReturnType<typeof setTimeout>;
  watchdog?: ReturnType<typeof setInterval>;
}

/** Everything the pool knows about one credential of one service. */
interface Slot {
  id: string;
  request: StdioRequest;
  proc?: Proc;
  /** A start in progress (after its backoff delay, if any); concurrent acquires share it. */
  starting?: Promise<StdioResult<Proc>>;
  failures: number;
  notBefore: number;
  coolUntil: number;
}

const slotId = (serviceType: string, credentialId: string) => `${serviceType}\u0000${credentialId}`;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const fail = (code: StdioFailure["code"], message: string, retryAfterMs?: number) => ({
  ok: false as const,
  error: { code, message, ...(retryAfterMs !== undefined && { retryAfterMs }) },
});

/**
 * A pool of stdio MCP servers: one child per active credential, never shared between credentials, started
 * on demand, stopped when idle, capped per user and in total, bounded in memory, restarted with backoff.
 */
export function createStdioPool(options: StdioPoolOptions): StdioPool {
  const idleMs = options.idleMs ?? 5 * 60_000;
  const maxProcesses = options.maxProcesses ?? 64;
  const maxPerUser = options.maxPerUser ?? 4;
  const memoryCheckMs = options.memoryCheckMs ?? 5000;
  const restart: RestartPolicy = { ...DEFAULT_RESTART, ...options.restart };
  const settings: SpawnSettings = {
    logger: options.logger,
    tmpDir: options.tmpDir ?? tmpdir(),
    memoryLimitBytes: options.memoryLimitBytes ?? 256 * 1024 * 1024,
    startTimeoutMs: options.startTimeoutMs ?? 15_000,
    killGraceMs: options.killGraceMs ?? 2000,
    maxMessageBytes: options.maxMessageBytes ?? 16 * 1024 * 1024,
    maxGarbageLines: options.maxGarbageLines ?? 20,
    stderr: { ...DEFAULT_STDERR_LIMITS, ...options.stderr },
    negotiation: options.negotiation ?? "auto",
  };
  const slots = new Map<string, Slot>();
  /** Every child not yet exited, whatever its state: close() kills these. */
  const live = new Map<ChildTransport, Promise<void>>();
  /** The era each service type answered with, so later starts skip the probe. */
  const eras = new Map<string, PriorDiscovery>();
  let closed = false;
  let wake = () => {};
  /** Settles when close() starts: a start waiting out its backoff stops waiting. */
  const closing = new Promise<void>((resolve) => {
    wake = resolve;
  });

  const emit = (event: StdioEvent) => {
    try {
      options.onEvent?.(event);
    } catch {
      // A listener's bug must not break the pool.
    }
  };
  const names = (slot: Slot) => ({
    serviceType: slot.request.serviceType,
    credentialId: slot.request.credentialId,
  });
  const backoff = (failures: number) =>
    Math.min(restart.baseDelayMs * 2 ** Math.max(0, failures - 1), restart.maxDelayMs);
  const active = (slot: Slot) => slot.proc !== undefined || slot.starting !== undefined;

  /** Counts a failure; past the bound the credential cools down. */
  const failed = (slot: Slot) => {
    slot.failures++;
    if (slot.failures >= restart.maxAttempts) {
      slot.coolUntil = Date.now() + restart.coolDownMs;
      slot.failures = 0;
      slot.notBefore = 0;
      emit({ type: "cooling", ...names(slot), untilMs: slot.coolUntil });
    } else {
      slot.notBefore = Date.now() + backoff(slot.failures);
    }
  };

  const armIdle = (slot: Slot, proc: Proc) => {
    clearTimeout(proc.idleTimer);
    if (proc.inFlight > 0 || proc.stopping) return;
    proc.idleTimer = setTimeout(() => {
      if (slot.proc === proc && proc.inFlight === 0) void stop(slot, "idle");
    }, idleMs);
    proc.idleTimer.unref?.();
  };

  const stop = async (slot: Slot, reason: StopReason) => {
    const proc = slot.proc;
    if (!proc || proc.stopping) return;
    proc.stopping = reason;
    slot.proc = undefined;
    clearTimeout(proc.idleTimer);
    clearInterval(proc.watchdog);
    await proc.transport.kill(settings.killGraceMs);
    await proc.client.close().catch(() => {});
    await proc.done;
    // A stopped credential is forgotten (its decrypted secret with it) unless it is cooling down.
    if (slots.get(slot.id) === slot && !active(slot) && slot.coolUntil <= Date.now()) slots.delete(slot.id);
    emit({ type: "stopped", ...names(slot), pid: proc.pid, reason });
  };

  const watch = (slot: Slot, proc: Proc) => {
    proc.watchdog = setInterval(async () => {
      const rss = await residentBytes(proc.pid);
      if (rss === undefined || rss <= settings.memoryLimitBytes || proc.stopping || proc.transport.exit)
        return;
      proc.overMemory = true;
      options.logger.warn("stdio server over its memory limit: killed", {
        slot: `${slot.request.serviceType}/${slot.request.credentialId}`,
        userId: slot.request.userId,
        rss,
        limit: settings.memoryLimitBytes,
      });
      void proc.transport.kill(0);
    }, memoryCheckMs);
    proc.watchdog.unref?.();
  };

  /** An exit the pool did not ask for: count it, then restart after the backoff (or cool down). */
  const crashed = (slot: Slot, proc: Proc) => {
    clearTimeout(proc.idleTimer);
    clearInterval(proc.watchdog);
    if (proc.stopping || slot.proc !== proc) return;
    slot.proc = undefined;
    if (Date.now() - proc.startedAt >= restart.stableMs) slot.failures = 0;
    const reason = proc.overMemory ? "memory" : "exit";
    options.logger.warn("stdio server crashed", {
      slot: `${slot.request.serviceType}/${slot.request.credentialId}`,
      userId: slot.request.userId,
      pid: proc.pid,
      reason,
      exit: proc.transport.exit,
    });
    emit({ type: "crashed", ...names(slot), pid: proc.pid, reason });
    void proc.client.close().catch(() => {});
    failed(slot);
    if (closed || slot.coolUntil > Date.now()) return;
    const delayMs = Math.max(0, slot.notBefore - Date.now());
    emit({ type: "restarting", ...names(slot), attempt: slot.failures, delayMs });
    void begin(slot).then((result) => {
      if (result.ok) armIdle(slot, result.value);
    });
  };

  /** Starts the slot's process once (after its backoff delay); concurrent callers share the promise. */
  const begin = (slot: Slot): Promise<StdioResult<Proc>> => {
    if (slot.starting) return slot.starting;
    const run = async (): Promise<StdioResult<Proc>> => {
      const wait = slot.notBefore - Date.now();
      if (wait > 0) await Promise.race([sleep(wait), closing]);
      if (closed) return fail("CLOSED", "The stdio pool is closed");
      const serviceType = slot.request.serviceType;
      const started = await spawnServer(slot.request, settings, eras.get(serviceType), (t, done) => {
        live.set(t, done);
        void done.then(() => live.delete(t));
      });
      if (!started.ok) {
        // A server that dies on the era probe (some exit on any request before initialize) is legacy.
        if (started.error.code === "EXITED" && settings.negotiation === "auto" && !eras.has(serviceType)) {
          eras.set(serviceType, { kind: "legacy" });
        }
        failed(slot);
        emit({ type: "failed", ...names(slot), error: started.error });
        return started;
      }
      const { client } = started.value;
      const discover = client.getDiscoverResult();
      eras.set(serviceType, discover ? { kind: "modern", discover } : { kind: "legacy" });
      const proc: Proc = { ...started.value, inFlight: 0, lastUsedAt: Date.now() };
      if (closed) {
        await proc.transport.kill(settings.killGraceMs);
        return fail("CLOSED", "The stdio pool is closed");
      }
      slot.proc = proc;
      void proc.transport.exited.then(() => crashed(slot, proc));
      watch(slot, proc);
      emit({ type: "started", ...names(slot), pid: proc.pid });
      return { ok: true, value: proc };
    };
    const starting = run().finally(() => {
      if (slot.starting === starting) slot.starting = undefined;
    });
    slot.starting = starting;
    return starting;
  };

  /** Forgets credentials with no process and no failure record (and their secrets with them). */
  const prune = () => {
    const now = Date.now();
    for (const [id, slot] of slots) {
      if (!active(slot) && slot.failures === 0 && slot.coolUntil <= now) slots.delete(id);
    }
  };

  /** Frees room for a new process under a cap: the least recently used idle one goes, else a failure. */
  const makeRoom = (userId: string): StdioFailure | undefined => {
    const all = [...slots.values()].filter(active);
    const mine = all.filter((s) => s.request.userId === userId);
    const lruIdle = (among: Slot[]) =>
      among
        .filter((s) => s.proc && s.proc.inFlight === 0 && !s.starting)
        .sort((a, b) => (a.proc?.lastUsedAt ?? 0) - (b.proc?.lastUsedAt ?? 0))[0];
    if (mine.length >= maxPerUser) {
      const victim = lruIdle(mine);
      if (!victim) {
        return { code: "USER_LIMIT", message: `At most ${maxPerUser} stdio servers per user, all busy` };
      }
      void stop(victim, "capacity");
      return undefined;
    }
    if (all.length >= maxProcesses) {
      const victim = lruIdle(all);
      if (!victim) return { code: "POOL_FULL", message: `All ${maxProcesses} stdio servers are busy` };
      void stop(victim, "capacity");
    }
    return undefined;
  };

  const lease = (slot: Slot, proc: Proc): StdioLease => {
    proc.inFlight++;
    proc.lastUsedAt = Date.now();
    clearTimeout(proc.idleTimer);
    let released = false;
    return {
      client: proc.client,
      pid: proc.pid,
      release() {
        if (released) return;
        released = true;
        proc.inFlight--;
        proc.lastUsedAt = Date.now();
        armIdle(slot, proc);
      },
    };
  };

  const acquire = async (request: StdioRequest): Promise<StdioResult<StdioLease>> => {
    const id = slotId(request.serviceType, request.credentialId);
    // Bounded: each round either leases, fails, or waits for one start to settle.
    for (let round = 0; round < 3; round++) {
      if (closed) return fail("CLOSED", "The stdio pool is closed");
      let slot = slots.get(id);
      if (slot && slot.request.userId !== request.userId) {
        return fail("FORBIDDEN", "This credential belongs to another user");
      }
      if (slot?.proc && !slot.proc.stopping) return { ok: true, value: lease(slot, slot.proc) };
      if (slot?.starting) {
        const result = await slot.starting;
        if (!result.ok) return result;
        continue;
      }
      if (!slot) {
        prune();
        slot = { id, request, failures: 0, notBefore: 0, coolUntil: 0 };
        slots.set(id, slot);
      }
      slot.request = request;
      const coolingMs = slot.coolUntil - Date.now();
      if (coolingMs > 0) {
        return fail(
          "COOLING_DOWN",
          `The server failed ${restart.maxAttempts} times in a row; retry in ${Math.ceil(coolingMs / 1000)} s`,
          coolingMs,
        );
      }
      const full = makeRoom(request.userId);
      if (full) {
        if (!active(slot)) slots.delete(id);
        return { ok: false, error: full };
      }
      const result = await begin(slot);
      if (!result.ok) return result;
    }
    return fail("EXITED", "The server stopped while it was being started");
  };

  return {
    acquire,
    async use(request, fn: (client: Client) => Promise<unknown>) {
      const got = await acquire(request);
      if (!got.ok) return got;
      try {
        return { ok: true, value: await fn(got.value.client) };
      } finally {
        got.value.release();
      }
    },
    async evict(serviceType, credentialId) {
      const slot = slots.get(slotId(serviceType, credentialId));
      if (!slot) return;
      await slot.starting;
      await stop(slot, "evicted");
      slots.delete(slot.id);
    },
    processes(): StdioProcessInfo[] {
      return [...slots.values()].flatMap((slot) =>
        slot.proc
          ? [
              {
                ...names(slot),
                userId: slot.request.userId,
                pid: slot.proc.pid,
                inFlight: slot.proc.inFlight,
                startedAt: slot.proc.startedAt,
                lastUsedAt: slot.proc.lastUsedAt,
              },
            ]
          : [],
      );
    },
    async close() {
      closed = true;
      wake();
      await Promise.all([...slots.values()].map((slot) => stop(slot, "closed")));
      await Promise.all([...live.keys()].map((t) => t.kill(settings.killGraceMs)));
      await Promise.all([...slots.values()].map((slot) => slot.starting));
      await Promise.all([...live.values()]);
      slots.clear();
    },
  } as StdioPool;
}
