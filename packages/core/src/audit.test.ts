// The audit writer on a real database (PGlite, or DATABASE_URL): batches of the configured size, each one
// statement with its roll-ups; a batch the database refuses is dropped and logged without losing the next;
// the buffer's bound.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { generateKeySpec } from "@mcp/crypto";
import { auditEvents, usageRollups } from "@mcp/db";
import { eq } from "drizzle-orm";
import { waitFor } from "../../../test/wait.ts";
import { type AuditEvent, AuditLog } from "./audit.ts";
import type { Platform } from "./bootstrap.ts";
import { createLogger } from "./logger.ts";
import { testPlatform } from "./test-platform.ts";

let platform: Platform;

beforeAll(async () => {
  platform = await testPlatform({ encryptionKeys: generateKeySpec(1), kvPrefix: "test:audit:" });
});
afterAll(() => platform.close());

/** The platform's logger, its lines kept (parsed) instead of written to stderr. */
function capture() {
  const lines: { level: string; msg: string; dropped?: number }[] = [];
  return { log: createLogger({ write: (line) => void lines.push(JSON.parse(line)) }), lines };
}

const call = (userId: string, i: number, extra: Partial<AuditEvent> = {}): AuditEvent => ({
  userId,
  orgId: `org_${userId}`,
  instanceId: `ins_${userId}`,
  action: "tool.call",
  actorKind: "instance",
  serviceType: "figma",
  tool: i % 2 === 0 ? "get_me" : "get_file",
  status: i % 3 === 0 ? "UPSTREAM_ERROR" : "ok",
  latencyMs: 10 + i,
  upstreamMs: 5 + i,
  requestId: `req-${i}`,
  ...extra,
});

const eventsOf = (userId: string) =>
  platform.deps.db.select().from(auditEvents).where(eq(auditEvents.userId, userId));
const rollupsOf = (userId: string) =>
  platform.deps.db.select().from(usageRollups).where(eq(usageRollups.userId, userId));

