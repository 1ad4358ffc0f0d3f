import { hashToken, randomSecret } from "@mcp/crypto";
import {
  type AuditDetail,
  apiKeys,
  type Db,
  instances,
  type OrgRole,
  organizations,
  orgInvitations,
  orgMembers,
  users,
} from "@mcp/db";
import { lru } from "@mcp/kv/lru";
import { type AnyColumn, and, asc, eq, gt, isNull, ne, type SQL, sql } from "drizzle-orm";
import type { LRUCache } from "lru-cache";
import { type AuditRequest, recordAudit } from "./audit.ts";
import { isUniqueViolation } from "./db-errors.ts";
import type { CoreDeps } from "./deps.ts";
import { fail, ok, type Result } from "./errors.ts";
import { newId } from "./ids.ts";
import type { InstanceSummary } from "./instances.ts";
import { instanceSummary } from "./instances.ts";
import { lockUser } from "./quota.ts";
import { retireInstanceToken } from "./resolve.ts";

export { ORG_ROLES, type OrgRole } from "@mcp/db";

export interface OrgSummary {
  orgId: string;
  name: string;
  /** The user's personal organisation: made with the account, never shared. */
  personal: boolean;
  /** The caller's role in it. */
  role: OrgRole;
  createdAt: Date;
}

export interface OrgMember {
  userId: string;
  email: string;
  role: OrgRole;
  joinedAt: Date;
}

export interface InvitationSummary {
  invitationId: string;
  role: OrgRole;
  expiresAt: Date;
  createdAt: Date;
  /** The inviter's e-mail, when they still have an account. */
  invitedBy: string | null;
}

export interface IssuedInvitation extends InvitationSummary {
  /** Shown once, to the inviter; only its SHA-256 is kept. */
  token: string;
  /** Where the invitee accepts it, on the dashboard (relative to its origin); holds the token. */
  invitePath: string;
}

/** An instance of a member, as an organisation's owners and admins see it: never a credential or URL. */
export interface MemberInstance extends InstanceSummary {
  userId: string;
  email: string;
}

/** The user a call is made for (the actor without its current organisation: these name theirs explicitly). */
export interface OrgCaller {
  userId: string;
}

type OrgError = "NOT_FOUND" | "FORBIDDEN" | "BAD_REQUEST" | "CONFLICT";

/** The most members or member instances one call lists, and the default: a longer list comes in pages. */
export const MAX_LIST_PAGE = 1000;

/**
 * A page of a list in the order items were added: at most `limit` items, those after `after`, the last item of
 * the page before as the list showed it (its id and its time: `joinedAt` / `createdAt`). Stateless: that item
 * may be gone meanwhile (a member removed, an instance deleted) and the next page is still the rest.
 */
export interface PageInput {
  limit?: number;
  after?: { id: string; at: Date };
}

/**
 * The lists' order, (created, id), with the time to the millisecond: as the API shows it, so the `after` a
 * client hands back from an item compares exactly (the stored microseconds would put an item after itself).
 */
function pageOrder(created: AnyColumn, id: AnyColumn) {
  return [asc(sql`date_trunc('milliseconds', ${created})`), asc(id)];
}

/** The rows after `after` in `pageOrder`, or no condition for the first page. */
function pageAfter(created: AnyColumn, id: AnyColumn, after: PageInput["after"]): SQL | undefined {
  if (!after) return undefined;
  const at = after.at.toISOString();
  return sql`(date_trunc('milliseconds', ${created}), ${id}) > (${at}::timestamptz, ${after.id})`;
}

export const MAX_ORGS_PER_USER = 50;
export const MAX_PENDING_INVITATIONS = 100;
export const INVITATION_TTL_HOURS = { default: 168, max: 720 } as const;
/** What an invitation token looks like; anything else is refused before any lookup. */
export const INVITATION_TOKEN = /^inv_[A-Za-z0-9_-]{43}$/;

const NO_ORG = "Organisation not found";
/** What an organisation id looks like (`X-Org-Id`, `orgId` inputs); anything else is refused before any lookup. */
export const ORG_ID = /^org_[A-Za-z0-9_-]{1,64}$/;

/** Owners and admins manage an organisation and see every member's instances, audit events and usage. */
export const isAdminRole = (role: OrgRole) => role === "owner" || role === "admin";

/**
 * The user's personal organisation, made (with them as owner) the first time it is needed: at sign-up, or
 * for an account older than organisations that the migration did not cover. Safe to race.
 */
