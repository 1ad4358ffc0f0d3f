import { afterAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { createDatabase } from "./client.ts";
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
