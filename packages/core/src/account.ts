import { hashToken } from "@mcp/crypto";
import { apiKeys, credentials, type Db, instances, orgInvitations, sessions, users } from "@mcp/db";
import { and, desc, eq, gt, isNull, sql } from "drizzle-orm";
import { forgetAuditPersonalData, recordAudit } from "./audit.ts";
import { hashPassword, type SessionMeta, type SessionStore, verifyPassword } from "./auth.ts";
import type { Actor, CoreDeps } from "./deps.ts";
import { fail, ok, type Result } from "./errors.ts";
import { bumpReadCacheGeneration } from "./read-cache.ts";
import { retireInstanceToken } from "./resolve.ts";
import { rows } from "./usage.ts";

export interface AccountDeps extends CoreDeps {
  sessions: SessionStore;
}

/** The request an account change comes from: its session (to tell "this browser"), ids for the audit trail. */
export interface AccountRequest extends SessionMeta {
  /** The caller's session secret (from the cookie), or null. */
  sessionToken: string | null;
  requestId?: string;
}

export interface SessionSummary {
  /** `ses_…`: random, never the cookie's secret or its hash. */
  id: string;
  createdAt: Date;
  expiresAt: Date;
  /** The session this request came with. */
  current: boolean;
  userAgent: string | null;
  ip: string | null;
}

const WRONG_PASSWORD = "Wrong password";
/** The newest sessions listed; a user with more (scripts signing in over and over) still revokes them all at once. */
export const MAX_LISTED_SESSIONS = 100;

/**
 * An account change as an audit event: who (a session: these are session-only), from where, which request.
 * `anonymous`: without address and user agent (the tombstone a deleted account leaves).
 */
const audit = (
  deps: AccountDeps,
  actor: Actor,
  action: string,
  status: string,
  req: AccountRequest,
  anonymous = false,
) =>
  recordAudit(deps, {
    userId: actor.userId,
    action,
    status,
    target: actor.userId,
    actorKind: "session",
    requestId: req.requestId,
    ...(!anonymous && { ip: req.ip ?? null, userAgent: req.userAgent ?? null }),
  });

/**
 * A new password, once the current one is confirmed. Every session of the user ends (this browser's too) and
 * the caller gets a fresh one: a cookie copied before the change is worth nothing after it. API keys and
 * instance URLs are not touched (they are credentials of their own, revoked on their own).
 */
export async function changePassword(
  deps: AccountDeps,
  actor: Actor,
  input: { currentPassword: string; newPassword: string },
  req: AccountRequest,
): Promise<Result<{ cookie: string }, "UNAUTHORIZED">> {
  const oldHash = await verifyPassword(deps, actor.userId, input.currentPassword);
  if (!oldHash) {
    await audit(deps, actor, "account.password_change", "UNAUTHORIZED", req);
    return fail("UNAUTHORIZED", WRONG_PASSWORD);
  }
  const passwordHash = await hashPassword(input.newPassword, deps.passwordHashing);
  const changed = await deps.db.transaction(async (tx) => {
    // Only over the hash just verified: a change made meanwhile (another tab) is not silently overwritten.
    const rows = await tx
      .update(users)
      .set({ passwordHash })
      .where(and(eq(users.id, actor.userId), eq(users.passwordHash, oldHash)))
      .returning({ id: users.id });
    if (!rows[0]) return false;
    await tx.delete(sessions).where(eq(sessions.userId, actor.userId));
    return true;
  });
  if (!changed) return fail("UNAUTHORIZED", WRONG_PASSWORD);
  const { cookie } = await deps.sessions.create(actor.userId, req);
  await audit(deps, actor, "account.password_change", "ok", req);
  return ok({ cookie });
}

/** The user's unexpired sessions, newest first (at most MAX_LISTED_SESSIONS). */
export async function listSessions(
  deps: Pick<CoreDeps, "db">,
  actor: Actor,
  req: Pick<AccountRequest, "sessionToken">,
): Promise<SessionSummary[]> {
  const current = req.sessionToken ? hashToken(req.sessionToken) : null;
  const rows = await deps.db
    .select()
    .from(sessions)
    .where(and(eq(sessions.userId, actor.userId), gt(sessions.expiresAt, new Date())))
    .orderBy(desc(sessions.createdAt), desc(sessions.publicId))
    .limit(MAX_LISTED_SESSIONS);
  return rows.map((row) => ({
    id: row.publicId,
    createdAt: row.createdAt,
    expiresAt: row.expiresAt,
    current: row.id === current,
    userAgent: row.userAgent,
    ip: row.ip,
  }));
}

/**
 * Ends one of the caller's own sessions by its public id (another user's id is NOT_FOUND, as an unknown one).
 * `cookie` clears this browser's cookie when the caller ended its own session.
 */
export async function revokeSession(
  deps: AccountDeps,
  actor: Actor,
  input: { id: string },
  req: AccountRequest,
): Promise<Result<{ id: string; cookie?: string }, "NOT_FOUND">> {
  const rows = await deps.db
    .delete(sessions)
    .where(and(eq(sessions.userId, actor.userId), eq(sessions.publicId, input.id)))
    .returning({ id: sessions.id });
  const row = rows[0];
  if (!row) return fail("NOT_FOUND", "No such session");
  await audit(deps, actor, "session.revoke", "ok", req);
  const current = req.sessionToken !== null && row.id === hashToken(req.sessionToken);
  return ok({ id: input.id, ...(current && { cookie: deps.sessions.blankCookie() }) });
}