export async function personalOrgOf(db: Db, userId: string): Promise<string> {
  const known = personalOrgs(db).get(userId);
  if (known) return known;
  const id = await findOrMakePersonalOrg(db, userId);
  personalOrgs(db).set(userId, id);
  return id;
}

/**
 * A user's personal organisation never changes (it goes only with the user), so each process remembers it:
 * the control plane does not pay a query for it on every signed-in request.
 */
const remembered = new WeakMap<Db, LRUCache<string, string>>();
function personalOrgs(db: Db): LRUCache<string, string> {
  let cache = remembered.get(db);
  if (!cache) {
    cache = lru(100_000);
    remembered.set(db, cache);
  }
  return cache;
}

async function findOrMakePersonalOrg(db: Db, userId: string): Promise<string> {
  const [found] = await db
    .select({ id: organizations.id })
    .from(organizations)
    .where(eq(organizations.personalOwnerId, userId))
    .limit(1);
  if (found) return found.id;
  return db.transaction(async (tx) => {
    const id = newId("org");
    const [made] = await tx
      .insert(organizations)
      .values({ id, name: "Personal", personalOwnerId: userId })
      .onConflictDoNothing({ target: organizations.personalOwnerId })
      .returning({ id: organizations.id });
    if (made) {
      await tx.insert(orgMembers).values({ orgId: id, userId, role: "owner" });
      return id;
    }
    const [other] = await tx
      .select({ id: organizations.id })
      .from(organizations)
      .where(eq(organizations.personalOwnerId, userId));
    if (!other) throw new Error("personal organisation vanished");
    return other.id;
  });
}

/**
 * The organisation a request acts in, and the caller's role there: the one asked for (`X-Org-Id`) when the
 * user is a member, else null (the caller learns nothing about organisations they are not in); without a
 * request, the user's personal organisation.
 */
export async function actorOrg(
  deps: Pick<CoreDeps, "db">,
  userId: string,
  requested?: string | null,
): Promise<{ orgId: string; role: OrgRole } | null> {
  if (!requested) return { orgId: await personalOrgOf(deps.db, userId), role: "owner" };
  const role = await roleIn(deps.db, requested, userId);
  return role ? { orgId: requested, role } : null;
}

async function roleIn(db: Pick<Db, "select">, orgId: string, userId: string): Promise<OrgRole | undefined> {
  const [row] = await db
    .select({ role: orgMembers.role })
    .from(orgMembers)
    .where(and(eq(orgMembers.orgId, orgId), eq(orgMembers.userId, userId)))
    .limit(1);
  return row?.role;
}

interface Membership {
  role: OrgRole;
  personal: boolean;
  name: string;
}

/**
 * The caller's membership of `orgId` when it grants `need`: a non-member gets 404 (as if the organisation did
 * not exist), a member below `need` 403.
 */
async function member(
  db: Pick<Db, "select">,
  caller: OrgCaller,
  orgId: string,
  need: "member" | "admin",
): Promise<Result<Membership, "NOT_FOUND" | "FORBIDDEN">> {
  const [row] = await db
    .select({
      role: orgMembers.role,
      personalOwnerId: organizations.personalOwnerId,
      name: organizations.name,
    })
    .from(orgMembers)
    .innerJoin(organizations, eq(organizations.id, orgMembers.orgId))
    .where(and(eq(orgMembers.orgId, orgId), eq(orgMembers.userId, caller.userId)))
    .limit(1);
  if (!row) return fail("NOT_FOUND", NO_ORG);
  if (need === "admin" && !isAdminRole(row.role)) {
    return fail("FORBIDDEN", "Only the organisation's owners and admins may do this");
  }
  return ok({ role: row.role, personal: row.personalOwnerId !== null, name: row.name });
}

/**
 * `member`, inside a change's transaction, under a lock on the organisation's row (`FOR NO KEY UPDATE`: joins and
 * new instances, which only reference the row, do not wait for it). Every change of an organisation's members,
 * roles or invitations takes it first, so they run one after the other, and the caller's role is the one they have
 * when the change runs: an admin demoted or removed while their request waited is refused (403 / 404), not
 * judged by the role read before.
 */