describe("AuditLog", () => {
  test("batches of the configured size: every event written as recorded, its calls in the roll-ups", async () => {
    const userId = `usr_audit_${crypto.randomUUID()}`;
    const { log, lines } = capture();
    const audit = new AuditLog({ db: platform.deps.db, log }, { batch: 3 });
    for (let i = 0; i < 7; i++) audit.record(call(userId, i));
    audit.record({
      userId,
      orgId: `org_${userId}`,
      action: "instance.settings",
      status: "ok",
      target: `ins_${userId}`,
      detail: { changed: ["readOnly"], readOnly: true },
    });
    await audit.flush();
    const events = await eventsOf(userId);
    expect(events).toHaveLength(8);
    // Events within one millisecond have no order among them: found by request id.
    const byRequest = new Map(events.map((e) => [e.requestId, e]));
    for (let i = 0; i < 7; i++) expect(byRequest.get(`req-${i}`)?.latencyMs).toBe(10 + i);
    expect(byRequest.get("req-1")).toMatchObject({
      action: "tool.call",
      actorKind: "instance",
      tool: "get_file",
      status: "ok",
      latencyMs: 11,
      upstreamMs: 6,
      ip: null,
      detail: null,
    });
    expect(byRequest.get(null)).toMatchObject({
      action: "instance.settings",
      detail: { changed: ["readOnly"], readOnly: true },
    });
    // Only the tool calls count, in an hour and a day row per tool; 0, 3 and 6 failed.
    const rollups = await rollupsOf(userId);
    const sum = (period: string, field: "calls" | "upstreamCalls") =>
      rollups.filter((r) => r.period === period).reduce((n, r) => n + r[field], 0);
    expect(sum("hour", "calls")).toBe(7);
    expect(sum("day", "calls")).toBe(7);
    expect(sum("day", "upstreamCalls")).toBe(7);
    const errors = rollups
      .filter((r) => r.period === "day")
      .map((r) => (r.errors as Record<string, number>).UPSTREAM_ERROR ?? 0);
    expect(errors.reduce((a, b) => a + b, 0)).toBe(3);
    expect(lines).toEqual([]);
  });

  test("any text survives the batch as sent: tabs, line ends, backslashes, a literal \\N, unicode", async () => {
    const userId = `usr_audit_${crypto.randomUUID()}`;
    const { log, lines } = capture();
    const audit = new AuditLog({ db: platform.deps.db, log }, { batch: 10 });
    const awkward = "a\tb\nc\r\nd \\ e \\N \\t \\\\ \"q\" 'q' , ; é 雪 🙂 \u2028";
    audit.record({
      userId,
      action: "auth.sign_in",
      status: "ok",
      ip: "\\N",
      userAgent: awkward,
      target: "",
      detail: { changed: [awkward], note: "\\N\t\n" },
    });
    audit.record(call(userId, 1, { requestId: awkward }));
    await audit.flush();
    const events = await eventsOf(userId);
    expect(events).toHaveLength(2);
    const signIn = events.find((e) => e.action === "auth.sign_in");
    expect(signIn).toMatchObject({ ip: "\\N", userAgent: awkward, target: "", orgId: null, latencyMs: null });
    expect(signIn?.detail).toEqual({ changed: [awkward], note: "\\N\t\n" });
    expect(events.find((e) => e.action === "tool.call")?.requestId).toBe(awkward);
    expect(lines).toEqual([]);
  });

  test("a batch that fills up is written on its own; the one being filled waits for the next flush", async () => {
    const userId = `usr_audit_${crypto.randomUUID()}`;
    const { log } = capture();
    const audit = new AuditLog({ db: platform.deps.db, log }, { batch: 3 });
    for (let i = 0; i < 4; i++) audit.record(call(userId, i));
    expect(await waitFor(() => audit.pending === 1)).toBe(true);
    expect((await eventsOf(userId)).map((e) => e.requestId).sort()).toEqual(["req-0", "req-1", "req-2"]);
    await audit.flush();
    expect(audit.pending).toBe(0);
    expect(await eventsOf(userId)).toHaveLength(4);
  });

  test("a batch the database refuses is dropped and logged; the batches after it are written", async () => {
    const userId = `usr_audit_${crypto.randomUUID()}`;
    const { log, lines } = capture();
    const audit = new AuditLog({ db: platform.deps.db, log }, { batch: 2 });
    audit.record(call(userId, 0));
    // Not an integer: PostgreSQL refuses the whole statement (events and roll-ups alike).
    audit.record(call(userId, 1, { latencyMs: 1.5 }));
    audit.record(call(userId, 2));
    audit.record(call(userId, 3));
    await audit.flush();
    expect((await eventsOf(userId)).map((e) => e.requestId).sort()).toEqual(["req-2", "req-3"]);
    expect((await rollupsOf(userId)).filter((r) => r.period === "day").reduce((n, r) => n + r.calls, 0)).toBe(
      2,
    );
    expect(lines.map((l) => [l.level, l.msg, l.dropped])).toEqual([["error", "audit flush failed", 2]]);
  });

  test("at most MAX_BUFFER events wait: the next is dropped with a warning, the rest are written", async () => {
    const userId = `usr_audit_${crypto.randomUUID()}`;
    const { log, lines } = capture();
    // Batches larger than the bound: nothing flushes on its own.
    const audit = new AuditLog({ db: platform.deps.db, log }, { batch: AuditLog.MAX_BUFFER * 2 });
    for (let i = 0; i <= AuditLog.MAX_BUFFER; i++) audit.record(call(userId, i));
    expect(lines.map((l) => [l.level, l.msg])).toEqual([["warn", "audit buffer full; dropping event"]]);
    await audit.flush();
    const written = await platform.deps.db
      .select({ requestId: auditEvents.requestId })
      .from(auditEvents)
      .where(eq(auditEvents.userId, userId));
    expect(written).toHaveLength(AuditLog.MAX_BUFFER);
    expect(written.some((w) => w.requestId === `req-${AuditLog.MAX_BUFFER}`)).toBe(false);
    // Room again once flushed.
    audit.record(call(userId, -1));
    await audit.flush();
    expect(lines).toHaveLength(1);
  });
});
