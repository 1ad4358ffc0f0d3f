import { index, integer, pgTable, text } from "drizzle-orm/pg-core";
import { tz } from "./columns.ts";

/** Who did what, when, and how it went. Never a secret or a payload. */
export const auditEvents = pgTable(
  "audit_events",
  {
    id: text().primaryKey(),
    userId: text().notNull(),
    instanceId: text(),
    /** e.g. `tool.call`, `instance.connect`, `instance.revoke`, `api_key.create`. */
    action: text().notNull(),
    tool: text(),
    /** `ok` or an error code. */
    status: text().notNull(),
    latencyMs: integer(),
    requestId: text(),
    createdAt: tz().notNull().defaultNow(),
  },
  (t) => [index().on(t.userId, t.createdAt)],
);