async function lockedMember(
  tx: Pick<Db, "select">,
  caller: OrgCaller,
  orgId: string,
  need: "member" | "admin",
): Promise<Result<Membership, "NOT_FOUND" | "FORBIDDEN">> {
  await tx
    .select({ id: organizations.id })
    .from(organizations)
    .where(eq(organizations.id, orgId))
    .for("no key update");
  return member(tx, caller, orgId, need);
}

const orgAudit = (
  deps: Pick<CoreDeps, "db" | "log">,
  caller: OrgCaller,
  orgId: string,
  action: string,
  target: string,
  request?: AuditRequest,
  detail?: AuditDetail,
) =>
  recordAudit(deps, {
    ...request,
    userId: caller.userId,
    orgId,
    action,
    status: "ok",
    target,
    ...(detail && { detail }),
  });

export async function listOrgs(deps: Pick<CoreDeps, "db">, caller: OrgCaller): Promise<OrgSummary[]> {
  await personalOrgOf(deps.db, caller.userId);
  const rows = await deps.db
    .select({
      orgId: organizations.id,
      name: organizations.name,
      personalOwnerId: organizations.personalOwnerId,
      role: orgMembers.role,
      createdAt: organizations.createdAt,
    })
    .from(orgMembers)
    .innerJoin(organizations, eq(organizations.id, orgMembers.orgId))
    .where(eq(orgMembers.userId, caller.userId))
    .orderBy(
      sql`${organizations.personalOwnerId} is null`,
      asc(organizations.createdAt),
      asc(organizations.id),
    );
  return rows.map(({ personalOwnerId, ...row }) => ({ ...row, personal: personalOwnerId !== null }));
}

const ORG_BOUND = `At most ${MAX_ORGS_PER_USER} organisations per user`;

/**
 * Whether the user is in as many organisations as one may be (the personal one counts), counted under a lock on
 * the user's row (`lockUser`) that the caller's transaction holds until its insert is done.
 */
async function atOrgBound(tx: Pick<Db, "select">, userId: string): Promise<boolean> {
  await lockUser(tx, userId);
  const [held] = await tx
    .select({ n: sql<number>`count(*)::int` })
    .from(orgMembers)
    .where(eq(orgMembers.userId, userId));
  return (held?.n ?? 0) >= MAX_ORGS_PER_USER;
}

export async function createOrg(
  deps: Pick<CoreDeps, "db" | "log">,
  caller: OrgCaller,
  input: { name: string },
  request?: AuditRequest,
): Promise<Result<OrgSummary, "CONFLICT">> {
  const orgId = newId("org");
  const created = await deps.db.transaction(async (tx) => {
    if (await atOrgBound(tx, caller.userId)) return undefined;
    const [org] = await tx
      .insert(organizations)
      .values({ id: orgId, name: input.name })
      .returning({ createdAt: organizations.createdAt });
    await tx.insert(orgMembers).values({ orgId, userId: caller.userId, role: "owner" });
    return org;
  });
  if (!created) return fail("CONFLICT", ORG_BOUND);
  await orgAudit(deps, caller, orgId, "org.create", orgId, request);
  return ok({
    orgId,
    name: input.name,
    personal: false,
    role: "owner",
    createdAt: created.createdAt,
  });
}

export async function listMembers(
  deps: Pick<CoreDeps, "db">,
  caller: OrgCaller,
  input: { orgId: string } & PageInput,
): Promise<Result<OrgMember[], "NOT_FOUND" | "FORBIDDEN">> {
  const me = await member(deps.db, caller, input.orgId, "member");
  if (!me.ok) return me;
  const rows = await deps.db
    .select({
      userId: orgMembers.userId,
      email: users.email,
      role: orgMembers.role,
      joinedAt: orgMembers.createdAt,
    })
    .from(orgMembers)
    .innerJoin(users, eq(users.id, orgMembers.userId))
    .where(
      and(eq(orgMembers.orgId, input.orgId), pageAfter(orgMembers.createdAt, orgMembers.userId, input.after)),
    )
    .orderBy(...pageOrder(orgMembers.createdAt, orgMembers.userId))
    .limit(input.limit ?? MAX_LIST_PAGE);
  return ok(rows);
}

