import { randomUUID } from "node:crypto";
import type { AnyServiceDefinition } from "@mcp/services";
import type { CoreDeps } from "./deps.ts";
import {
  HEALTH_CHANNEL,
  HEALTH_LEADER_KEY,
  type HealthHistoryEntry,
  healthHistoryKey,
  healthStatusKey,
  readServiceHealth,
  type ServiceHealth,
} from "./health.ts";
import { edgeUrlFor, type ProbeResult, probeEdge, probeUpstream } from "./health-check.ts";

export interface HealthMonitorOptions {
  intervalMs: number;
  timeoutMs: number;
  historyLength: number;
  /** Where `SERVICE_<TYPE>_PUBLIC_URL` is read from. */
  env?: Record<string, string | undefined>;
}

/** History outlives the status so the dashboard can show what happened before a monitor stopped. */
const HISTORY_TTL_MS = 7 * 24 * 3600_000;

/**
 * Checks every service's edge and upstream each interval. One monitor per deployment: every process may run
 * one, and only the holder of a lease in the kv checks (taken or renewed atomically each tick, so two
 * monitors never both lead; given up on stop). While Redis is unreachable each process leads its own
 * fallback, so every process checks on its own until Redis answers again.
 */
export class HealthMonitor {
  readonly id = randomUUID();
  private timer?: ReturnType<typeof setInterval>;
  private running?: Promise<boolean>;
  private stopped = false;
  /** Ends the probes in flight when the monitor stops: a hanging upstream must not hold a shutdown. */
  private readonly stopping = new AbortController();

  constructor(
    private readonly deps: Pick<CoreDeps, "kv" | "registry" | "log" | "publicEdgeUrl">,
    private readonly opts: HealthMonitorOptions,
  ) {}

  private get leaseMs(): number {
    return this.opts.intervalMs * 2 + this.opts.timeoutMs;
  }

  /** Checks at once (when leading), then every interval. */
  start(): void {
    void this.tick();
    this.timer = setInterval(() => void this.tick(), this.opts.intervalMs);
    this.timer.unref?.();
  }

  /** One round: take or renew the lease, and check when it is ours. True when this monitor checked. */
  tick(): Promise<boolean> {
    // A slow round is never overlapped by the next one.
    this.running ??= this.round().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async round(): Promise<boolean> {
    if (this.stopped) return false;
    try {
      if (!(await this.lead())) return false;
      await this.runOnce();
      return true;
    } catch (error) {
      this.deps.log.warn("health check round failed", { error });
      return false;
    }
  }

  private async lead(): Promise<boolean> {
    return this.deps.kv.lease(HEALTH_LEADER_KEY, this.id, this.leaseMs);
  }

  /** Checks every service now (whoever leads), stores the results and history, and tells every process. */
  async runOnce(): Promise<ServiceHealth[]> {
    const services = this.deps.registry.list();
    const env = this.opts.env ?? process.env;
    const edgeUrls = new Map(services.map((s) => [s.type, edgeUrlFor(s.type, env, this.deps.publicEdgeUrl)]));
    const { timeoutMs } = this.opts;
    const signal = this.stopping.signal;
    const edges = new Map<string, Promise<ProbeResult>>();
    for (const url of new Set(edgeUrls.values())) edges.set(url, probeEdge(url, timeoutMs, signal));
    const probed = await Promise.all(
      services.map(async (service) => {
        const url = edgeUrls.get(service.type) ?? this.deps.publicEdgeUrl;
        const [edge, upstream] = await Promise.all([
          edges.get(url) ?? probeEdge(url, timeoutMs, signal),
          probeUpstream(service, timeoutMs, signal),
        ]);
        return { service, url, edge, upstream };
      }),
    );
    // Cut short by `stop`: what the probes found is the stop, not the services.
    if (signal.aborted) return [];
    const results = await Promise.all(probed.map((p) => this.record(p.service, p.url, p.edge, p.upstream)));
    // `available` (the upstream's verdict) is what the hot path acts on: see `HealthView`.
    await this.deps.kv.publish(
      HEALTH_CHANNEL,
      JSON.stringify(
        results.map(({ type, healthy, upstream }) => ({ type, healthy, available: upstream.healthy })),
      ),
    );
    return results;
  }

  private async record(
    service: AnyServiceDefinition,
    edgeUrl: string,
    edge: ProbeResult,
    upstream: ProbeResult,
  ): Promise<ServiceHealth> {
    const { kv, log } = this.deps;
    const now = new Date().toISOString();
    const healthy = edge.healthy && upstream.healthy;
    const errors = [
      ...(edge.error ? [`edge: ${edge.error}`] : []),
      ...(upstream.error ? [`upstream: ${upstream.error}`] : []),
    ];
    const lastError = healthy ? null : errors.join("; ");
    const previous = await readServiceHealth(kv, service.type);
    const since = previous && previous.healthy === healthy ? previous.since : now;
    const status: ServiceHealth = {
      type: service.type,
      healthy,
      responseTimeMs: upstream.responseTimeMs,
      lastCheckedAt: now,
      lastCheck: now,
      lastError,
      ...(lastError && { error: lastError }),
      since,
      edge: { url: edgeUrl, healthy: edge.healthy, responseTimeMs: edge.responseTimeMs, ...pick(edge) },
      upstream: {
        healthy: upstream.healthy,
        responseTimeMs: upstream.responseTimeMs,
        check: upstream.check,
        ...pick(upstream),
      },
    };
    const entry: HealthHistoryEntry = {
      at: now,
      healthy,
      responseTimeMs: upstream.responseTimeMs,
      ...(lastError && { error: lastError }),
    };
    // A result outlives a few missed rounds, then expires: a dead monitor never pins a service down.
    const ttlMs = Math.max(this.opts.intervalMs * 5, 60_000);
    await kv.set(healthStatusKey(service.type), JSON.stringify(status), ttlMs);
    await kv.append(
      healthHistoryKey(service.type),
      JSON.stringify(entry),
      this.opts.historyLength,
      HISTORY_TTL_MS,
    );
    if (previous?.healthy !== healthy && (previous || !healthy)) {
      if (healthy) log.info("service recovered", { service: service.type });
      else log.warn("service down", { service: service.type, error: lastError });
    }
    return status;
  }

  /**
   * Stops checking (a round in flight is cut short: its probes are aborted and nothing of it is recorded) and
   * gives the lease up (so another process takes over at its next tick).
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    clearInterval(this.timer);
    await this.running;
    try {
      await this.deps.kv.release(HEALTH_LEADER_KEY, this.id);
    } catch {
      // The kv is gone: the lease lapses on its own.
    }
  }
}

const pick = (p: ProbeResult) => (p.error ? { error: p.error } : {});
