import { aadFor, isEnvelope, type Keys, open, seal } from "@mcp/crypto";
import { type AuditActorKind, type AuditDetail, auditEvents } from "@mcp/db";
import { and, desc, eq, gte, isNull, lt, or, type SQL, sql } from "drizzle-orm";
import type { Actor, CoreDeps } from "./deps.ts";
import { fail, ok, type Result } from "./errors.ts";

export interface AuditFilters {
  action?: string;
  status?: string;
  instanceId?: string;
  /** Events at or after this instant. */
  from?: Date;
  /** Events before this instant. */
  to?: Date;
}

export interface AuditItem {
  id: string;
  action: string;
  status: string;
  createdAt: Date;
  /** The user who acted (in an organisation's trail, which member); how they were authenticated. */
  actor: { userId: string; kind: AuditActorKind | null; keyId: string | null };
  target: string | null;
  instanceId: string | null;
  serviceType: string | null;
  tool: string | null;
  latencyMs: number | null;
  upstreamMs: number | null;
  requestId: string | null;
  ip: string | null;
  userAgent: string | null;
  /** What the event changed, where its action alone does not say (e.g. the new values of changed settings). */
  detail: AuditDetail | null;
}

export interface AuditPage {
  items: AuditItem[];
  /** Pass back as `cursor` for the next (older) page; null on the last one. */
  nextCursor: string | null;
}

export const AUDIT_PAGE_DEFAULT = 50;
export const AUDIT_PAGE_MAX = 100;

// The cursor holds the last item's exact timestamp (microseconds, as PostgreSQL keeps it) and id, sealed
// (AES-256-GCM envelope under the platform's keyring) and bound by its AAD to its purpose, the caller (user and
// organisation), the scope and the filters it was handed out with: it can be neither read nor edited nor forged,
// and another user's cursor, or one used with other filters, does not open. `<key version>.<envelope>`.
const STAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const ID = /^[A-Za-z0-9_-]{1,64}$/;
const CURSOR = /^(\d{1,6})\.([A-Za-z0-9_.-]+)$/;
/** Bound on a cursor's length: a sealed one is about 210 characters (260 with a 64-character id). */
export const AUDIT_CURSOR_MAX = 512;