/** A single-use invitation link (shown once), valid for `expiresInHours` (default a week, at most 30 days). */
export async function inviteMember(
  deps: Pick<CoreDeps, "db" | "log">,
  caller: OrgCaller,
  input: { orgId: string; role: Exclude<OrgRole, "owner">; expiresInHours?: number },
  request?: AuditRequest,
): Promise<Result<IssuedInvitation, OrgError>> {
  const token = `inv_${randomSecret()}`;
  const hours = input.expiresInHours ?? INVITATION_TTL_HOURS.default;
  // Checked, counted and written under a lock on the organisation's row (`lockedMember`): concurrent invitations
  // are counted one after the other, so they cannot each see room for one more (`FOR NO KEY UPDATE`: see
  // lockUser), and an inviter demoted meanwhile is refused.
  const invited = await deps.db.transaction(async (tx): Promise<Result<Invitation, OrgError>> => {
    const me = await lockedMember(tx, caller, input.orgId, "admin");
    if (!me.ok) return me;
    if (me.value.personal) return fail("BAD_REQUEST", "A personal organisation has no other members");
    const [pending] = await tx
      .select({ n: sql<number>`count(*)::int` })
      .from(orgInvitations)
      .where(and(eq(orgInvitations.orgId, input.orgId), pendingInvitation()));
    if ((pending?.n ?? 0) >= MAX_PENDING_INVITATIONS) {
      return fail("CONFLICT", `At most ${MAX_PENDING_INVITATIONS} pending invitations; revoke some first`);
    }
    const [inserted] = await tx
      .insert(orgInvitations)
      .values({
        id: newId("inv"),
        orgId: input.orgId,
        tokenHash: hashToken(token),
        role: input.role,
        invitedBy: caller.userId,
        expiresAt: new Date(Date.now() + hours * 3_600_000),
      })
      .returning();
    if (!inserted) throw new Error("insert returned no row");
    return ok(inserted);
  });
  if (!invited.ok) return invited;
  const row = invited.value;
  await orgAudit(deps, caller, input.orgId, "org.invite", row.id, request, {
    role: input.role,
    expiresAt: row.expiresAt.toISOString(),
  });
  const [inviter] = await deps.db
    .select({ email: users.email })
    .from(users)
    .where(eq(users.id, caller.userId));
  return ok({
    invitationId: row.id,
    role: row.role,
    expiresAt: row.expiresAt,
    createdAt: row.createdAt,
    invitedBy: inviter?.email ?? null,
    token,
    invitePath: `/invite/${input.orgId}/${token}`,
  });
}

type Invitation = typeof orgInvitations.$inferSelect;

const pendingInvitation = () =>
  and(
    isNull(orgInvitations.acceptedAt),
    isNull(orgInvitations.revokedAt),
    gt(orgInvitations.expiresAt, sql`now()`),
  );

/**
 * An invitation is only as good as its inviter's standing: when an admin leaves (or is removed, or is no longer
 * an admin), the invitations they made and nobody used yet are revoked with it, so a removed admin cannot walk
 * back in (or send a friend in) through a link made beforehand. Returns how many were revoked.
 */
async function revokeInvitationsBy(tx: Pick<Db, "update">, orgId: string, userId: string): Promise<number> {
  const revoked = await tx
    .update(orgInvitations)
    .set({ revokedAt: new Date() })
    .where(
      and(
        eq(orgInvitations.orgId, orgId),
        eq(orgInvitations.invitedBy, userId),
        isNull(orgInvitations.acceptedAt),
        isNull(orgInvitations.revokedAt),
      ),
    )
    .returning({ id: orgInvitations.id });
  return revoked.length;
}

export async function listInvitations(
  deps: Pick<CoreDeps, "db">,
  caller: OrgCaller,
  input: { orgId: string },
): Promise<Result<InvitationSummary[], "NOT_FOUND" | "FORBIDDEN">> {
  const me = await member(deps.db, caller, input.orgId, "admin");
  if (!me.ok) return me;
  const rows = await deps.db
    .select({
      invitationId: orgInvitations.id,
      role: orgInvitations.role,
      expiresAt: orgInvitations.expiresAt,
      createdAt: orgInvitations.createdAt,
      invitedBy: users.email,
    })
    .from(orgInvitations)
    .leftJoin(users, eq(users.id, orgInvitations.invitedBy))
    .where(and(eq(orgInvitations.orgId, input.orgId), pendingInvitation()))
    .orderBy(asc(orgInvitations.createdAt), asc(orgInvitations.id));
  return ok(rows);
}

