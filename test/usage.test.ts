// usage.summary: tool calls made through the edge, flushed by the batched audit writer into the hourly and
// daily roll-ups, summarised by day, instance, service and tool; ranges widened to whole hours and split
// between day and hour rows without counting a call twice; bad ranges and cross-tenant reads refused.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { personalOrgOf, rollUp, upsertRollups } from "@mcp/core";
import { auditEvents, usageRollups } from "@mcp/db";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { and, eq, sql } from "drizzle-orm";
import {
  connectFigma,
  data,
  expectRestError,
  figmaKeyFor,
  newUser,
  rest,
  type TestUser,
  type TrpcAnswer,
  trpc,
} from "./client.ts";
import { FAKE_FILE_KEY } from "./fakes/figma.ts";
import { type Stack, startStack } from "./harness.ts";

let stack: Stack;
let alice: TestUser;
let bob: TestUser;
let aliceInstance: string;
let bobInstance: string;
let aliceClient: Client;

interface Group {
  key: string;
  calls: number;
  errors: Record<string, number>;
  p50Ms: number | null;
  p95Ms: number | null;
  upstreamMsAvg?: number;
}
interface Summary {
  from: string;
  to: string;
  groupBy: string;
  groups: Group[];
  truncated: boolean;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** A window around now wide enough for every call the tests make. */
const around = () => ({
  from: new Date(Date.now() - 2 * HOUR).toISOString(),
  to: new Date(Date.now() + 2 * HOUR).toISOString(),
});

const summary = (user: TestUser, input: unknown) =>
  trpc(stack, "usage.summary", input, { cookie: user.cookie, method: "GET" });
const groupsOf = async (user: TestUser, groupBy: string, range = around()) =>
  data<Summary>(await summary(user, { ...range, groupBy })).groups;
const byKey = (groups: Group[]) => Object.fromEntries(groups.map((g) => [g.key, g]));

async function mcpClient(url: string): Promise<Client> {
  const client = new Client(
    { name: "usage-test", version: "1.0.0" },
    { versionNegotiation: { mode: { pin: "2026-07-28" } } },
  );
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

const call = (client: Client, name: string, args: Record<string, unknown> = {}) =>
  client.callTool({ name, arguments: args });

function expectBad(res: TrpcAnswer): void {
  expect(res.status).toBe(400);
  expect(res.body.error?.data.appCode).toBe("BAD_REQUEST");
}

beforeAll(async () => {
  stack = await startStack();
  [alice, bob] = await Promise.all([newUser(stack), newUser(stack)]);
  const a = await connectFigma(stack, alice, figmaKeyFor(stack, "alice"));
  const b = await connectFigma(stack, bob, figmaKeyFor(stack, "bob"));
  aliceInstance = a.instanceId;
  bobInstance = b.instanceId;
  aliceClient = await mcpClient(a.instanceUrl);
  // Alice: get_me ×3 (the last two from the read cache), get_file ×2 (the second cached), a missing file ×2
  // (404 → UPSTREAM_ERROR), get_file_nodes answered 500 once (SERVICE_UNAVAILABLE), one post_comment.
  for (let i = 0; i < 3; i++) await call(aliceClient, "get_me");
  for (let i = 0; i < 2; i++) await call(aliceClient, "get_file", { file_key: FAKE_FILE_KEY });
  for (let i = 0; i < 2; i++) await call(aliceClient, "get_file", { file_key: "no-such-file" });
  stack.figma.failNext(500, { status: 500, err: "boom" });
  await call(aliceClient, "get_file_nodes", { file_key: FAKE_FILE_KEY, ids: "0:1" });
  await call(aliceClient, "post_comment", { file_key: FAKE_FILE_KEY, message: "usage" });
  const bobClient = await mcpClient(b.instanceUrl);
  await call(bobClient, "get_me");
  await bobClient.close();
  await stack.edge.deps.audit.flush();
});
afterAll(async () => {
  await aliceClient.close();
  await stack.stop();
});

describe("usage.summary", () => {
  test("by tool: calls, errors by code, p50/p95 and upstream time per tool", async () => {
    const tools = byKey(await groupsOf(alice, "tool"));
    expect(Object.keys(tools).sort()).toEqual([
      "figma:get_file",
      "figma:get_file_nodes",
      "figma:get_me",
      "figma:post_comment",
    ]);
    expect(tools["figma:get_me"]).toMatchObject({ calls: 3, errors: {} });
    expect(tools["figma:get_file"]).toMatchObject({ calls: 4, errors: { UPSTREAM_ERROR: 2 } });
    expect(tools["figma:get_file_nodes"]).toMatchObject({ calls: 1, errors: { SERVICE_UNAVAILABLE: 1 } });
    expect(tools["figma:post_comment"]).toMatchObject({ calls: 1, errors: {} });
    for (const g of Object.values(tools)) {
      expect(g.p50Ms).toBeNumber();
      expect(g.p95Ms).toBeGreaterThanOrEqual(g.p50Ms ?? Number.NaN);
      // Every tool reached the upstream at least once; the mean of those calls is a time, not a count.
      expect(g.upstreamMsAvg).toBeGreaterThanOrEqual(0);
    }
  });

  test("by instance, service and day: the same calls, only the caller's", async () => {
    const total = 9;
    expect(await groupsOf(alice, "instance")).toMatchObject([
      { key: aliceInstance, calls: total, errors: { UPSTREAM_ERROR: 2, SERVICE_UNAVAILABLE: 1 } },
    ]);
    expect(await groupsOf(alice, "service")).toMatchObject([{ key: "figma", calls: total }]);
    const days = await groupsOf(alice, "day");
    expect(days.reduce((n, g) => n + g.calls, 0)).toBe(total);
    expect(days.every((g) => /^\d{4}-\d{2}-\d{2}$/.test(g.key))).toBe(true);
    expect(days.map((g) => g.key)).toContain(new Date().toISOString().slice(0, 10));
    // Bob sees his one call, never Alice's.
    expect(await groupsOf(bob, "instance")).toMatchObject([{ key: bobInstance, calls: 1, errors: {} }]);
    expect(await groupsOf(bob, "tool")).toMatchObject([{ key: "figma:get_me", calls: 1 }]);
  });

  test("the roll-ups agree with the audit events they were made from", async () => {
    const db = stack.platform.deps.db;
    const [events] = await db
      .select({ n: sql<number>`count(*)::int` })
      .from(auditEvents)
      .where(and(eq(auditEvents.userId, alice.userId), eq(auditEvents.action, "tool.call")));
    const [hours] = await db
      .select({ n: sql<number>`sum(${usageRollups.calls})::int` })
      .from(usageRollups)
      .where(and(eq(usageRollups.userId, alice.userId), eq(usageRollups.period, "hour")));
    const [days] = await db
      .select({ n: sql<number>`sum(${usageRollups.calls})::int` })
      .from(usageRollups)
      .where(and(eq(usageRollups.userId, alice.userId), eq(usageRollups.period, "day")));
    expect(events?.n).toBe(9);
    expect(hours?.n).toBe(9);
    expect(days?.n).toBe(9);
  });

  test("a later flush adds to the same counters (errors merged by code, histograms summed)", async () => {
    await call(aliceClient, "get_file", { file_key: "still-missing" });
    stack.figma.failNext(500, { status: 500, err: "boom" });
    await call(aliceClient, "get_file", { file_key: "another-missing" });
    await stack.edge.deps.audit.flush();
    const tools = byKey(await groupsOf(alice, "tool"));
    expect(tools["figma:get_file"]).toMatchObject({
      calls: 6,
      errors: { UPSTREAM_ERROR: 3, SERVICE_UNAVAILABLE: 1 },
    });
    const [row] = await stack.platform.deps.db
      .select({ buckets: usageRollups.latencyBuckets, calls: usageRollups.calls })
      .from(usageRollups)
      .where(
        and(
          eq(usageRollups.userId, alice.userId),
          eq(usageRollups.period, "day"),
          eq(usageRollups.tool, "get_file"),
        ),
      );
    expect(row?.buckets).toHaveLength(72);
    expect(row?.buckets.reduce((a, b) => a + b, 0)).toBe(row?.calls ?? -1);
  });

  test("a range is widened to whole hours; whole days come from day rows, the ends from hour rows", async () => {
    const user = await newUser(stack);
    const orgId = await personalOrgOf(stack.platform.deps.db, user.userId);
    const at = (iso: string, latencyMs: number, status = "ok") => ({
      userId: user.userId,
      orgId,
      instanceId: "ins_seeded",
      serviceType: "figma",
      tool: "get_me",
      status,
      latencyMs,
      upstreamMs: latencyMs - 1,
      createdAt: new Date(iso),
    });
    await stack.platform.deps.db.execute(
      upsertRollups(
        JSON.stringify(
          rollUp([
            at("2025-03-10T05:30:00Z", 10),
            at("2025-03-11T12:00:00Z", 20),
            at("2025-03-11T13:00:00Z", 40, "UPSTREAM_ERROR"),
            at("2025-03-12T23:30:00Z", 80),
            at("2025-03-13T00:30:00Z", 160),
          ]),
        ),
      ),
    );
    const days = async (from: string, to: string) => {
      const s = data<Summary>(await summary(user, { from, to, groupBy: "day" }));
      return { from: s.from, to: s.to, calls: Object.fromEntries(s.groups.map((g) => [g.key, g.calls])) };
    };
    expect(await days("2025-03-10T05:00:00Z", "2025-03-13T00:00:00Z")).toEqual({
      from: "2025-03-10T05:00:00.000Z",
      to: "2025-03-13T00:00:00.000Z",
      calls: { "2025-03-10": 1, "2025-03-11": 2, "2025-03-12": 1 },
    });
    // 05:45 widens to 05:00 (the 05:30 call is in), 23:10 to midnight (the 23:30 call is in, 00:30 is not).
    expect(await days("2025-03-10T05:45:00Z", "2025-03-12T23:10:00Z")).toEqual({
      from: "2025-03-10T05:00:00.000Z",
      to: "2025-03-13T00:00:00.000Z",
      calls: { "2025-03-10": 1, "2025-03-11": 2, "2025-03-12": 1 },
    });
    expect((await days("2025-03-10T06:00:00Z", "2025-03-14T00:00:00Z")).calls).toEqual({
      "2025-03-11": 2,
      "2025-03-12": 1,
      "2025-03-13": 1,
    });
    // Within one day: hour rows only.
    expect((await days("2025-03-11T12:00:00Z", "2025-03-11T13:00:00Z")).calls).toEqual({ "2025-03-11": 1 });
    // Offsets other than Z are instants like any other.
    expect((await days("2025-03-11T14:00:00+02:00", "2025-03-11T15:00:00+02:00")).calls).toEqual({
      "2025-03-11": 1,
    });
    const [tool] = data<Summary>(
      await summary(user, { from: "2025-03-01T00:00:00Z", to: "2025-04-01T00:00:00Z", groupBy: "tool" }),
    ).groups;
    // Latencies 10, 20, 40, 80, 160 ms: the median is 40 and p95 is 160, each within the buckets' 9 %.
    expect(tool).toMatchObject({ key: "figma:get_me", calls: 5, errors: { UPSTREAM_ERROR: 1 } });
    expect(Math.abs((tool?.p50Ms ?? 0) - 40) / 40).toBeLessThan(0.091);
    expect(Math.abs((tool?.p95Ms ?? 0) - 160) / 160).toBeLessThan(0.091);
    expect(tool?.upstreamMsAvg).toBe(61);
  });

  test("an empty range answers no groups", async () => {
    const s = data<Summary>(
      await summary(alice, { from: "2020-01-01T00:00:00Z", to: "2020-01-01T00:00:00Z", groupBy: "tool" }),
    );
    expect(s).toEqual({
      from: "2020-01-01T00:00:00.000Z",
      to: "2020-01-01T00:00:00.000Z",
      groupBy: "tool",
      groups: [],
      truncated: false,
    });
  });

  test("a range of exactly 366 days is allowed", async () => {
    const to = new Date();
    const from = new Date(to.getTime() - 366 * DAY);
    const res = await summary(alice, { from: from.toISOString(), to: to.toISOString(), groupBy: "service" });
    expect(res.status).toBe(200);
    expect(data<Summary>(res).groups).toMatchObject([{ key: "figma", calls: 11 }]);
  });
});

describe("usage.summary refuses", () => {
  const now = Date.now();
  const iso = (ms: number) => new Date(ms).toISOString();
  for (const [label, input] of [
    ["to before from", { from: iso(now), to: iso(now - 1000), groupBy: "day" }],
    ["a range over 366 days", { from: iso(now - 366 * DAY - 1000), to: iso(now), groupBy: "day" }],
    ["two years", { from: "2024-01-01T00:00:00Z", to: "2026-01-01T00:00:00Z", groupBy: "tool" }],
    ["an unknown groupBy", { from: iso(now - DAY), to: iso(now), groupBy: "week" }],
    ["no from", { to: iso(now), groupBy: "day" }],
    ["a date that is not ISO-8601", { from: "yesterday", to: iso(now), groupBy: "day" }],
    ["a date without an offset", { from: "2025-01-01T00:00:00", to: iso(now), groupBy: "day" }],
    // PostgreSQL has no year 0, and `to` is rounded up to the next hour (a 500 before, both).
    ["year 0", { from: "0000-01-01T00:00:00Z", to: "0000-02-01T00:00:00Z", groupBy: "day" }],
    ["the last day of 9999", { from: "9999-12-31T00:00:00Z", to: "9999-12-31T23:30:00Z", groupBy: "tool" }],
    ["an unknown field", { from: iso(now - DAY), to: iso(now), groupBy: "day", userId: "usr_x" }],
    ["no input", undefined],
  ] as const) {
    test(`${label}: 400 BAD_REQUEST`, async () => {
      expectBad(await summary(alice, input));
    });
  }

  test("REST: a date PostgreSQL cannot hold is 400 BAD_REQUEST, not a 500", async () => {
    for (const query of [
      "from=0000-01-01T00:00:00Z&to=0000-02-01T00:00:00Z&groupBy=day",
      "from=9999-12-31T00:00:00Z&to=9999-12-31T23:30:00Z&groupBy=tool",
    ]) {
      expectRestError(
        await rest(stack, "GET", `/usage?${query}`, { auth: { cookie: alice.cookie } }),
        400,
        "BAD_REQUEST",
      );
    }
  });

  test("no session or API key: 401 UNAUTHORIZED", async () => {
    const res = await trpc(stack, "usage.summary", { ...around(), groupBy: "day" }, { method: "GET" });
    expect(res.status).toBe(401);
    expect(res.body.error?.data.appCode).toBe("UNAUTHORIZED");
  });

  test("an API key without usage:read: 403 FORBIDDEN; with it, the key owner's usage", async () => {
    const create = async (scopes: string[]) =>
      data<{ key: string }>(
        await trpc(stack, "apiKeys.create", { name: `usage ${scopes}`, scopes }, { cookie: alice.cookie }),
      ).key;
    const input = { ...around(), groupBy: "service" };
    const denied = await trpc(stack, "usage.summary", input, {
      apiKey: await create(["instances:read", "audit:read"]),
      method: "GET",
    });
    expect(denied.status).toBe(403);
    expect(denied.body.error?.data.appCode).toBe("FORBIDDEN");
    const allowed = await trpc(stack, "usage.summary", input, {
      apiKey: await create(["usage:read"]),
      method: "GET",
    });
    expect(data<Summary>(allowed).groups).toMatchObject([{ key: "figma", calls: 11 }]);
  });
});
