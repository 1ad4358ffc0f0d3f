import { existsSync } from "node:fs";
import type { Db } from "@mcp/db";
import type { Kv } from "@mcp/kv";
import type { AnyServiceDefinition } from "@mcp/services";
import { sql } from "drizzle-orm";

/** One probe of an edge or an upstream. */
export interface ProbeResult {
  healthy: boolean;
  responseTimeMs: number;
  error?: string;
  /** `http`: a request was made; `local`: a stdio server's command resolves; `skipped`: nothing to reach without a user's input. */
  check: "http" | "local" | "skipped";
}

/** `SERVICE_<TYPE>_PUBLIC_URL`: the public base of the edge process serving that service. */
export function publicUrlEnvName(type: string): string {
  return `SERVICE_${type.toUpperCase().replaceAll("-", "_")}_PUBLIC_URL`;
}

/** The edge serving `type`: its own public URL when one is set, else the deployment's PUBLIC_EDGE_URL. */
export function edgeUrlFor(
  type: string,
  env: Record<string, string | undefined>,
  publicEdgeUrl: string,
): string {
  return (env[publicUrlEnvName(type)] || publicEdgeUrl).replace(/\/+$/, "");
}

/**
 * One unauthenticated request. `strict`: only 2xx is healthy (a definition's own health endpoint, an edge's
 * `/health`); otherwise any answer below 500 means the upstream is reachable (a 401 without a key is fine).
 */
export async function probeHttp(
  url: string,
  opts: { method?: "GET" | "HEAD"; timeoutMs: number; strict: boolean; signal?: AbortSignal },
): Promise<ProbeResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  try {
    const res = await fetch(url, {
      method: opts.method ?? "GET",
      redirect: "manual",
      signal: opts.signal
        ? AbortSignal.any([AbortSignal.timeout(opts.timeoutMs), opts.signal])
        : AbortSignal.timeout(opts.timeoutMs),
      headers: { "user-agent": "mcp-platform-health/1" },
    });
    await res.body?.cancel().catch(() => {});
    const healthy = opts.strict ? res.status >= 200 && res.status < 300 : res.status < 500;
    return {
      healthy,
      responseTimeMs: elapsed(),
      check: "http",
      ...(!healthy && { error: `HTTP ${res.status}` }),
    };
  } catch (error) {
    const name = (error as Error).name;
    const message =
      name === "TimeoutError" || name === "AbortError"
        ? `timed out after ${opts.timeoutMs} ms`
        : `unreachable (${String((error as Error).message).slice(0, 200)})`;
    return { healthy: false, responseTimeMs: elapsed(), check: "http", error: message };
  }
}

/** The upstream itself: its definition's health request, else a GET of its base URL; a stdio server is local. */
export async function probeUpstream(
  service: AnyServiceDefinition,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<ProbeResult> {
  if (service.kind === "mcp" && service.transport === "stdio") {
    const healthy = existsSync(service.stdio.command);
    return { healthy, responseTimeMs: 0, check: "local", ...(!healthy && { error: "command not found" }) };
  }
  // A `{site}` base URL names a different host per user: there is no one upstream to check.
  if (/\{[^{}]+\}/.test(service.baseUrl)) return { healthy: true, responseTimeMs: 0, check: "skipped" };
  const health = service.health;
  if (health) {
    const url = `${service.baseUrl.replace(/\/+$/, "")}${health.path}`;
    return probeHttp(url, { method: health.method, timeoutMs, strict: true, signal });
  }
  return probeHttp(service.baseUrl, { timeoutMs, strict: false, signal });
}

/** An edge process: its `/health` must answer 2xx. */
export function probeEdge(edgeUrl: string, timeoutMs: number, signal?: AbortSignal): Promise<ProbeResult> {
  return probeHttp(`${edgeUrl}/health`, { timeoutMs, strict: true, signal });
}

const within = <T>(work: Promise<T>, ms: number, fallback: T): Promise<T> =>
  Promise.race([
    work.catch(() => fallback),
    new Promise<T>((resolve) => setTimeout(() => resolve(fallback), ms).unref?.()),
  ]);

/**
 * Whether this process can serve: the kv answers (and is not running degraded on its per-process fallback, which
 * may outlast Redis's own outage until it answers in time and is heard again) and the database runs a query,
 * each within `timeoutMs`.
 */
export async function backendsReachable(
  deps: { kv: Kv; db: Db },
  timeoutMs = 2_000,
): Promise<{ kv: boolean; database: boolean }> {
  const [kv, database] = await Promise.all([
    within(
      deps.kv.ping().then((up) => up && deps.kv.degraded?.() !== true),
      timeoutMs,
      false,
    ),
    within(
      deps.db.execute(sql`select 1`).then(() => true),
      timeoutMs,
      false,
    ),
  ]);
  return { kv, database };
}