export async function revokeInvitation(
  deps: Pick<CoreDeps, "db" | "log">,
  caller: OrgCaller,
  input: { orgId: string; invitationId: string },
  request?: AuditRequest,
): Promise<Result<{ invitationId: string }, "NOT_FOUND" | "FORBIDDEN">> {
  const revoked = await deps.db.transaction(async (tx): Promise<Result<true, "NOT_FOUND" | "FORBIDDEN">> => {
    const me = await lockedMember(tx, caller, input.orgId, "admin");
    if (!me.ok) return me;
    // Pending ones only (as `listInvitations` shows them): a used, revoked or expired one is not found.
    const rows = await tx
      .update(orgInvitations)
      .set({ revokedAt: new Date() })
      .where(
        and(
          eq(orgInvitations.id, input.invitationId),
          eq(orgInvitations.orgId, input.orgId),
          pendingInvitation(),
        ),
      )
      .returning({ id: orgInvitations.id });
    return rows[0] ? ok(true) : fail("NOT_FOUND", "Invitation not found");
  });
  if (!revoked.ok) return revoked;
  await orgAudit(deps, caller, input.orgId, "org.invitation_revoke", input.invitationId, request);
  return ok({ invitationId: input.invitationId });
}

/**
 * Joins the organisation with an invitation's token: once (a second use → 409), before it expires (400), for
 * the organisation it was made for (any other → 404, like an unknown or revoked token, or one whose inviter is no
 * longer among its owners and admins).
 */
export async function acceptInvitation(
  deps: Pick<CoreDeps, "db" | "log">,
  caller: OrgCaller,
  input: { orgId: string; token: string },
  request?: AuditRequest,
): Promise<Result<OrgSummary, "NOT_FOUND" | "CONFLICT" | "BAD_REQUEST">> {
  const notFound = fail("NOT_FOUND", "Invitation not found");
  if (!INVITATION_TOKEN.test(input.token)) return notFound;
  const join = () =>
    deps.db.transaction(async (tx) => {
      const [invitation] = await tx
        .select()
        .from(orgInvitations)
        .where(eq(orgInvitations.tokenHash, hashToken(input.token)))
        .for("update");
      if (!invitation || invitation.orgId !== input.orgId || invitation.revokedAt) return notFound;
      if (invitation.acceptedAt) return fail("CONFLICT", "This invitation was already used");
      if (invitation.expiresAt.getTime() <= Date.now()) {
        return fail("BAD_REQUEST", "This invitation has expired; ask for a new one");
      }
      // Its inviter must still be one of the organisation's owners or admins (see revokeInvitationsBy; this
      // also covers an inviter whose account is gone).
      const inviterRole = invitation.invitedBy
        ? await roleIn(tx, invitation.orgId, invitation.invitedBy)
        : undefined;
      if (!inviterRole || !isAdminRole(inviterRole)) return notFound;
      if (await roleIn(tx, invitation.orgId, caller.userId)) {
        return fail("CONFLICT", "You are already a member of this organisation");
      }
      // Joining counts against the same bound as creating (the invitation stays unused).
      if (await atOrgBound(tx, caller.userId)) return fail("CONFLICT", ORG_BOUND);
      await tx
        .update(orgInvitations)
        .set({ acceptedAt: new Date(), acceptedBy: caller.userId })
        .where(eq(orgInvitations.id, invitation.id));
      await tx
        .insert(orgMembers)
        .values({ orgId: invitation.orgId, userId: caller.userId, role: invitation.role });
      const [org] = await tx.select().from(organizations).where(eq(organizations.id, invitation.orgId));
      if (!org) return notFound;
      return ok({
        orgId: org.id,
        name: org.name,
        personal: false,
        role: invitation.role,
        createdAt: org.createdAt,
        invitationId: invitation.id,
      });
    });
  // Two invitations of one organisation accepted by one user at once: the second insert of the membership
  // fails on its key; that user is then a member already.
  const joined = await join().catch((error: unknown) => {
    if (isUniqueViolation(error)) return fail("CONFLICT", "You are already a member of this organisation");
    throw error;
  });
  if (!joined.ok) return joined;
  const { invitationId, ...org } = joined.value;
  await orgAudit(deps, caller, org.orgId, "org.join", invitationId, request);
  return ok(org);
}

/**
 * Locks the organisation's owner rows and says whether taking `userId` out of ownership would leave it
 * without one (409 for the caller). Inside the write's transaction, so two demotions cannot both pass.
 */
