import { type AuditActorKind, type AuditDetail, auditEvents, type Db } from "@mcp/db";
import { eq, sql } from "drizzle-orm";
import { isDatabaseUnavailable } from "./db-errors.ts";
import type { CoreDeps } from "./deps.ts";
import { newTimeOrderedId } from "./ids.ts";
import { type CallSample, RollupFold, upsertRollups } from "./usage.ts";

/** Where a control-plane change came from: passed by the procedure to the domain function that records it. */
export interface AuditRequest {
  requestId?: string;
  ip?: string | null;
  userAgent?: string | null;
  actorKind?: AuditActorKind;
  /** The API key's id (never the key itself) when the caller used one. */
  actorKeyId?: string;
}

/** One audit event. Never a secret: no API key, instance URL or token, credential, argument or result. */
export interface AuditEvent extends AuditRequest {
  userId: string;
  /** The organisation it happened in (its owners and admins see it); absent for account-wide events. */
  orgId?: string;
  /** e.g. `tool.call`, `auth.sign_in`, `instance.connect`, `api_key.create`. */
  action: string;
  /** `ok` or an error code. */
  status: string;
  /** What was acted on: an instance id, an API key id, a user id. */
  target?: string;
  instanceId?: string;
  serviceType?: string;
  tool?: string;
  /** Tool calls: the whole call at the edge, and the part of it spent on the upstream. */
  latencyMs?: number;
  upstreamMs?: number;
  /** What the event changed, where its action alone does not say (see AuditDetail in @mcp/db). */
  detail?: AuditDetail;
}

type Row = AuditEvent & { id: string; createdAt: Date };

/** Events waiting for one statement: each already as its JSON row, and its tool calls folded into roll-ups. */
interface Batch {
  rows: string[];
  rollups: RollupFold;
  /** Its first event's id: whether that one is stored says whether the whole batch is (see insertBatch). */
  firstId?: string;
  /** Tried once already: it takes no more events (its retry must be the very statement that may have committed). */
  sealed?: boolean;
}

/**
 * Batches audit events off the hot path: flushed every second or every 1,000 events, bounded in memory. Each
 * flush also adds its tool calls to the usage roll-ups, in the same statement. An event is serialised and
 * folded into its batch's roll-ups as it is recorded, so a flush only joins what is ready: under load a
 * flush that serialised and folded a thousand events at once held the event loop for milliseconds, and every
 * request in flight waited behind it (the tail of the edge's latency).
 *
 * While the database cannot be reached (an edge serves the instances it knows through an outage), a batch is
 * kept, first in line, and tried again at the next flush; a batch the database refuses for its content is
 * dropped. Either way at most MAX_BUFFER events wait; past that, new ones are dropped and counted.
 */
export class AuditLog {
  private batches: Batch[] = [];
  private buffered = 0;
  private timer?: ReturnType<typeof setInterval>;
  private flushing: Promise<void> = Promise.resolve();
  /** Events dropped since the buffer filled up (reported once there is room again). */
  private dropped = 0;
  /** A write queued behind the one running and not started yet: at most one of each kind waits. */
  private queued?: "all" | "fullOnly";
  static readonly MAX_BUFFER = 10_000;
  /**
   * Events per statement. Under load each flush costs a statement (parse, plan, the roll-up upsert) whatever its
   * size, so fewer, larger batches cost the edge less CPU per call; the timer still flushes every second.
   */
  static readonly BATCH = 1000;

  constructor(
    private readonly deps: Pick<CoreDeps, "db" | "log">,
    private readonly opts: { flushMs?: number; batch?: number } = {},
  ) {}

  start(): void {
    this.timer ??= setInterval(() => void this.flush(), this.opts.flushMs ?? 1000);
    this.timer.unref?.();
  }

