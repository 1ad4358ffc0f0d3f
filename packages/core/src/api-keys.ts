import { hashToken, mintApiKey } from "@mcp/crypto";
import { API_KEY_SCOPES, type ApiKeyScope, apiKeys, type OrgRole, orgMembers, perDatabase } from "@mcp/db";
import { and, count, desc, eq, gt, isNull, lt, or, sql } from "drizzle-orm";
import { type AuditRequest, recordAudit } from "./audit.ts";
import type { Actor, CoreDeps } from "./deps.ts";
import { fail, ok, type Result } from "./errors.ts";
import { newId } from "./ids.ts";
import { lockUser } from "./quota.ts";

/** What an integrator API key may be allowed to do (CONTRACT.md); a key created without `scopes` gets them all. */
export { API_KEY_SCOPES, type ApiKeyScope };

export interface ApiKeySummary {
  id: string;
  name: string;
  prefix: string;
  scopes: ApiKeyScope[];
  /** Null: the key never expires. */
  expiresAt: Date | null;
  createdAt: Date;
  lastUsedAt: Date | null;
}

/** The caller behind a live API key: its user, what it may do, and which key it is. */
export interface ApiKeyActor extends Actor {
  scopes: ApiKeyScope[];
  keyId: string;
  /** The key's user's role in the key's organisation, as it is now. */
  orgRole: OrgRole;
}

export const MAX_KEYS_PER_USER = 50;
const LAST_USED_RESOLUTION_MS = 60_000;

const isScope = (value: string): value is ApiKeyScope =>
  (API_KEY_SCOPES as readonly string[]).includes(value);
/** In the canonical order, each once, unknown names dropped: what is stored is always a clean set. */
const normalizeScopes = (scopes: readonly string[]): ApiKeyScope[] =>
  API_KEY_SCOPES.filter((s) => scopes.includes(s));

const SUMMARY = {
  id: apiKeys.id,
  name: apiKeys.name,
  prefix: apiKeys.prefix,
  scopes: apiKeys.scopes,
  expiresAt: apiKeys.expiresAt,
  createdAt: apiKeys.createdAt,
  lastUsedAt: apiKeys.lastUsedAt,
};

/**
 * Mints a key (shown once; only its SHA-256 is kept). `scopes` omitted → every scope; `expiresAt` omitted or
 * null → never expires. Callers validate the input (non-empty scopes, a future expiry).
 */
export async function createApiKey(
  deps: Pick<CoreDeps, "db" | "log">,
  actor: Actor,
  input: { name: string; scopes?: readonly ApiKeyScope[]; expiresAt?: Date | null },
  /** Where the change came from, for the audit trail. */
  request?: AuditRequest,
): Promise<Result<ApiKeySummary & { key: string }, "BAD_REQUEST" | "CONFLICT" | "NOT_FOUND">> {
  const scopes = normalizeScopes(input.scopes ?? API_KEY_SCOPES);
  if (scopes.length === 0) return fail("BAD_REQUEST", "An API key needs at least one scope");
  const key = mintApiKey();
  // The bound is the user's, in every organisation together; counted and written under a lock on the user's
  // row, so concurrent creations cannot each see room for one more.
  const row = await deps.db.transaction(async (tx) => {
    await lockUser(tx, actor.userId);
    // Still a member of the organisation the key is bound to (the request was authorised before this): a key
    // made for one the user was just removed from would never work, yet count against the bound, and could
    // not be revoked from there. Key-share locked until the insert commits, so a removal (which locks the
    // membership first) waits for it and then revokes the key.
    const [membership] = await tx
      .select({ role: orgMembers.role })
      .from(orgMembers)
      .where(and(eq(orgMembers.orgId, actor.orgId), eq(orgMembers.userId, actor.userId)))
      .for("key share");
    if (!membership) return { gone: true as const };
    const [held] = await tx
      .select({ n: count(), here: count(sql`case when ${apiKeys.orgId} = ${actor.orgId} then 1 end`) })
      .from(apiKeys)
      .where(and(eq(apiKeys.userId, actor.userId), isNull(apiKeys.revokedAt)));
    const total = held?.n ?? 0;
    if (total >= MAX_KEYS_PER_USER) return { full: true as const, here: held?.here ?? 0, total };
    const [inserted] = await tx
      .insert(apiKeys)
      .values({
        id: newId("key"),
        userId: actor.userId,
        orgId: actor.orgId,
        name: input.name,
        prefix: key.slice(0, 12),
        keyHash: hashToken(key),
        scopes,
        expiresAt: input.expiresAt ?? null,
      })
      .returning(SUMMARY);
    if (!inserted) throw new Error("insert returned no row");
    return inserted;
  });
  if ("gone" in row) return fail("NOT_FOUND", "Organisation not found");
  if ("full" in row) {
    // Keys are listed per organisation: say how many are here, so the others can be found.
    const elsewhere = row.total - row.here;
    return fail(
      "CONFLICT",
      `At most ${MAX_KEYS_PER_USER} API keys per user, in all organisations together (${row.here} in this one, ${elsewhere} in others); revoke one first`,
    );
  }
  await recordAudit(deps, {
    ...request,
    userId: actor.userId,
    orgId: actor.orgId,
    action: "api_key.create",
    status: "ok",
    target: row.id,
    // What the key may do, and until when (never the key, its hash or prefix, nor its name: free text).
    detail: { scopes, expiresAt: row.expiresAt?.toISOString() ?? null },
  });
  return ok({ ...row, key });
}