/** Ends every session of the user, this one included; `cookie` clears this browser's. */
export async function signOutEverywhere(
  deps: AccountDeps,
  actor: Actor,
  req: AccountRequest,
): Promise<{ revoked: number; cookie: string }> {
  const rows = await deps.db
    .delete(sessions)
    .where(eq(sessions.userId, actor.userId))
    .returning({ id: sessions.id });
  await audit(deps, actor, "session.revoke_all", "ok", req);
  return { revoked: rows.length, cookie: deps.sessions.blankCookie() };
}

/**
 * Deletes the account, once its password is confirmed. In one transaction: unless that would leave an
 * organisation with members and no owner (CONFLICT, checked under a lock on the user's organisations), every
 * instance, every sealed credential, API key and session, the shared organisations the user was the only member
 * of, and the user row itself are deleted (not flagged), and the user's audit events lose what could identify a
 * person. After the commit every instance token is retired at every edge
 * (as `revokeInstance` does) and the user's cached upstream reads become unreachable. One `account.delete`
 * event (no email) remains. The email is free to sign up again, as a new user.
 */
export async function deleteAccount(
  deps: AccountDeps,
  actor: Actor,
  input: { password: string },
  req: AccountRequest,
): Promise<Result<{ instancesDeleted: number; cookie: string }, "UNAUTHORIZED" | "CONFLICT">> {
  const hash = await verifyPassword(deps, actor.userId, input.password);
  if (!hash) {
    await audit(deps, actor, "account.delete", "UNAUTHORIZED", req);
    return fail("UNAUTHORIZED", WRONG_PASSWORD);
  }
  const erased = await deps.db.transaction(async (tx) => {
    // The user row first: a connect racing this one waits on it (its inserts reference the row), then fails,
    // so no instance can appear after the list below was taken.
    const [user] = await tx
      .select({ id: users.id })
      .from(users)
      .where(and(eq(users.id, actor.userId), eq(users.passwordHash, hash)))
      .for("update");
    if (!user) return undefined;
    // The shared organisations the user is in, locked (`FOR UPDATE`: membership changes, which lock the row too,
    // and joins, which reference it, wait for this transaction), then checked: two owners deleting their
    // accounts at once, or one leaving meanwhile, cannot leave an organisation with members and no owner.
    await tx.execute(sql`
      select o.id from organizations o
      where o.personal_owner_id is null
        and exists (select 1 from org_members m where m.org_id = o.id and m.user_id = ${actor.userId})
      order by o.id
      for update`);
    const stranded = await strandedOrgs(tx, actor.userId);
    if (stranded.length > 0) return { stranded };
    const gone = await tx.delete(instances).where(eq(instances.userId, actor.userId)).returning({
      tokenHash: instances.tokenHash,
      serviceType: instances.serviceType,
      orgId: instances.orgId,
    });
    await tx.delete(credentials).where(eq(credentials.userId, actor.userId));
    await tx.delete(apiKeys).where(eq(apiKeys.userId, actor.userId));
    await tx.delete(sessions).where(eq(sessions.userId, actor.userId));
    await forgetAuditPersonalData(tx, actor.userId);
    // Their invitations nobody used yet die with their standing, as when they leave an organisation (the
    // foreign key only forgets who made them, which would leave them listed as pending, and counted).
    await tx
      .update(orgInvitations)
      .set({ revokedAt: new Date() })
      .where(
        and(
          eq(orgInvitations.invitedBy, actor.userId),
          isNull(orgInvitations.acceptedAt),
          isNull(orgInvitations.revokedAt),
        ),
      );
    // Shared organisations the user was alone in go with them (their personal one goes with the user row).
    await tx.execute(sql`
      delete from organizations o
      where o.personal_owner_id is null
        and exists (select 1 from org_members m where m.org_id = o.id and m.user_id = ${actor.userId})
        and not exists (select 1 from org_members m where m.org_id = o.id and m.user_id <> ${actor.userId})`);
    await tx.delete(users).where(eq(users.id, actor.userId));
    return { gone };
  });
  if (!erased) return fail("UNAUTHORIZED", WRONG_PASSWORD);
  if (erased.stranded) {
    return fail(
      "CONFLICT",
      `You are the last owner of ${erased.stranded.length} organisation(s) with other members; make someone else owner first`,
    );
  }
  const gone = erased.gone ?? [];
  for (const instance of gone) await retireInstanceToken(deps, instance.tokenHash);
  for (const { orgId, serviceType } of gone) {
    await bumpReadCacheGeneration(deps, { userId: actor.userId, orgId }, serviceType);
  }
  await audit(deps, actor, "account.delete", "ok", req, true);
  return ok({ instancesDeleted: gone.length, cookie: deps.sessions.blankCookie() });
}

/** Shared organisations where the user is the only owner and others are members: deleting them would strand those. */
async function strandedOrgs(db: Pick<Db, "execute">, userId: string): Promise<string[]> {
  const found = await rows<{ org_id: string }>(
    db,
    sql`
    select m.org_id from org_members m join organizations o on o.id = m.org_id
    where m.user_id = ${userId} and m.role = 'owner' and o.personal_owner_id is null
      and not exists (select 1 from org_members x where x.org_id = m.org_id and x.role = 'owner' and x.user_id <> ${userId})
      and exists (select 1 from org_members x where x.org_id = m.org_id and x.user_id <> ${userId})`,
  );
  return found.map((r) => r.org_id);
}