  record(event: AuditEvent): void {
    if (this.buffered >= AuditLog.MAX_BUFFER) {
      // One line when it fills up and one when there is room again, not one per event of an outage.
      if (this.dropped++ === 0)
        this.deps.log.warn("audit buffer full; dropping events", { action: event.action });
      return;
    }
    if (this.dropped > 0) {
      this.deps.log.warn("audit events dropped while the buffer was full", { dropped: this.dropped });
      this.dropped = 0;
    }
    const size = this.opts.batch ?? AuditLog.BATCH;
    let batch = this.batches.at(-1);
    if (!batch || batch.sealed || batch.rows.length >= size) {
      batch = { rows: [], rollups: new RollupFold() };
      this.batches.push(batch);
    }
    const createdAt = new Date();
    let row: Row = { id: newTimeOrderedId("evt", createdAt.getTime()), ...event, createdAt };
    let json = JSON.stringify(toJsonRow(row));
    // JSON.stringify writes a NUL or a lone surrogate half as a `\u` escape, which PostgreSQL refuses in text
    // (and so the whole batch, everyone's events in it). Rare (a relayed call's tool name is the client's), so
    // looked for only when the row has an escape at all.
    if (json.includes("\\u")) {
      row = storable(row);
      json = JSON.stringify(toJsonRow(row));
    }
    batch.firstId ??= row.id;
    batch.rows.push(json);
    if (isToolCall(row)) batch.rollups.add(row);
    this.buffered++;
    if (batch.rows.length >= size) void this.write(true);
  }

  /** Events recorded and not yet written (or being written). */
  get pending(): number {
    return this.buffered;
  }

  /** Writes every event recorded so far. */
  flush(): Promise<void> {
    return this.write(false);
  }

  /**
   * Writes the batches waiting, in order; with `fullOnly` (a batch just filled up) only the full ones, so
   * under load every statement carries a whole batch: the one being filled waits for its turn or the timer.
   * (Writing it too made a statement of whatever had arrived during the previous write: many small ones,
   * each a statement's fixed cost in PostgreSQL.)
   */
  private write(fullOnly: boolean): Promise<void> {
    // A write already waiting to start covers this one: it writes what is there when it starts. (Chaining one
    // per call grew the chain by a write a second while a black-holed database held each for its timeout.)
    if (this.queued === "all" || (fullOnly && this.queued)) return this.flushing;
    this.queued = fullOnly ? "fullOnly" : "all";
    this.flushing = this.flushing.then(async () => {
      this.queued = undefined;
      const size = this.opts.batch ?? AuditLog.BATCH;
      for (;;) {
        const batch = this.batches[0];
        // A batch tried before goes first, full or not (the ones behind it wait for it).
        if (!batch || (fullOnly && !batch.sealed && batch.rows.length < size)) return;
        // A batch taken here gets no more events: the next one recorded starts a new batch. Its events still
        // count against the bound until the write is over.
        this.batches.shift();
        try {
          await insertBatch(this.deps.db, batch);
        } catch (error) {
          if (isDatabaseUnavailable(error)) {
            // Kept for the next flush (the timer's, every second). It may have committed before the connection
            // was lost: its retry skips events already written, and then their roll-ups (see insertBatch).
            batch.sealed = true;
            this.batches.unshift(batch);
            this.deps.log.warn("audit flush deferred: database unavailable", { pending: this.buffered });
            return;
          }
          this.deps.log.error("audit flush failed", { error, dropped: batch.rows.length });
        }
        this.buffered -= batch.rows.length;
      }
    });
    return this.flushing;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
    // Kept through an outage, but this process ends now.
    if (this.buffered > 0 || this.dropped > 0) {
      this.deps.log.error("audit events not written at shutdown", {
        lost: this.buffered,
        dropped: this.dropped,
      });
    }
  }
}

/** U+FFFD for what PostgreSQL cannot hold in text: NUL, and half of a surrogate pair. */
const storableText = (s: string) => s.replaceAll("\u0000", "\uFFFD").replace(LONE_SURROGATE, "\uFFFD");
// Without the `u` flag a regular expression sees UTF-16 code units, so a lone half of a pair can be matched.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

function storableValue(v: unknown): unknown {
  if (typeof v === "string") return storableText(v);
  if (Array.isArray(v)) return v.map(storableValue);
  if (typeof v === "object" && v !== null)
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [storableText(k), storableValue(x)]));
  return v;
}

/** The event with every text (the detail's too) storable; dates, numbers and ids untouched. */
const storable = (r: Row): Row => {
  const out = { ...r };
  for (const [key, value] of Object.entries(r)) {
    if (typeof value === "string") (out as Record<string, unknown>)[key] = storableText(value);
  }
  if (r.detail !== undefined) out.detail = storableValue(r.detail) as AuditDetail;
  return out;
};

