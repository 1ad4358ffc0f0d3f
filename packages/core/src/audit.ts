import { auditEvents, type Db } from "@mcp/db";
import { sql } from "drizzle-orm";
import type { CoreDeps } from "./deps.ts";
import { newId } from "./ids.ts";

export interface AuditEvent {
  userId: string;
  instanceId?: string;
  action: string;
  tool?: string;
  status: string;
  latencyMs?: number;
  requestId?: string;
}

/** Batches audit events off the hot path: flushed every second or every 200 events, bounded in memory. */
export class AuditLog {
  private buffer: (typeof auditEvents.$inferInsert)[] = [];
  private timer?: ReturnType<typeof setInterval>;
  private flushing: Promise<void> = Promise.resolve();
  static readonly MAX_BUFFER = 10_000;

  constructor(
    private readonly deps: Pick<CoreDeps, "db" | "log">,
    private readonly opts: { flushMs?: number; batch?: number } = {},
  ) {}

  start(): void {
    this.timer ??= setInterval(() => void this.flush(), this.opts.flushMs ?? 1000);
    this.timer.unref?.();
  }

  record(event: AuditEvent): void {
    if (this.buffer.length >= AuditLog.MAX_BUFFER) {
      this.deps.log.warn("audit buffer full; dropping event", { action: event.action });
      return;
    }
    this.buffer.push({ id: newId("evt"), ...event, createdAt: new Date() });
    if (this.buffer.length >= (this.opts.batch ?? 200)) void this.flush();
  }

  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      while (this.buffer.length > 0) {
        const batch = this.buffer.splice(0, this.opts.batch ?? 200);
        try {
          await insertBatch(this.deps.db, batch);
        } catch (error) {
          this.deps.log.error("audit flush failed", { error, dropped: batch.length });
        }
      }
    });
    return this.flushing;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}

type Row = typeof auditEvents.$inferInsert;

/**
 * One INSERT for a whole batch, its rows sent as one JSON parameter (`json_to_recordset`): building a 200-row,
 * 1,800-parameter statement through the query builder cost the edge several per cent of its CPU under load,
 * and so did serialising one array parameter per column element by element; JSON.stringify is native.
 */
function insertBatch(db: Db, batch: Row[]) {
  const rows = JSON.stringify(
    batch.map((r) => ({
      id: r.id,
      user_id: r.userId,
      instance_id: r.instanceId ?? null,
      action: r.action,
      tool: r.tool ?? null,
      status: r.status,
      latency_ms: r.latencyMs ?? null,
      request_id: r.requestId ?? null,
      created_at: (r.createdAt ?? new Date()).toISOString(),
    })),
  );
  return db.execute(sql`
    insert into audit_events (id, user_id, instance_id, action, tool, status, latency_ms, request_id, created_at)
    select id, user_id, instance_id, action, tool, status, latency_ms, request_id, created_at
    from json_to_recordset(${rows}::json) as t(
      id text, user_id text, instance_id text, action text, tool text, status text, latency_ms integer,
      request_id text, created_at timestamptz
    )`);
}

/** Writes one control-plane audit event at once (these are rare; tool calls go through AuditLog). */
export async function recordAudit(deps: Pick<CoreDeps, "db" | "log">, event: AuditEvent): Promise<void> {
  try {
    await deps.db.insert(auditEvents).values({ id: newId("evt"), ...event });
  } catch (error) {
    deps.log.error("audit write failed", { action: event.action, error });
  }
}
