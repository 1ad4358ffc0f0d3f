import { sql } from "drizzle-orm";
import { index, integer, jsonb, pgTable, text } from "drizzle-orm/pg-core";
import { tz } from "./columns.ts";

/** How the actor of an event was authenticated: a dashboard session, an integrator API key, an instance URL. */
export const AUDIT_ACTOR_KINDS = ["session", "api_key", "instance"] as const;
export type AuditActorKind = (typeof AUDIT_ACTOR_KINDS)[number];

/**
 * What an event changed, where the action alone does not say it: the settings an `instance.settings`
 * changed (and the new values of those that are configuration), the role an `org.role_change` gave or an
 * `org.invite` offers, the scopes and expiry of an `api_key.create`. Flat, small, written only by the
 * platform's own code: never a secret, a payload or a user's free text.
 */
export type AuditDetail = Record<string, string | number | boolean | null | string[]>;

/**
 * Who did what, when, from where, and how it went. Never a secret or a payload: no API key, instance URL or
 * token, credential, tool arguments or results. `ip` and `user_agent` are personal data (account deletion
 * clears them: `forgetAuditPersonalData`).
 */
export const auditEvents = pgTable(
  "audit_events",
  {
    id: text().primaryKey(),
    userId: text().notNull(),
    /** The organisation the event happened in (its owners and admins see it); null for account-wide events. */
    orgId: text(),
    /** e.g. `tool.call`, `auth.sign_in`, `instance.connect`, `instance.revoke`, `api_key.create`. */
    action: text().notNull(),
    /** `ok` or an error code. */
    status: text().notNull(),
    actorKind: text({ enum: AUDIT_ACTOR_KINDS }),
    /** The API key's id (never the key) when `actor_kind` is `api_key`. */
    actorKeyId: text(),
    /** What was acted on: an instance id, an API key id, a user id. */
    target: text(),
    instanceId: text(),
    serviceType: text(),
    tool: text(),
    /** Tool calls: the whole call at the edge; `latency_ms - upstream_ms` is the gateway's own time. */
    latencyMs: integer(),
    /** Tool calls: time spent on the upstream call (null when none was made, e.g. served from the read cache). */
    upstreamMs: integer(),
    requestId: text(),
    ip: text(),
    userAgent: text(),
    /** See AuditDetail; null for events whose action says it all (and for every tool call). */
    detail: jsonb().$type<AuditDetail>(),
    createdAt: tz().notNull().defaultNow(),
  },
  (t) => [
    // audit.list: newest first per user, keyset on (created_at, id), and its instance and action filters.
    index("audit_events_user_created_idx").on(t.userId, t.createdAt, t.id),
    index("audit_events_user_instance_created_idx").on(t.userId, t.instanceId, t.createdAt, t.id),
    index("audit_events_user_action_created_idx").on(t.userId, t.action, t.createdAt, t.id),
    // Organisation admins' view. Only events in an organisation: most rows (a personal instance's every tool
    // call) have none, and an index entry each would cost every such write for nothing (`org_id = $1` implies
    // `org_id is not null`, so PostgreSQL still uses it).
    index("audit_events_org_created_idx").on(t.orgId, t.createdAt, t.id).where(sql`${t.orgId} is not null`),
  ],
);
