import { loadKeyring } from "@mcp/crypto";
import { createDatabase, type Database } from "@mcp/db";
import { createKv } from "@mcp/kv";
import { DEFINITIONS_DIR, loadRegistry } from "@mcp/services";
import type { CoreDeps } from "./deps.ts";
import { type PlatformEnv, publicEdgeUrl, servicePublicUrls } from "./env.ts";
import { HealthView } from "./health.ts";
import { HealthMonitor } from "./health-monitor.ts";
import { createLogger } from "./logger.ts";

export interface Platform {
  deps: CoreDeps;
  database: Database;
  /**
   * This process's health monitor candidate (only with `monitor: true` and HEALTH_CHECK_INTERVAL_MS > 0);
   * the entry point starts it once its servers listen, so the first round finds the edge up.
   */
  monitor?: HealthMonitor;
  close(): Promise<void>;
}

/**
 * Builds the shared dependencies once per process: database (PGlite or PostgreSQL), kv (in-process or
 * Redis), keyring, service registry and logger, and applies migrations.
 */
export async function createPlatform(
  env: PlatformEnv,
  opts: {
    memoryDb?: boolean;
    kvPrefix?: string;
    edgeUrl?: string;
    /** Extra env for the service registry (e.g. `SERVICE_FIGMA_BASE_URL` in tests). */
    serviceEnv?: Record<string, string>;
    /** Folders of definitions read besides the shipped ones (a test's own services). */
    definitionDirs?: string[];
    /** Build a health monitor candidate for this process (the entry points do; tests make their own). */
    monitor?: boolean;
  } = {},
): Promise<Platform> {
  const log = createLogger({ level: env.LOG_LEVEL });
  const registry = loadRegistry(
    opts.definitionDirs?.length ? [DEFINITIONS_DIR, ...opts.definitionDirs] : DEFINITIONS_DIR,
    { ...process.env, ...opts.serviceEnv },
  );
  // Settings are read before the database opens: a bad one is named at once, without a reachable database.
  const publicUrls = servicePublicUrls({ ...process.env, ...opts.serviceEnv });
  const keyring = loadKeyring(env, env.DATA_DIR, (msg) => log.warn(msg));
  const database = createDatabase({
    DATABASE_URL: env.DATABASE_URL,
    DATA_DIR: env.DATA_DIR,
    memory: opts.memoryDb,
  });
  await database.migrate();
  const kv = createKv(env, {
    prefix: opts.kvPrefix,
    ...(env.REDIS_TIMEOUT_MS && { timeoutMs: Number(env.REDIS_TIMEOUT_MS) }),
    // Through the logger (which redacts), never ioredis's own printing to stderr.
    onError: (error) => log.warn("redis connection error", { error }),
  });
  const deps: CoreDeps = {
    db: database.db,
    kv,
    keyring,
    registry,
    log,
    publicEdgeUrl: opts.edgeUrl ?? publicEdgeUrl(env),
    servicePublicUrls: publicUrls,
    allowPrivateUpstreams: env.ALLOW_PRIVATE_UPSTREAMS === "1",
    passwordHashing: { memoryKib: env.PASSWORD_HASH_MEMORY_KIB, iterations: env.PASSWORD_HASH_ITERATIONS },
  };
  const refreshMs = env.HEALTH_CHECK_INTERVAL_MS || 30_000;
  const health = new HealthView(kv, () => deps.registry.list().map((s) => s.type), {
    refreshMs,
    onError: (error) => log.warn("health view refresh failed", { error }),
  });
  await health.start();
  deps.health = health;
  let monitor: HealthMonitor | undefined;
  if (opts.monitor && env.HEALTH_CHECK_INTERVAL_MS > 0) {
    monitor = new HealthMonitor(deps, {
      intervalMs: env.HEALTH_CHECK_INTERVAL_MS,
      timeoutMs: env.HEALTH_CHECK_TIMEOUT_MS,
      historyLength: env.HEALTH_HISTORY_LENGTH,
      env: { ...process.env, ...opts.serviceEnv },
    });
  }
  return {
    deps,
    database,
    monitor,
    async close() {
      await monitor?.stop();
      await health.stop();
      await kv.close();
      await database.close();
    },
  };
}
