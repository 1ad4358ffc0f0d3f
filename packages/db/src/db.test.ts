import { afterAll, describe, expect, test } from "bun:test";
import { eq, sql } from "drizzle-orm";
import { createDatabase } from "./client.ts";
import { perDatabase } from "./per-database.ts";
import { users } from "./schema/index.ts";

const database = createDatabase({ DATABASE_URL: process.env.DATABASE_URL, memory: true });
afterAll(() => database.close());

describe(`db (${database.driver})`, () => {
  test("migrations apply, twice and concurrently, without error", async () => {
    await Promise.all([database.migrate(), database.migrate()]);
    await database.migrate();
  });

  test("snake_case columns and unique email", async () => {
    const id = `usr_dbtest_${crypto.randomUUID()}`;
    const email = `${id}@example.test`;
    await database.db.insert(users).values({ id, email, passwordHash: "x" });
    const [row] = await database.db.select().from(users).where(eq(users.id, id));
    expect(row?.email).toBe(email);
    expect(row?.createdAt).toBeInstanceOf(Date);
    const dup = async () => database.db.insert(users).values({ id: `${id}-2`, email, passwordHash: "x" });
    await expect(dup()).rejects.toThrow();
    await database.db.delete(users).where(eq(users.id, id));
  });
});

// PostgreSQL only: how drizzle's queries reach the server (PGlite has no wire protocol).
describe.skipIf(!process.env.DATABASE_URL)("queries on PostgreSQL are named prepared statements", () => {
  const url = process.env.DATABASE_URL ?? "";
  /** What this connection has prepared (one connection, so it is the one that ran the queries). */
  const prepared = async (database: ReturnType<typeof createDatabase>) => {
    const result = (await database.db.execute(
      sql`select statement from pg_prepared_statements where statement like '%"users"."email" = $1%'`,
    )) as unknown as { statement: string }[];
    return result.map((r) => r.statement);
  };
  const byEmail = (database: ReturnType<typeof createDatabase>, email: string) =>
    database.db.select({ id: users.id }).from(users).where(eq(users.email, email));

  test("a query with parameters is prepared once per connection and reused, in transactions too", async () => {
    const database = createDatabase({ DATABASE_URL: url, poolSize: 1 });
    try {
      const email = `prep-${crypto.randomUUID()}@example.test`;
      expect(await prepared(database)).toEqual([]);
      expect(await byEmail(database, email)).toEqual([]);
      expect(await byEmail(database, `other-${email}`)).toEqual([]);
      expect(await prepared(database)).toHaveLength(1);
      // The same text on the same connection: still the one statement.
      await database.db.transaction(async (tx) => {
        await tx.select({ id: users.id }).from(users).where(eq(users.email, email));
        await tx.select({ at: users.createdAt }).from(users).where(eq(users.email, email));
      });
      // A transaction's client prepares too: the second text is a second statement.
      expect(await prepared(database)).toHaveLength(2);
    } finally {
      await database.close();
    }
  });

  test("`?prepare=false` in DATABASE_URL turns it off (PgBouncer in transaction mode)", async () => {
    const off = new URL(url);
    off.searchParams.set("prepare", "false");
    const database = createDatabase({ DATABASE_URL: off.toString(), poolSize: 1 });
    try {
      expect(await byEmail(database, `prep-${crypto.randomUUID()}@example.test`)).toEqual([]);
      expect(await prepared(database)).toEqual([]);
    } finally {
      await database.close();
    }
  });
});

test("perDatabase builds once per database", () => {
  let builds = 0;
  const made = perDatabase((db) => ({ db, n: ++builds }));
  const other = {} as typeof database.db;
  expect(made(database.db)).toBe(made(database.db));
  expect(made(other)).not.toBe(made(database.db));
  expect(made(other).db).toBe(other);
  expect(builds).toBe(2);
});
