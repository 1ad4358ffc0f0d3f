import { sql } from "drizzle-orm";
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
    /**
     * What the account page names a session by (`account.sessions`, `account.revokeSession`): random, unrelated
     * to the cookie's secret or its hash. A database default, so rows made before the column got one too.
     */
    publicId: text().notNull().unique().default(sql`('ses_' || replace(gen_random_uuid()::text, '-', ''))`),
    /** Rows made before this column existed read as the time it was added. */
    createdAt: tz().notNull().defaultNow(),
    /** The browser's User-Agent (at most 256 characters) and address when the session was made, to tell them apart. */
    userAgent: text(),
    ip: text(),
  },
  (t) => [index().on(t.userId)],
);