async function isLastOwner(tx: Pick<Db, "select">, orgId: string, userId: string): Promise<boolean> {
  const owners = await tx
    .select({ userId: orgMembers.userId })
    .from(orgMembers)
    .where(and(eq(orgMembers.orgId, orgId), eq(orgMembers.role, "owner")))
    .for("update");
  return owners.length === 1 && owners[0]?.userId === userId;
}

const LAST_OWNER = "An organisation needs at least one owner; make someone else owner first";

/**
 * Changes a member's role. Owners may change anyone's; admins only between member and admin for members
 * who are not owners. The last owner cannot be demoted (409).
 */
export async function setMemberRole(
  deps: Pick<CoreDeps, "db" | "log">,
  caller: OrgCaller,
  input: { orgId: string; userId: string; role: OrgRole },
  request?: AuditRequest,
): Promise<Result<OrgMember, OrgError>> {
  let previousRole: OrgRole | undefined;
  let revokedInvitations = 0;
  const changed = await deps.db.transaction(async (tx): Promise<Result<OrgMember, OrgError>> => {
    const me = await lockedMember(tx, caller, input.orgId, "admin");
    if (!me.ok) return me;
    if (me.value.personal) return fail("BAD_REQUEST", "A personal organisation has no other members");
    const target = await roleIn(tx, input.orgId, input.userId);
    if (!target) return fail("NOT_FOUND", "Member not found");
    previousRole = target;
    if (me.value.role !== "owner" && (target === "owner" || input.role === "owner")) {
      return fail("FORBIDDEN", "Only owners may grant or take away ownership");
    }
    if (target === "owner" && input.role !== "owner" && (await isLastOwner(tx, input.orgId, input.userId))) {
      return fail("CONFLICT", LAST_OWNER);
    }
    const [row] = await tx
      .update(orgMembers)
      .set({ role: input.role })
      .where(and(eq(orgMembers.orgId, input.orgId), eq(orgMembers.userId, input.userId)))
      .returning({ createdAt: orgMembers.createdAt });
    if (!isAdminRole(input.role))
      revokedInvitations = await revokeInvitationsBy(tx, input.orgId, input.userId);
    const [user] = await tx.select({ email: users.email }).from(users).where(eq(users.id, input.userId));
    return ok({
      userId: input.userId,
      email: user?.email ?? "",
      role: input.role,
      joinedAt: row?.createdAt ?? new Date(),
    });
  });
  if (changed.ok) {
    await orgAudit(deps, caller, input.orgId, "org.role_change", input.userId, request, {
      role: input.role,
      previousRole: previousRole ?? null,
      ...(revokedInvitations > 0 && { revokedInvitations }),
    });
  }
  return changed;
}

/**
 * Takes a member out of the organisation: their instances there are revoked (their URLs stop at once,
 * everywhere), their API keys bound to it revoked, their membership deleted. Admins may remove members and
 * admins (themselves included), only owners remove owners; the last owner cannot go (409). `how: "leave"` is
 * the caller leaving (`orgs.leave`, any member, from a session): `input.userId` must be the caller. A plain
 * member removing themselves through `remove` is refused (403) like any removal by a member: leaving is a
 * person's act, and a member's API key (even one holding `org:admin`) must not take its user out.
 */