const stampOf = sql<string>`to_char(${auditEvents.createdAt} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** What a cursor is bound to: whose list it pages (caller, organisation, scope) and with which filters. */
function cursorAad(actor: Actor, scope: AuditScope, f: AuditFilters): Buffer {
  const instant = (d: Date | undefined) => (d === undefined ? null : String(d.getTime()));
  const filters = [f.action ?? null, f.status ?? null, f.instanceId ?? null, instant(f.from), instant(f.to)];
  return aadFor("audit-cursor", actor.userId, actor.orgId, scope, JSON.stringify(filters));
}

function encodeCursor(keys: Keys, aad: Buffer, stamp: string, id: string): string {
  const sealed = seal(keys, JSON.stringify([stamp, id]), aad);
  return `${sealed.keyVersion}.${sealed.ciphertext}`;
}

/**
 * The position a cursor names, or null when it is not one this list handed out to this caller with these
 * filters (malformed, edited, truncated, forged, another user's or another filter set's, or sealed under a key
 * version no longer in the keyring).
 */
function decodeCursor(keys: Keys, aad: Buffer, cursor: string): { stamp: string; id: string } | null {
  const m = cursor.length > AUDIT_CURSOR_MAX ? null : CURSOR.exec(cursor);
  if (!m?.[1] || !m[2] || !isEnvelope(m[2])) return null;
  const text = open(keys, { keyVersion: Number(m[1]), ciphertext: m[2] }, aad);
  if (text === null) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  if (!Array.isArray(parsed) || parsed.length !== 2) return null;
  const [stamp, id] = parsed as unknown[];
  if (typeof stamp !== "string" || typeof id !== "string" || !STAMP.test(stamp) || !ID.test(id)) return null;
  // A real instant (no 31 February): its millisecond part reads back unchanged through Date.
  const ms = `${stamp.slice(0, 23)}Z`;
  const date = new Date(ms);
  if (Number.isNaN(date.getTime()) || date.toISOString() !== ms) return null;
  return { stamp, id };
}

/**
 * Whose events a caller sees: their own in the organisation they act in plus their account-wide ones
 * (`mine`), or every member's in that organisation (`org`: the caller checked the actor is one of its owners
 * or admins).
 */
function scopeOf(actor: Actor, scope: AuditScope): SQL | undefined {
  if (scope === "org") return eq(auditEvents.orgId, actor.orgId);
  return and(
    eq(auditEvents.userId, actor.userId),
    or(eq(auditEvents.orgId, actor.orgId), isNull(auditEvents.orgId)),
  );
}

export const AUDIT_SCOPES = ["mine", "org"] as const;
export type AuditScope = (typeof AUDIT_SCOPES)[number];

/**
 * The caller's audit events, newest first, a page at a time (keyset pagination on (created_at, id)).
 * A cursor that is not one this function handed out, to this caller with these filters, is a BAD_REQUEST.
 */
export async function listAuditEvents(
  deps: Pick<CoreDeps, "db" | "keyring">,
  actor: Actor,
  input: { cursor?: string; limit?: number; filters?: AuditFilters; scope?: AuditScope } = {},
): Promise<Result<AuditPage, "BAD_REQUEST">> {
  const limit = Math.min(Math.max(1, input.limit ?? AUDIT_PAGE_DEFAULT), AUDIT_PAGE_MAX);
  const f = input.filters ?? {};
  const scope = input.scope ?? "mine";
  const aad = cursorAad(actor, scope, f);
  const after = input.cursor === undefined ? undefined : decodeCursor(deps.keyring, aad, input.cursor);
  if (after === null) return fail("BAD_REQUEST", "cursor is not valid");
  if (f.from && f.to && f.to < f.from)
    return fail("BAD_REQUEST", "filters.to must not be before filters.from");
  const rows = await deps.db
    .select({
      id: auditEvents.id,
      userId: auditEvents.userId,
      action: auditEvents.action,
      status: auditEvents.status,
      createdAt: auditEvents.createdAt,
      stamp: stampOf,
      actorKind: auditEvents.actorKind,
      actorKeyId: auditEvents.actorKeyId,
      target: auditEvents.target,
      instanceId: auditEvents.instanceId,
      serviceType: auditEvents.serviceType,
      tool: auditEvents.tool,
      latencyMs: auditEvents.latencyMs,
      upstreamMs: auditEvents.upstreamMs,
      requestId: auditEvents.requestId,
      ip: auditEvents.ip,
      userAgent: auditEvents.userAgent,
      detail: auditEvents.detail,
    })
    .from(auditEvents)
    .where(
      and(
        scopeOf(actor, scope),
        f.action === undefined ? undefined : eq(auditEvents.action, f.action),
        f.status === undefined ? undefined : eq(auditEvents.status, f.status),
        f.instanceId === undefined ? undefined : eq(auditEvents.instanceId, f.instanceId),
        f.from === undefined ? undefined : gte(auditEvents.createdAt, f.from),
        f.to === undefined ? undefined : lt(auditEvents.createdAt, f.to),
        after &&
          sql`(${auditEvents.createdAt}, ${auditEvents.id}) < (${after.stamp}::timestamptz, ${after.id})`,
      ),
    )
    .orderBy(desc(auditEvents.createdAt), desc(auditEvents.id))
    .limit(limit + 1);
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return ok({
    items: page.map((r) => ({
      id: r.id,
      action: r.action,
      status: r.status,
      createdAt: r.createdAt,
      actor: { userId: r.userId, kind: r.actorKind, keyId: r.actorKeyId },
      target: r.target,
      instanceId: r.instanceId,
      serviceType: r.serviceType,
      tool: r.tool,
      latencyMs: r.latencyMs,
      upstreamMs: r.upstreamMs,
      requestId: r.requestId,
      ip: r.ip,
      userAgent: r.userAgent,
      detail: r.detail ?? null,
    })),
    nextCursor: rows.length > limit && last ? encodeCursor(deps.keyring, aad, last.stamp, last.id) : null,
  });
}
