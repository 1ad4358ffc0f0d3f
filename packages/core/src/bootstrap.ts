import { loadKeyring } from "@mcp/crypto";
import { createDatabase, type Database } from "@mcp/db";
import { createKv } from "@mcp/kv";
import { loadRegistry } from "@mcp/services";
import type { CoreDeps } from "./deps.ts";
import { type PlatformEnv, publicEdgeUrl } from "./env.ts";
import { createLogger } from "./logger.ts";

export interface Platform {
  deps: CoreDeps;
  database: Database;
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
  } = {},
): Promise<Platform> {
  const log = createLogger({ level: env.LOG_LEVEL });
  const registry = loadRegistry(undefined, { ...process.env, ...opts.serviceEnv });
  const keyring = loadKeyring(env, env.DATA_DIR, (msg) => log.warn(msg));
  const database = createDatabase({
    DATABASE_URL: env.DATABASE_URL,
    DATA_DIR: env.DATA_DIR,
    memory: opts.memoryDb,
  });
  await database.migrate();
  const kv = createKv(env, {
    prefix: opts.kvPrefix,
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
    allowPrivateUpstreams: env.ALLOW_PRIVATE_UPSTREAMS === "1",
  };
  return {
    deps,
    database,
    async close() {
      await kv.close();
      await database.close();
    },
  };
}
