import { index, pgTable, text } from "drizzle-orm/pg-core";
import { tz } from "./columns.ts";
import { ownerId } from "./users.ts";

/** Dashboard sessions (lucia). `id` is the SHA-256 of the cookie's secret, never the secret. */
export const sessions = pgTable(
  "sessions",
  {
    id: text().primaryKey(),
    userId: ownerId(),
    expiresAt: tz("expires_at").notNull(),
  },
  (t) => [index().on(t.userId)],
);
