import { pgTable, text } from "drizzle-orm/pg-core";
import { timestamps } from "./columns.ts";

export const users = pgTable("users", {
  id: text().primaryKey(),
  /** Stored lower-cased; unique. */
  email: text().notNull().unique(),
  /** argon2id (Bun.password). */
  passwordHash: text().notNull(),
  ...timestamps,
});

/** The owning user of a row; deleting the user deletes what they own. */
export const ownerId = () =>
  text()
    .notNull()
    .references(() => users.id, { onDelete: "cascade" });
