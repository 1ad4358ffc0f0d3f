import { type Db, users } from "@mcp/db";
import { eq } from "drizzle-orm";

/**
 * Locks a user's row until the transaction ends. A bound per user (API keys, organisations) is a count and
 * then an insert: taken under this lock, concurrent requests of one user are counted one after the other, so
 * they cannot each see room for one more. `FOR NO KEY UPDATE`, not `FOR UPDATE`: it does not conflict with the
 * key-share lock a foreign key check takes on the row, so inserts that merely reference the user (a session, an
 * invitation it sends) neither wait for it nor deadlock with it.
 */
export async function lockUser(tx: Pick<Db, "select">, userId: string): Promise<void> {
  await tx.select({ id: users.id }).from(users).where(eq(users.id, userId)).for("no key update");
}