const isToolCall = (r: Row): r is Row & CallSample =>
  r.action === "tool.call" && r.instanceId !== undefined && r.tool !== undefined && r.latencyMs !== undefined;

/**
 * One statement for a whole batch, its rows sent as one JSON parameter (`json_to_recordset`): building a
 * 200-row, 1,800-parameter statement through the query builder cost the edge several per cent of its CPU
 * under load, and so did serialising one array parameter per column element by element; JSON.stringify is
 * native (and runs per event, as it is recorded). The tool calls' roll-ups (folded as they were recorded, so
 * the database adds a few rows, not one per call) go in the same statement: events and counters commit
 * together or not at all. So a batch tried again after a lost connection (it may have committed before the
 * answer was lost) finds either none of its events stored, and writes everything, or all of them, and writes
 * nothing: its first event's id decides, and no roll-up is added without a new event. Its counters are never
 * added twice. A first attempt skips that check (`on conflict do nothing` on every insert cost PostgreSQL a
 * tenth more per event, measured).
 */
function insertBatch(db: Db, batch: Batch) {
  const rows = `[${batch.rows.join(",")}]`;
  const insert = sql`
    insert into audit_events (id, user_id, org_id, action, status, actor_kind, actor_key_id, target, instance_id,
      service_type, tool, latency_ms, upstream_ms, request_id, ip, user_agent, detail, created_at)
    select id, user_id, org_id, action, status, actor_kind, actor_key_id, target, instance_id, service_type, tool,
      latency_ms, upstream_ms, request_id, ip, user_agent, detail, created_at
    from json_to_recordset(${rows}::json) as t(
      id text, user_id text, org_id text, action text, status text, actor_kind text, actor_key_id text, target text,
      instance_id text, service_type text, tool text, latency_ms integer, upstream_ms integer, request_id text,
      ip text, user_agent text, detail jsonb, created_at timestamptz
    )
    ${batch.sealed ? sql`where not exists (select from audit_events where id = ${batch.firstId ?? ""})` : sql``}`;
  if (batch.rollups.size === 0) return db.execute(insert);
  const rollups = JSON.stringify(batch.rollups.rows());
  if (!batch.sealed) return db.execute(sql`with events as (${insert}) ${upsertRollups(rollups)}`);
  return db.execute(
    sql`with events as (${insert} returning 1) ${upsertRollups(rollups, sql`exists (select from events)`)}`,
  );
}

/**
 * One event as `json_to_recordset` reads it. An absent field is left out (JSON.stringify drops undefined; the
 * function reads a missing key as null), so a tool call's row, without key id, target, address or user
 * agent, is that much less to write and to parse.
 */
const toJsonRow = (r: Row) => ({
  id: r.id,
  user_id: r.userId,
  org_id: r.orgId,
  action: r.action,
  status: r.status,
  actor_kind: r.actorKind,
  actor_key_id: r.actorKeyId,
  target: r.target,
  instance_id: r.instanceId,
  service_type: r.serviceType,
  tool: r.tool,
  latency_ms: r.latencyMs,
  upstream_ms: r.upstreamMs,
  request_id: r.requestId,
  ip: r.ip ?? undefined,
  user_agent: r.userAgent ?? undefined,
  detail: r.detail,
  created_at: r.createdAt.toISOString(),
});

/** Writes one control-plane audit event at once (these are rare; tool calls go through AuditLog). */
export async function recordAudit(deps: Pick<CoreDeps, "db" | "log">, event: AuditEvent): Promise<void> {
  try {
    await deps.db.insert(auditEvents).values({
      id: newTimeOrderedId("evt"),
      ...event,
      ip: event.ip ?? null,
      userAgent: event.userAgent ?? null,
      detail: event.detail ?? null,
    });
  } catch (error) {
    deps.log.error("audit write failed", { action: event.action, error });
  }
}

/**
 * Clears what identifies a person in a user's audit trail (addresses and user agents), keeping the events
 * themselves under the opaque user id: for account deletion, inside its transaction.
 */
export async function forgetAuditPersonalData(db: Pick<Db, "update">, userId: string): Promise<void> {
  await db.update(auditEvents).set({ ip: null, userAgent: null }).where(eq(auditEvents.userId, userId));
}
