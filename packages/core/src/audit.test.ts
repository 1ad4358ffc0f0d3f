// The audit writer on a real database (PGlite, or DATABASE_URL): batches of the configured size, each one
// statement with its roll-ups; a batch the database refuses is dropped and logged without losing the next;
// a batch the database could not be reached for is kept and written later, never twice; the buffer's bound.
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

  test("a NUL or half a surrogate pair in any text is stored as U+FFFD, and the batch (everyone's events) is written", async () => {
    const userId = `usr_audit_${crypto.randomUUID()}`;
    const other = `usr_audit_${crypto.randomUUID()}`;
    const { log, lines } = capture();
    const audit = new AuditLog({ db: platform.deps.db, log }, { batch: 10 });
    audit.record(call(other, 0));
    // A relayed call's tool name is whatever the client sent.
    audit.record(call(userId, 1, { tool: "a\u0000b", requestId: "r\u0000" }));
    audit.record(call(userId, 2, { tool: "x\uD800y", status: "\uDC00" }));
    audit.record({
      userId,
      action: "auth.sign_in",
      status: "ok",
      userAgent: "ua\u0000 🙂 \uDBFF",
      detail: { changed: ["k\u0000"], note: "\uD83D" },
    });
    audit.record(call(other, 3));
    await audit.flush();
    expect(lines).toEqual([]);
    expect(await eventsOf(other)).toHaveLength(2);
    const events = await eventsOf(userId);
    expect(events.map((e) => [e.tool, e.requestId, e.status]).sort()).toEqual([
      [null, null, "ok"],
      ["a\uFFFDb", "r\uFFFD", "ok"],
      ["x\uFFFDy", "req-2", "\uFFFD"],
    ]);
    const signIn = events.find((e) => e.action === "auth.sign_in");
    expect(signIn?.userAgent).toBe("ua\uFFFD 🙂 \uFFFD");
    expect(signIn?.detail).toEqual({ changed: ["k\uFFFD"], note: "\uFFFD" });
    const tools = (await rollupsOf(userId)).filter((r) => r.period === "day").map((r) => r.tool);
    expect(tools.sort()).toEqual(["a\uFFFDb", "x\uFFFDy"]);
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

  test("at most MAX_BUFFER events wait: the next are dropped with one warning, counted, the rest are written", async () => {
    const userId = `usr_audit_${crypto.randomUUID()}`;
    const { log, lines } = capture();
    // Batches larger than the bound: nothing flushes on its own.
    const audit = new AuditLog({ db: platform.deps.db, log }, { batch: AuditLog.MAX_BUFFER * 2 });
    for (let i = 0; i < AuditLog.MAX_BUFFER + 3; i++) audit.record(call(userId, i));
    expect(lines.map((l) => [l.level, l.msg])).toEqual([["warn", "audit buffer full; dropping events"]]);
    await audit.flush();
    const written = await platform.deps.db
      .select({ requestId: auditEvents.requestId })
      .from(auditEvents)
      .where(eq(auditEvents.userId, userId));
    expect(written).toHaveLength(AuditLog.MAX_BUFFER);
    expect(written.some((w) => w.requestId === `req-${AuditLog.MAX_BUFFER}`)).toBe(false);
    // Room again once flushed: the drops are reported, once.
    audit.record(call(userId, -1));
    audit.record(call(userId, -2));
    await audit.flush();
    expect(lines.map((l) => [l.level, l.msg, l.dropped])).toEqual([
      ["warn", "audit buffer full; dropping events", undefined],
      ["warn", "audit events dropped while the buffer was full", 3],
    ]);
  });

  /** The platform's database, its `execute` failing as `fail` says (a lost connection, as postgres.js reports it). */
  function flaky(fail: (attempt: number) => "before" | "after" | undefined) {
    let attempt = 0;
    const lost = () =>
      Object.assign(new Error("write CONNECTION_CLOSED 127.0.0.1:5432"), { code: "CONNECTION_CLOSED" });
    const db = platform.deps.db;
    return new Proxy(db, {
      get(target, key, receiver) {
        if (key !== "execute") return Reflect.get(target, key, receiver);
        return async (...args: Parameters<typeof db.execute>) => {
          const when = fail(++attempt);
          if (when === "before") throw lost();
          const result = await db.execute(...args);
          if (when === "after") throw lost();
          return result;
        };
      },
    });
  }

  test("a batch the database could not be reached for is kept, and written with everything after it once it is back", async () => {
    const userId = `usr_audit_${crypto.randomUUID()}`;
    const { log, lines } = capture();
    const audit = new AuditLog({ db: flaky((n) => (n <= 2 ? "before" : undefined)), log }, { batch: 10 });
    for (let i = 0; i < 3; i++) audit.record(call(userId, i));
    await audit.flush();
    expect(audit.pending).toBe(3);
    for (let i = 3; i < 5; i++) audit.record(call(userId, i));
    await audit.flush();
    expect(audit.pending).toBe(5);
    expect(await eventsOf(userId)).toHaveLength(0);
    await audit.flush();
    expect(audit.pending).toBe(0);
    expect((await eventsOf(userId)).map((e) => e.requestId).sort()).toEqual(
      [0, 1, 2, 3, 4].map((i) => `req-${i}`),
    );
    const day = (await rollupsOf(userId)).filter((r) => r.period === "day");
    expect(day.reduce((n, r) => n + r.calls, 0)).toBe(5);
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      ["warn", "audit flush deferred: database unavailable"],
      ["warn", "audit flush deferred: database unavailable"],
    ]);
  });

  test("a batch kept through an outage is written first when the next batch fills up, not only by the timer", async () => {
    const userId = `usr_audit_${crypto.randomUUID()}`;
    const { log } = capture();
    const audit = new AuditLog({ db: flaky((n) => (n === 1 ? "before" : undefined)), log }, { batch: 3 });
    audit.record(call(userId, 0));
    await audit.flush();
    expect(audit.pending).toBe(1);
    // No flush from here on: the batch that fills up takes the kept one along.
    for (let i = 1; i <= 3; i++) audit.record(call(userId, i));
    expect(await waitFor(() => audit.pending === 0)).toBe(true);
    expect(await eventsOf(userId)).toHaveLength(4);
  });

  test("stopped while the database cannot be reached: the events it could not write are counted in an error", async () => {
    const userId = `usr_audit_${crypto.randomUUID()}`;
    const { log, lines } = capture();
    const audit = new AuditLog({ db: flaky(() => "before"), log }, { batch: 10 });
    for (let i = 0; i < 3; i++) audit.record(call(userId, i));
    await audit.stop();
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      ["warn", "audit flush deferred: database unavailable"],
      ["error", "audit events not written at shutdown"],
    ]);
    expect((lines[1] as { lost?: number }).lost).toBe(3);
  });

  test("a batch written just before the connection was lost is not written, or counted, twice", async () => {
    const userId = `usr_audit_${crypto.randomUUID()}`;
    const { log, lines } = capture();
    // The statement commits, then its answer is lost: the writer cannot tell, and tries it again.
    const audit = new AuditLog({ db: flaky((n) => (n === 1 ? "after" : undefined)), log }, { batch: 10 });
    for (let i = 0; i < 4; i++) audit.record(call(userId, i));
    await audit.flush();
    expect(audit.pending).toBe(4);
    // Recorded after the failed attempt: a batch of their own, not added to the one that may have committed.
    audit.record(call(userId, 4));
    await audit.flush();
    expect(audit.pending).toBe(0);
    expect(await eventsOf(userId)).toHaveLength(5);
    const day = (await rollupsOf(userId)).filter((r) => r.period === "day");
    expect(day.reduce((n, r) => n + r.calls, 0)).toBe(5);
    expect(day.reduce((n, r) => n + r.upstreamCalls, 0)).toBe(5);
    // The retry found its events written: nothing refused (a duplicate key), nothing dropped.
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      ["warn", "audit flush deferred: database unavailable"],
    ]);
  });
});
