import { jsonb, pgTable, text, uniqueIndex } from "drizzle-orm/pg-core";
import { timestamps, tz } from "./columns.ts";
import { credentials } from "./credentials.ts";
import { ownerId } from "./users.ts";

export const INSTANCE_STATUS = ["active", "revoked", "needs_reauth"] as const;
export type InstanceStatus = (typeof INSTANCE_STATUS)[number];

/** Who the connected key belongs to upstream, as its validation answered ("connected as ..."); not a secret. */
export interface ConnectedAccount {
  id?: string;
  name?: string;
  email?: string;
}

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
    account: jsonb().$type<ConnectedAccount>(),
    lastUsedAt: tz(),
    revokedAt: tz(),
    ...timestamps,
  },
  (t) => [uniqueIndex().on(t.userId, t.serviceType)],
);