/** The caller's keys that are not revoked, newest first; expired ones stay listed until revoked. */
export async function listApiKeys(deps: Pick<CoreDeps, "db">, actor: Actor): Promise<ApiKeySummary[]> {
  const rows = await deps.db
    .select(SUMMARY)
    .from(apiKeys)
    .where(and(eq(apiKeys.userId, actor.userId), eq(apiKeys.orgId, actor.orgId), isNull(apiKeys.revokedAt)))
    .orderBy(desc(apiKeys.createdAt), desc(apiKeys.id));
  return rows.map((row) => ({ ...row, scopes: normalizeScopes(row.scopes) }));
}

export async function revokeApiKey(
  deps: Pick<CoreDeps, "db" | "log">,
  actor: Actor,
  input: { id: string },
  request?: AuditRequest,
): Promise<Result<{ id: string }, "NOT_FOUND">> {
  const rows = await deps.db
    .update(apiKeys)
    .set({ revokedAt: new Date() })
    .where(
      and(
        eq(apiKeys.id, input.id),
        eq(apiKeys.userId, actor.userId),
        eq(apiKeys.orgId, actor.orgId),
        isNull(apiKeys.revokedAt),
      ),
    )
    .returning({ id: apiKeys.id });
  if (!rows[0]) return fail("NOT_FOUND", "API key not found");
  await recordAudit(deps, {
    ...request,
    userId: actor.userId,
    orgId: actor.orgId,
    action: "api_key.revoke",
    status: "ok",
    target: rows[0].id,
  });
  return ok(rows[0]);
}

/** The live key behind a hash, with its user's role in its organisation (every API-key request makes it). */
const keyQuery = perDatabase((db) =>
  db
    .select({
      id: apiKeys.id,
      userId: apiKeys.userId,
      orgId: apiKeys.orgId,
      scopes: apiKeys.scopes,
      orgRole: orgMembers.role,
    })
    .from(apiKeys)
    // A key outlives nothing: its user must still be a member of its organisation.
    .innerJoin(orgMembers, and(eq(orgMembers.orgId, apiKeys.orgId), eq(orgMembers.userId, apiKeys.userId)))
    .where(
      and(
        eq(apiKeys.keyHash, sql.placeholder("keyHash")),
        isNull(apiKeys.revokedAt),
        or(isNull(apiKeys.expiresAt), gt(apiKeys.expiresAt, sql`now()`)),
      ),
    )
    .limit(1)
    .prepare("verify_api_key"),
);

/**
 * The caller behind an API key, or null when the key is unknown, revoked or expired (the caller learns
 * nothing about which). `lastUsedAt` is written at most once a minute per key, off the request's path.
 */
export async function verifyApiKey(deps: Pick<CoreDeps, "db">, key: string): Promise<ApiKeyActor | null> {
  const [row] = await keyQuery(deps.db).execute({ keyHash: hashToken(key) });
  if (!row) return null;
  const stale = new Date(Date.now() - LAST_USED_RESOLUTION_MS);
  void deps.db
    .update(apiKeys)
    .set({ lastUsedAt: new Date() })
    .where(and(eq(apiKeys.id, row.id), or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, stale))))
    .catch(() => {});
  // A name this build does not know (written by a newer one) grants nothing here.
  return {
    userId: row.userId,
    orgId: row.orgId,
    orgRole: row.orgRole,
    scopes: row.scopes.filter(isScope),
    keyId: row.id,
  };
}
