import { index, pgTable, text } from "drizzle-orm/pg-core";
import { timestamps, tz } from "./columns.ts";
import { ownerId } from "./users.ts";

/** Control-plane API keys for integrators; only the SHA-256 of the key is kept. */
export const apiKeys = pgTable(
  "api_keys",
  {
    id: text().primaryKey(),
    userId: ownerId(),
    name: text().notNull(),
    /** The first characters of the key, to tell keys apart in a list. */
    prefix: text().notNull(),
    keyHash: text().notNull().unique(),
    lastUsedAt: tz(),
    revokedAt: tz(),
    ...timestamps,
  },
  (t) => [index().on(t.userId)],
);
