import { index, integer, pgTable, text, uniqueIndex } from "drizzle-orm/pg-core";
import { timestamps } from "./columns.ts";
import { orgId } from "./organizations.ts";
import { ownerId } from "./users.ts";

/** A user's upstream secret, sealed with AES-256-GCM; AAD = user id, service type, row id. */
export const credentials = pgTable(
  "credentials",
  {
    id: text().primaryKey(),
    userId: ownerId(),
    orgId: orgId(),
    serviceType: text().notNull(),
    keyVersion: integer().notNull(),
    ciphertext: text().notNull(),
    ...timestamps,
  },
  (t) => [
    uniqueIndex("credentials_org_user_service_idx").on(t.orgId, t.userId, t.serviceType),
    index().on(t.userId),
  ],
);
