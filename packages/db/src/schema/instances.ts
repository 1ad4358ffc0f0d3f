import { sql } from "drizzle-orm";
import { boolean, check, index, integer, jsonb, pgTable, text, uniqueIndex } from "drizzle-orm/pg-core";
import { timestamps, tz } from "./columns.ts";
import { credentials } from "./credentials.ts";
import { orgId } from "./organizations.ts";
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
    /** The organisation the instance was connected in (the user's personal one unless they chose another). */
    orgId: orgId(),
    serviceType: text().notNull(),
    credentialId: text()
      .notNull()
      .references(() => credentials.id, { onDelete: "cascade" }),
    tokenHash: text().notNull().unique(),
    status: text({ enum: INSTANCE_STATUS }).notNull().default("active"),
    account: jsonb().$type<ConnectedAccount>(),
    /** Settings (instances.updateSettings): a name the user chose; null = the service's name. */
    displayName: text(),
    /** Only these tools are listed and callable; null = every tool of the service. */
    toolAllowlist: text().array(),
    /** Only tools annotated `readOnlyHint: true` are listed and callable. */
    readOnly: boolean().notNull().default(false),
    /** Requests per minute for this instance at the edge; null = RATE_LIMIT_PER_INSTANCE. */
    rateLimitPerMinute: integer(),
    lastUsedAt: tz(),
    revokedAt: tz(),
    ...timestamps,
  },
  (t) => [
    uniqueIndex("instances_org_user_service_idx").on(t.orgId, t.userId, t.serviceType),
    index().on(t.userId),
    check(
      "instances_rate_limit_bounds",
      sql`${t.rateLimitPerMinute} is null or ${t.rateLimitPerMinute} between 1 and 100000`,
    ),
  ],
);
