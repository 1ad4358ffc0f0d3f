import { afterAll, describe, expect, test } from "bun:test";
import {
  appendFileSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { sql } from "drizzle-orm";
import { createDatabase } from "./client.ts";
import { MigratedTemplate } from "./pglite-template.ts";

// Embedded only (whatever the environment says): this is how an in-memory PGlite starts.
const MIGRATIONS = resolve(import.meta.dir, "../../../drizzle");
const ENGINE = `pglite ${(require("@electric-sql/pglite/package.json") as { version: string }).version}`;
const JOURNAL = JSON.parse(readFileSync(join(MIGRATIONS, "meta/_journal.json"), "utf8")) as {
  entries: unknown[];
};
const scratch = mkdtempSync(join(tmpdir(), "pglite-template-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const count = async (database: ReturnType<typeof createDatabase>, query: string) => {
  const result = (await database.db.execute(sql.raw(query))) as unknown as { rows: { n: number }[] };
  return Number(result.rows[0]?.n);
};

describe("in-memory databases start from a migrated snapshot", () => {
  test("the first writes one after migrating, the next starts from it, with no row of the first", async () => {
    const dir = join(scratch, "cache");
    // A snapshot of other migrations, left by an earlier checkout: replaced, not kept beside the new one.
    mkdirSync(dir);
    writeFileSync(join(dir, `${"0".repeat(32)}.tar`), "stale");
    const first = createDatabase({ memory: true, snapshotDir: dir });
    await first.migrate();
    const written = readdirSync(dir);
    expect(written).toHaveLength(1);
    expect(written[0]).toMatch(/^[0-9a-f]{32}\.tar$/);
    await first.db.execute(
      sql`insert into users (id, email, password_hash) values ('usr_tpl', 'tpl@x.test', 'x')`,
    );
    expect(await count(first, "select count(*)::int as n from users")).toBe(1);

    // Mark the snapshot, so that only a database started from it can have the mark.
    const file = join(dir, written[0] ?? "");
    const marked = new PGlite({ loadDataDir: new Blob([readFileSync(file)]) });
    await marked.exec("create table started_from_snapshot (x int)");
    writeFileSync(file, new Uint8Array(await (await marked.dumpDataDir("none")).arrayBuffer()));
    await marked.close();

    const next = createDatabase({ memory: true, snapshotDir: dir });
    await next.migrate();
    expect(await count(next, "select count(*)::int as n from started_from_snapshot")).toBe(0);
    expect(await count(next, "select count(*)::int as n from users")).toBe(0);
    expect(await count(next, "select count(*)::int as n from drizzle.__drizzle_migrations")).toBe(
      JOURNAL.entries.length,
    );
    // Still one snapshot, nothing half-written beside it.
    expect(readdirSync(dir)).toEqual(written);
    await Promise.all([first.close(), next.close()]);
  }, 60_000);

  test("keyed by every migration's content and the engine, not by where the files are", () => {
    const dir = join(scratch, "keys");
    const copy = join(scratch, "migrations-copy");
    cpSync(MIGRATIONS, copy, { recursive: true });
    const changed = join(scratch, "migrations-changed");
    cpSync(MIGRATIONS, changed, { recursive: true });
    const sqlFile = readdirSync(changed).find((f) => f.endsWith(".sql")) ?? "";
    appendFileSync(join(changed, sqlFile), "\n-- changed\n");

    const files = (m: string, engine = ENGINE) =>
      (new MigratedTemplate(dir, m, engine) as unknown as { file: string }).file;
    expect(files(copy)).toBe(files(MIGRATIONS));
    expect(files(changed)).not.toBe(files(MIGRATIONS));
    expect(files(MIGRATIONS, `${ENGINE}-other-build`)).not.toBe(files(MIGRATIONS));
    expect(new MigratedTemplate(dir, changed, ENGINE).snapshot).toBeUndefined();
  });

  test("a folder that cannot be written only means the slow start", async () => {
    const blocker = join(scratch, "a-file");
    writeFileSync(blocker, "not a folder");
    const database = createDatabase({ memory: true, snapshotDir: join(blocker, "cache") });
    await database.migrate();
    expect(await count(database, "select count(*)::int as n from users")).toBe(0);
    expect(readFileSync(blocker, "utf8")).toBe("not a folder");
    await database.close();
  }, 60_000);
});
