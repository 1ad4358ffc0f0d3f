import type { Kv } from "@mcp/kv";

/** What the health monitor last found for one service (kept in the kv, so every process reads it). */
export interface ServiceHealth {
  type: string;
  /** The edge serving it answers `/health` and the upstream is reachable. */
  healthy: boolean;
  /** The upstream check's time (0 for a local or skipped check). */
  responseTimeMs: number;
  /** ISO-8601 time of the check. */
  lastCheckedAt: string;
  /** Same as `lastCheckedAt` (the name CONTRACT.md gives it). */
  lastCheck: string;
  /** Why it is down (`edge: ...`, `upstream: ...`); null when healthy. */
  lastError: string | null;
  /** Same as `lastError` when there is one. */
  error?: string;
  /** ISO-8601 time since which `healthy` has had its current value. */
  since: string;
  edge: { url: string; healthy: boolean; responseTimeMs: number; error?: string };
  upstream: { healthy: boolean; responseTimeMs: number; error?: string; check: "http" | "local" | "skipped" };
}

/** One entry of a service's bounded history, oldest first. */
export interface HealthHistoryEntry {
  at: string;
  healthy: boolean;
  responseTimeMs: number;
  error?: string;
}

export const HEALTH_CHANNEL = "health:changed";
export const HEALTH_LEADER_KEY = "health:leader";
export const healthStatusKey = (type: string) => `health:status:${type}`;
export const healthHistoryKey = (type: string) => `health:history:${type}`;

function parse<T>(raw: string | null): T | undefined {
  if (raw === null) return undefined;
  try {
    return JSON.parse(raw) as T;
  } catch {
    return undefined;
  }
}

/** The last check of one service; undefined when never checked (or the result expired). */
export async function readServiceHealth(kv: Kv, type: string): Promise<ServiceHealth | undefined> {
  return parse<ServiceHealth>(await kv.get(healthStatusKey(type)));
}

/** The last checks of one service, oldest first (at most HEALTH_HISTORY_LENGTH). */
export async function readHealthHistory(kv: Kv, type: string): Promise<HealthHistoryEntry[]> {
  const raw = await kv.list(healthHistoryKey(type));
  return raw.map((r) => parse<HealthHistoryEntry>(r)).filter((e): e is HealthHistoryEntry => e !== undefined);
}

/**
 * This process's view of the monitor's verdicts, for the hot path (`tools/call`, `instances.connect`): kept
 * in memory, updated by the monitor's broadcast on the kv bus and re-read from the kv every interval (a lost
 * message or a dead monitor cannot pin a service down: a result expires and an unknown service is available).
 * A service is refused only while its *upstream* is found down: the check of the edge serving it says nothing
 * a request that reached an edge needs (that edge is up), and an edge's `/health` fails while it cannot reach
 * Redis or PostgreSQL, outages through which its instances keep being served (README: "When Redis or
 * PostgreSQL goes down"). Gating on it refused every service's calls after one monitor round in either outage.
 */
export class HealthView {
  private readonly down = new Set<string>();
  private unsubscribe?: () => Promise<void>;
  private timer?: ReturnType<typeof setInterval>;

  constructor(
    private readonly kv: Kv,
    private readonly types: () => string[],
    private readonly opts: { refreshMs: number; onError?: (error: unknown) => void },
  ) {}

  async start(): Promise<void> {
    this.unsubscribe = await this.kv.subscribe(HEALTH_CHANNEL, (message) => this.apply(message));
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.opts.refreshMs);
    this.timer.unref?.();
  }

  /** How often the verdicts are read again: when a service marked down may be back (its 503's Retry-After). */
  get recheckMs(): number {
    return this.opts.refreshMs;
  }

  /** False only while the monitor's last check of `type` found it down. */
  isServiceAvailable(type: string): boolean {
    return !this.down.has(type);
  }

  /** Re-reads every service's verdict from the kv (a kv failure keeps what is known). */
  async refresh(): Promise<void> {
    try {
      const types = this.types();
      const found = await Promise.all(types.map((t) => readServiceHealth(this.kv, t)));
      for (const [i, type] of types.entries()) this.set(type, available(found[i]) !== false);
    } catch (error) {
      this.opts.onError?.(error);
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.unsubscribe?.().catch(() => {});
  }

  private apply(message: string): void {
    const verdicts = parse<unknown>(message);
    if (!Array.isArray(verdicts)) return;
    for (const v of verdicts) {
      if (typeof v?.type !== "string") continue;
      // `available` since the upstream's verdict gates; `healthy` from a monitor of an older release.
      const verdict = typeof v.available === "boolean" ? v.available : v.healthy;
      if (typeof verdict === "boolean") this.set(v.type, verdict);
    }
  }

  private set(type: string, healthy: boolean): void {
    if (healthy) this.down.delete(type);
    else this.down.add(type);
  }
}

/** Whether a stored check lets calls through: its upstream's verdict (a record without one: its `healthy`). */
function available(health: ServiceHealth | undefined): boolean | undefined {
  if (!health) return undefined;
  return typeof health.upstream?.healthy === "boolean" ? health.upstream.healthy : health.healthy;
}

/** `deps.health?.isServiceAvailable(type)`, available when no view is wired (tests, tools). */
export function isServiceAvailable(deps: { health?: HealthView }, type: string): boolean {
  return deps.health?.isServiceAvailable(type) ?? true;
}
