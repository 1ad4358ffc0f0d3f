import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import { type DataDirLock, lockDataDir } from "./data-dir-lock.ts";
import { MigratedTemplate, SNAPSHOT_DIR } from "./pglite-template.ts";
import * as schema from "./schema/index.ts";

export type Schema = typeof schema;
/** One type for both drivers: domain code never knows which database it talks to. */
export type Db = PgDatabase<PgQueryResultHKT, Schema>;

export interface Database {
  db: Db;
  driver: "postgres" | "pglite";
  /** Applies every migration in `drizzle/`; safe to call from many processes at once. */
  migrate(): Promise<void>;
  close(): Promise<void>;
}

export interface DbOptions {
  DATABASE_URL?: string;
  DATA_DIR?: string;
  /** Embedded only: keep the database in memory (tests). */
  memory?: boolean;
  /** In memory only: the folder of migrated snapshots a new database starts from (see MigratedTemplate). */
  snapshotDir?: string;
  /** postgres-js pool size (default 10). */
  poolSize?: number;
}

const MIGRATIONS = resolve(import.meta.dir, "../../../drizzle");
const MIGRATION_LOCK = 7_245_001; // pg_advisory_lock key shared by every process of this product

/** Runs `task` calls one after another: concurrent `migrate()` calls in one process must not race. */
function serial(task: () => Promise<void>): () => Promise<void> {
  let chain: Promise<void> = Promise.resolve();
  return () => {
    chain = chain.then(task, task);
    return chain;
  };
}

/**
 * Drizzle sends every query through postgres.js's `unsafe`, which runs it unprepared: a query with parameters
 * then takes two round trips (Parse and Describe, a wait, then Bind and Execute), and the server parses and
 * plans it every time (drizzle asks for that, `prepare: false`, unless a query is given a name). Here it is a
 * named prepared statement, as postgres.js makes of its own tagged queries: one round trip once a connection
 * has seen the text (postgres.js re-prepares it when a migration changes what it returns, and forgets a
 * connection's statements when the connection is recycled), in transactions too. A query without parameters
 * stays on the simple protocol (migrations' multi-statement files). `?prepare=false` in DATABASE_URL turns it
 * off (PgBouncer in transaction mode).
 */
function preparing(sql: postgres.Sql): postgres.Sql {
  return new Proxy(sql, {
    get(target, key, receiver) {
      if (key === "unsafe") {
        return (
          query: string,
          params?: postgres.ParameterOrJSON<never>[],
          options?: postgres.UnsafeQueryOptions,
        ) => target.unsafe(query, params, { ...options, prepare: true });
      }
      if (key === "begin") {
        return (...args: unknown[]) => {
          const last = args.length - 1;
          const body = args[last];
          if (typeof body === "function") args[last] = (tx: postgres.Sql) => body(preparing(tx));
          return (target.begin as (...a: unknown[]) => unknown)(...args);
        };
      }
      return Reflect.get(target, key, receiver);
    },
  });
}

export function createDatabase(opts: DbOptions): Database {
  if (opts.DATABASE_URL) {
    const sql = postgres(opts.DATABASE_URL, {
      max: opts.poolSize ?? 10,
      idle_timeout: 30,
      connect_timeout: 10,
      onnotice: () => {},
    });
    const db = drizzlePostgres(preparing(sql), { schema, casing: "snake_case" });
    return {
      db,
      driver: "postgres",
      migrate: serial(async () => {
        const lock = await sql.reserve();
        try {
          await lock`select pg_advisory_lock(${MIGRATION_LOCK})`;
          await migratePostgres(db, { migrationsFolder: MIGRATIONS });
        } finally {
          await lock`select pg_advisory_unlock(${MIGRATION_LOCK})`;
          lock.release();
        }
      }),
      close: () => sql.end({ timeout: 5 }),
    };
  }
  let dataDir: string | undefined;
  let lock: DataDirLock | undefined;
  if (!opts.memory) {
    dataDir = join(opts.DATA_DIR ?? ".data", "pglite");
    mkdirSync(dataDir, { recursive: true });
    // One process per folder: two PGlites on it each write their own state over the other's (see
    // data-dir-lock.ts). Taken before the engine loads; a folder in use throws one line naming its process.
    lock = lockDataDir(opts.DATA_DIR ?? ".data");
  }
  try {
    return openPglite(opts, dataDir, lock);
  } catch (error) {
    lock?.release();
    throw error;
  }
}

function openPglite(opts: DbOptions, dataDir: string | undefined, lock: DataDirLock | undefined): Database {
  // Loaded only here: a process on PostgreSQL (every production edge) never pays for the embedded engine's
  // code in memory (about 10 MB resident). Bun's require loads these ES modules synchronously.
  const { PGlite } = require("@electric-sql/pglite") as typeof import("@electric-sql/pglite");
  const { drizzle: drizzlePglite } = require("drizzle-orm/pglite") as typeof import("drizzle-orm/pglite");
  const { migrate: migratePglite } =
    require("drizzle-orm/pglite/migrator") as typeof import("drizzle-orm/pglite/migrator");
  // An in-memory database starts from a migrated snapshot when one is cached (see MigratedTemplate).
  const template = opts.memory
    ? new MigratedTemplate(
        opts.snapshotDir ?? SNAPSHOT_DIR,
        MIGRATIONS,
        // The engine's build: a snapshot is only loaded by the PGlite release that wrote it.
        `pglite ${(require("@electric-sql/pglite/package.json") as { version: string }).version}`,
      )
    : undefined;
  // One options object: PGlite reads a second argument only when the first is a path.
  const client = new PGlite({ dataDir, ...(template?.snapshot && { loadDataDir: template.snapshot }) });
  const db = drizzlePglite(client, { schema, casing: "snake_case" });
  return {
    db,
    driver: "pglite",
    migrate: serial(async () => {
      await migratePglite(db, { migrationsFolder: MIGRATIONS });
      await template?.saveFrom(client);
    }),
    close: async () => {
      try {
        await client.close();
      } finally {
        lock?.release();
      }
    },
  };
}
