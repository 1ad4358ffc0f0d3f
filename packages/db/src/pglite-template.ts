import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { PGlite } from "@electric-sql/pglite";

/** Where migrated snapshots are kept by default: beside the installed packages, like other tools' caches. */
export const SNAPSHOT_DIR = resolve(import.meta.dir, "../../../node_modules/.cache/mcp-pglite");

/**
 * A freshly migrated, empty embedded database, kept on disk so that the next in-memory database starts from
 * it instead of running initdb and every migration again (about 1.6 s against 5 s on a 2-core machine; the
 * test suite starts a hundred of them). Keyed by the engine's build and every migration file's name and
 * content, so any change to either is a different snapshot; `migrate()` still runs after loading one (it
 * finds nothing to do). It holds the schema only: it is taken right after the first migration, before any
 * row can exist. A missing, unreadable or unwritable cache only means the slow start.
 */
export class MigratedTemplate {
  /** The snapshot, when one was on disk; else this database makes it after migrating. */
  readonly snapshot: Blob | undefined;
  private readonly file: string;
  private saved = false;

  constructor(
    private readonly dir: string,
    migrationsDir: string,
    engine: string,
  ) {
    const keyed = `${dir}\0${migrationsDir}\0${engine}`;
    const file = files.get(keyed) ?? join(dir, `${templateKey(migrationsDir, engine)}.tar`);
    files.set(keyed, file);
    this.file = file;
    this.snapshot = snapshots.get(file) ?? readSnapshot(file);
    if (this.snapshot) snapshots.set(file, this.snapshot);
    this.saved = this.snapshot !== undefined;
  }

  /** After the first migration of a database that did not start from a snapshot: writes one for the next. */
  async saveFrom(client: PGlite): Promise<void> {
    if (this.saved) return;
    this.saved = true;
    try {
      const dump = await client.dumpDataDir("none");
      mkdirSync(this.dir, { recursive: true });
      // Written aside and renamed: a process reading the cache never sees half a snapshot.
      const part = `${this.file}.${process.pid}.${crypto.randomUUID()}.part`;
      writeFileSync(part, new Uint8Array(await dump.arrayBuffer()));
      try {
        renameSync(part, this.file);
      } catch {
        rmSync(part, { force: true });
      }
      // Snapshots of earlier migrations (or engines) are of no further use: one is kept, not one per change.
      for (const name of readdirSync(this.dir)) {
        const path = join(this.dir, name);
        if (name.endsWith(".tar") && path !== this.file) rmSync(path, { force: true });
      }
    } catch {
      // Only a speed-up: without it the next database runs initdb and the migrations itself.
    }
  }
}

/** This process's snapshot files by folder, migrations and engine, and the snapshots read (a Blob is immutable). */
const files = new Map<string, string>();
const snapshots = new Map<string, Blob>();

function readSnapshot(file: string): Blob | undefined {
  try {
    return new Blob([readFileSync(file)]);
  } catch {
    return undefined;
  }
}

/** SHA-256 over the engine's identity and every migration file (SQL and journal), in name order. */
function templateKey(migrationsDir: string, engine: string): string {
  const hash = createHash("sha256").update(engine);
  const walk = (dir: string, prefix: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path, `${prefix}${entry.name}/`);
      else hash.update(`\0${prefix}${entry.name}\0`).update(readFileSync(path));
    }
  };
  walk(migrationsDir, "");
  return hash.digest("hex").slice(0, 32);
}
