import { sql } from "drizzle-orm";
import { check, index, pgTable, primaryKey, text, uniqueIndex } from "drizzle-orm/pg-core";
import { timestamps, tz } from "./columns.ts";
import { users } from "./users.ts";

/** What a member may do in an organisation: owners and admins manage it, members use it. */
export const ORG_ROLES = ["owner", "admin", "member"] as const;
export type OrgRole = (typeof ORG_ROLES)[number];

/**
 * A group of users whose instances an owner or admin can see and revoke (never their credentials). Every
 * user has one personal organisation (`personal_owner_id` = the user), made with the account; it cannot be
 * joined, left or deleted.
 */
export const organizations = pgTable("organizations", {
  id: text().primaryKey(),
  name: text().notNull(),
  /** The user whose personal organisation this is; null for a shared one. */
  personalOwnerId: text()
    .unique()
    .references(() => users.id, { onDelete: "cascade" }),
  ...timestamps,
});

export const orgMembers = pgTable(
  "org_members",
  {
    orgId: text()
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    userId: text()
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    role: text({ enum: ORG_ROLES }).notNull(),
    ...timestamps,
  },
  (t) => [primaryKey({ columns: [t.orgId, t.userId] }), index().on(t.userId)],
);

/**
 * An invitation to join an organisation: single use, expiring. Only the SHA-256 of its token is kept; the
 * link holding the token is shown once, to the inviter.
 */
export const orgInvitations = pgTable(
  "org_invitations",
  {
    id: text().primaryKey(),
    orgId: text()
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    tokenHash: text().notNull(),
    /** The role the invitee gets; never `owner` (ownership is given by changing a member's role). */
    role: text({ enum: ORG_ROLES }).notNull(),
    invitedBy: text().references(() => users.id, { onDelete: "set null" }),
    expiresAt: tz().notNull(),
    acceptedAt: tz(),
    acceptedBy: text().references(() => users.id, { onDelete: "set null" }),
    revokedAt: tz(),
    ...timestamps,
  },
  (t) => [
    uniqueIndex().on(t.tokenHash),
    index().on(t.orgId),
    check("org_invitations_role_not_owner", sql`${t.role} <> 'owner'`),
  ],
);

/** The organisation a row belongs to; deleting the organisation deletes what belongs to it. */
export const orgId = () =>
  text()
    .notNull()
    .references(() => organizations.id, { onDelete: "cascade" });
