import { pgTable, text, uniqueIndex } from "drizzle-orm/pg-core";
import { timestamps, tz } from "./columns.ts";
import { credentials } from "./credentials.ts";
import { ownerId } from "./users.ts";

export const INSTANCE_STATUS = ["active", "revoked", "needs_reauth"] as const;
export type InstanceStatus = (typeof INSTANCE_STATUS)[number];

/** A user's MCP endpoint for one service. The URL's token is kept only as its SHA-256. */
export const instances = pgTable(
  "instances",
  {
    id: text().primaryKey(),
    userId: ownerId(),
    serviceType: text().notNull(),
    credentialId: text()
      .notNull()
      .references(() => credentials.id, { onDelete: "cascade" }),
    tokenHash: text().notNull().unique(),
    status: text({ enum: INSTANCE_STATUS }).notNull().default("active"),
    lastUsedAt: tz(),
    revokedAt: tz(),
    ...timestamps,
  },
  (t) => [uniqueIndex().on(t.userId, t.serviceType)],
);