export async function removeMember(
  deps: CoreDeps,
  caller: OrgCaller,
  input: { orgId: string; userId: string },
  request?: AuditRequest,
  how: "remove" | "leave" = "remove",
): Promise<Result<{ userId: string; revokedInstances: number }, OrgError>> {
  const leaving = how === "leave";
  if (leaving && input.userId !== caller.userId) throw new Error("leave: userId must be the caller's");
  const removed = await deps.db.transaction(
    async (
      tx,
    ): Promise<
      Result<{ tokenHashes: string[]; instanceIds: string[]; revokedInvitations: number }, OrgError>
    > => {
      const me = await lockedMember(tx, caller, input.orgId, leaving ? "member" : "admin");
      if (!me.ok) return me;
      if (me.value.personal) {
        return fail("BAD_REQUEST", "A personal organisation cannot be left; delete the account instead");
      }
      // The membership row locked first: a connect of theirs being written holds it key-share locked (see
      // `stillMember` in instances.ts), so the revocation below waits for it and revokes what it made, and a
      // later one finds the membership gone and writes nothing.
      const [held] = await tx
        .select({ role: orgMembers.role })
        .from(orgMembers)
        .where(and(eq(orgMembers.orgId, input.orgId), eq(orgMembers.userId, input.userId)))
        .for("update");
      const target = held?.role;
      if (!target) return fail("NOT_FOUND", "Member not found");
      if (target === "owner" && me.value.role !== "owner") {
        return fail("FORBIDDEN", "Only owners may remove an owner");
      }
      if (target === "owner" && (await isLastOwner(tx, input.orgId, input.userId))) {
        return fail("CONFLICT", LAST_OWNER);
      }
      const revoked = await tx
        .update(instances)
        .set({ status: "revoked", revokedAt: new Date() })
        .where(
          and(
            eq(instances.orgId, input.orgId),
            eq(instances.userId, input.userId),
            ne(instances.status, "revoked"),
          ),
        )
        .returning({ id: instances.id, tokenHash: instances.tokenHash });
      await tx
        .update(apiKeys)
        .set({ revokedAt: new Date() })
        .where(
          and(eq(apiKeys.orgId, input.orgId), eq(apiKeys.userId, input.userId), isNull(apiKeys.revokedAt)),
        );
      const revokedInvitations = await revokeInvitationsBy(tx, input.orgId, input.userId);
      await tx
        .delete(orgMembers)
        .where(and(eq(orgMembers.orgId, input.orgId), eq(orgMembers.userId, input.userId)));
      return ok({
        tokenHashes: revoked.map((r) => r.tokenHash),
        instanceIds: revoked.map((r) => r.id),
        revokedInvitations,
      });
    },
  );
  if (!removed.ok) return removed;
  for (const tokenHash of removed.value.tokenHashes) await retireInstanceToken(deps, tokenHash);
  const { revokedInvitations } = removed.value;
  await orgAudit(
    deps,
    caller,
    input.orgId,
    leaving ? "org.leave" : "org.member_remove",
    input.userId,
    request,
    revokedInvitations > 0 ? { revokedInvitations } : undefined,
  );
  return ok({ userId: input.userId, revokedInstances: removed.value.instanceIds.length });
}

/** Every member's instances in the organisation, for its owners and admins: status and use, never a secret. */
export async function listMemberInstances(
  deps: Pick<CoreDeps, "db">,
  caller: OrgCaller,
  input: { orgId: string } & PageInput,
): Promise<Result<MemberInstance[], "NOT_FOUND" | "FORBIDDEN">> {
  const me = await member(deps.db, caller, input.orgId, "admin");
  if (!me.ok) return me;
  const rows = await deps.db
    .select({ instance: instances, email: users.email })
    .from(instances)
    .innerJoin(users, eq(users.id, instances.userId))
    .where(and(eq(instances.orgId, input.orgId), pageAfter(instances.createdAt, instances.id, input.after)))
    .orderBy(...pageOrder(instances.createdAt, instances.id))
    .limit(input.limit ?? MAX_LIST_PAGE);
  return ok(
    rows.map(({ instance, email }) => ({ ...instanceSummary(instance), userId: instance.userId, email })),
  );
}

/** An owner or admin revokes a member's instance in the organisation: its URL stops at once, everywhere. */
export async function revokeMemberInstance(
  deps: CoreDeps,
  caller: OrgCaller,
  input: { orgId: string; instanceId: string },
  request?: AuditRequest,
): Promise<Result<{ instanceId: string }, "NOT_FOUND" | "FORBIDDEN">> {
  const revoked = await deps.db.transaction(async (tx) => {
    const me = await lockedMember(tx, caller, input.orgId, "admin");
    if (!me.ok) return me;
    const [row] = await tx
      .update(instances)
      .set({ status: "revoked", revokedAt: new Date() })
      .where(
        and(
          eq(instances.id, input.instanceId),
          eq(instances.orgId, input.orgId),
          ne(instances.status, "revoked"),
        ),
      )
      .returning({ id: instances.id, tokenHash: instances.tokenHash, serviceType: instances.serviceType });
    return row ? ok(row) : fail("NOT_FOUND", "No active instance with this id in the organisation");
  });
  if (!revoked.ok) return revoked;
  const row = revoked.value;
  await retireInstanceToken(deps, row.tokenHash);
  await recordAudit(deps, {
    ...request,
    userId: caller.userId,
    orgId: input.orgId,
    action: "instance.revoke",
    status: "ok",
    target: row.id,
    instanceId: row.id,
    serviceType: row.serviceType,
  });
  return ok({ instanceId: row.id });
}
