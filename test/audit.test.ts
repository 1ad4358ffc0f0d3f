// The audit trail: every control-plane change and every tool call leaves an event with its actor, target,
// address, user agent and request id, and never a secret; audit.list pages through the caller's own
// events only, newest first, with filters; malformed, edited, forged and misused cursors and bad input are
// refused.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { forgetAuditPersonalData, listAuditEvents } from "@mcp/core";
import { generateKeySpec, parseKeyring } from "@mcp/crypto";
import { auditEvents, usageRollups } from "@mcp/db";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { and, eq } from "drizzle-orm";
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
import { type Stack, startStack } from "./harness.ts";

interface Item {
  id: string;
  action: string;
  status: string;
  createdAt: string;
  actor: { kind: string | null; keyId: string | null };
  target: string | null;
  instanceId: string | null;
  serviceType: string | null;
  tool: string | null;
  latencyMs: number | null;
  upstreamMs: number | null;
  requestId: string | null;
  ip: string | null;
  userAgent: string | null;
  detail: Record<string, unknown> | null;
}
interface Page {
  items: Item[];
  nextCursor: string | null;
}

const PASSWORD = "correct horse battery";
const USER_AGENT = "AuditTest/1.0 (+https://example.test)";
const TOOL_CALLS = 12;

let stack: Stack;
let alice: TestUser;
let bob: TestUser;
/** Every secret Alice's changes handled: none may reach an audit row. */
const secrets: string[] = [];
let aliceInstance: string;
let keyId: string;
let bobInstance: string;

/** A tRPC mutation sent as a browser would: with its own User-Agent and a request id from a proxy. */
async function mutate(path: string, input: unknown, headers: Record<string, string>) {
  const res = await fetch(`${stack.controlPlaneUrl}/trpc/${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", "user-agent": USER_AGENT, ...headers },
    body: JSON.stringify(input),
  });
  const body = (await res.json()) as { result?: { data: unknown } };
  if (!body.result) throw new Error(`${path} failed: ${res.status} ${JSON.stringify(body)}`);
  return { data: body.result.data, headers: res.headers };
}

const list = (user: { cookie?: string; apiKey?: string }, input?: unknown) =>
  trpc(stack, "audit.list", input, user);
const page = async (user: TestUser, input?: unknown) => data<Page>(await list(user, input));

async function all(user: TestUser, input: { limit?: number; filters?: unknown } = {}): Promise<Item[]> {
  const items: Item[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 100; pages++) {
    const p = await page(user, { ...input, ...(cursor && { cursor }) });
    items.push(...p.items);
    if (!p.nextCursor) return items;
    cursor = p.nextCursor;
  }
  throw new Error("too many pages");
}

const tokenOf = (url: string) => new URL(url).pathname.split("/")[1] ?? "";

function expectBad(res: TrpcAnswer): void {
  expect(res.status).toBe(400);
  expect(res.body.error?.data.appCode).toBe("BAD_REQUEST");
}

beforeAll(async () => {
  stack = await startStack();
  [alice, bob] = await Promise.all([newUser(stack, PASSWORD), newUser(stack)]);
  const session = { "x-request-id": "audit-signin-0001" };
  const signedIn = await mutate("auth.signIn", { email: alice.email, password: PASSWORD }, session);
  const cookie = (signedIn.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
  alice = { ...alice, cookie };
  secrets.push(cookie.split("=")[1] ?? "");
  const as = { cookie };

  const figmaKey = figmaKeyFor(stack, "alice");
  const connected = await mutate("instances.connect", { serviceType: "figma", apiKey: figmaKey }, as);
  const issued = connected.data as { instanceId: string; instanceUrl: string };
  aliceInstance = issued.instanceId;
  const created = await mutate("apiKeys.create", { name: "audit" }, as);
  const apiKey = created.data as { id: string; key: string };
  keyId = apiKey.id;
  const rotated = await mutate(
    "instances.rotate",
    { serviceType: "figma" },
    { authorization: `Bearer ${apiKey.key}`, "x-request-id": "audit-rotate-0001" },
  );
  const rotatedUrl = (rotated.data as { instanceUrl: string }).instanceUrl;
  const newKey = figmaKeyFor(stack, "alice");
  await mutate("instances.updateCredentials", { serviceType: "figma", apiKey: newKey }, as);
  await mutate("apiKeys.revoke", { id: apiKey.id }, as);
  secrets.push(figmaKey, newKey, apiKey.key, tokenOf(issued.instanceUrl), tokenOf(rotatedUrl));
  secrets.push(figmaKey.slice(5), newKey.slice(5), apiKey.key.slice(-20), tokenOf(rotatedUrl).slice(-20));

  const client = new Client(
    { name: "audit-test", version: "1.0.0" },
    { versionNegotiation: { mode: { pin: "2026-07-28" } } },
  );
  await client.connect(new StreamableHTTPClientTransport(new URL(rotatedUrl)));
  for (let i = 0; i < TOOL_CALLS; i++) await client.callTool({ name: "get_me", arguments: {} });
  await client.close();

  bobInstance = (await connectFigma(stack, bob, figmaKeyFor(stack, "bob"))).instanceId;
  await stack.edge.deps.audit.flush();
});
afterAll(() => stack.stop());

describe("audit events", () => {
  test("each control-plane change is recorded with actor, target, address, user agent and request id", async () => {
    const items = (await page(alice)).items.filter((i) => i.action !== "tool.call").reverse();
    expect(items.map((i) => i.action)).toEqual([
      "auth.sign_in",
      "instance.connect",
      "api_key.create",
      "instance.rotate",
      "credentials.update",
      "api_key.revoke",
    ]);
    const [signIn, connect, create, rotate, update, revoke] = items;
    expect(signIn).toMatchObject({
      status: "ok",
      actor: { kind: "session", keyId: null },
      target: alice.userId,
      requestId: "audit-signin-0001",
      ip: "127.0.0.1",
      userAgent: USER_AGENT,
    });
    const onInstance = { target: aliceInstance, instanceId: aliceInstance, serviceType: "figma" };
    expect(connect).toMatchObject({ ...onInstance, actor: { kind: "session", keyId: null } });
    expect(update).toMatchObject(onInstance);
    // Rotated with the API key: the key's id is the actor, never the key.
    expect(rotate).toMatchObject({
      ...onInstance,
      actor: { kind: "api_key", keyId },
      requestId: "audit-rotate-0001",
    });
    expect(create).toMatchObject({ target: keyId, actor: { kind: "session" } });
    expect(revoke).toMatchObject({ target: keyId, actor: { kind: "session" } });
    // What the new key may do is kept (every scope, no expiry); its name is the user's free text: not kept.
    expect(create?.detail).toEqual({
      scopes: ["instances:read", "instances:write", "usage:read", "audit:read", "org:admin"],
      expiresAt: null,
    });
    // Every other event here is said in full by its action, target and instance.
    for (const item of [signIn, connect, rotate, update, revoke]) expect(item?.detail).toBeNull();
    for (const item of items) {
      expect(item).toMatchObject({ status: "ok", ip: "127.0.0.1", userAgent: USER_AGENT });
      expect(item.requestId).toMatch(/^[A-Za-z0-9_.:-]{8,64}$/);
      expect(new Date(item.createdAt).toISOString()).toBe(item.createdAt);
    }
  });

  test("tool calls: actor is the instance; upstream time is part of the latency, absent when cached", async () => {
    const calls = await all(alice, { filters: { action: "tool.call" } });
    expect(calls).toHaveLength(TOOL_CALLS);
    for (const c of calls) {
      expect(c).toMatchObject({
        actor: { kind: "instance" },
        instanceId: aliceInstance,
        serviceType: "figma",
      });
      expect(c).toMatchObject({ tool: "get_me", status: "ok" });
      expect(c.latencyMs).toBeGreaterThanOrEqual(c.upstreamMs ?? 0);
    }
    // get_me is served from the read cache after the first call: only that one reached the upstream.
    expect(calls.filter((c) => c.upstreamMs !== null)).toHaveLength(1);
    // Their ids lead with the time they were made (Unix ms in hex), so the table's primary key grows at its
    // end; with a null key id, target, address and user agent (left out of the batch written).
    for (const c of calls) {
      expect(c.id).toMatch(/^evt_[0-9a-f]{12}[A-Za-z0-9_-]{16}$/);
      expect(Number.parseInt(c.id.slice(4, 16), 16)).toBe(new Date(c.createdAt).getTime());
      expect(c).toMatchObject({
        actor: { keyId: null },
        target: null,
        ip: null,
        userAgent: null,
        detail: null,
      });
    }
  });

  test("no audit row, roll-up or listed event holds a key, a token or a session secret", async () => {
    const db = stack.platform.deps.db;
    const rows = JSON.stringify([
      await db.select().from(auditEvents),
      await db.select().from(usageRollups),
      await all(alice),
    ]);
    expect(secrets.length).toBeGreaterThan(8);
    for (const secret of secrets) {
      expect(secret.length).toBeGreaterThan(15);
      expect(rows).not.toContain(secret);
    }
  });

  test("forgetAuditPersonalData clears addresses and user agents, keeping the events", async () => {
    const user = await newUser(stack);
    await connectFigma(stack, user, figmaKeyFor(stack, "forget"));
    const db = stack.platform.deps.db;
    const before = await db.select().from(auditEvents).where(eq(auditEvents.userId, user.userId));
    expect(before.some((e) => e.ip !== null && e.userAgent !== null)).toBe(true);
    await forgetAuditPersonalData(db, user.userId);
    const after = await db.select().from(auditEvents).where(eq(auditEvents.userId, user.userId));
    expect(after.map((e) => e.id).sort()).toEqual(before.map((e) => e.id).sort());
    expect(after.every((e) => e.ip === null && e.userAgent === null)).toBe(true);
    // Other users' events keep theirs.
    const alices = await db.select().from(auditEvents).where(eq(auditEvents.userId, alice.userId));
    expect(alices.some((e) => e.ip === "127.0.0.1")).toBe(true);
  });
});

describe("audit.list", () => {
  test("pages newest first through every event, each once, with an opaque cursor", async () => {
    const expected = await stack.platform.deps.db
      .select({ id: auditEvents.id })
      .from(auditEvents)
      .where(eq(auditEvents.userId, alice.userId));
    expect(expected.length).toBe(6 + TOOL_CALLS);
    const first = await page(alice, { limit: 5 });
    expect(first.items).toHaveLength(5);
    // URL-safe as it is (RFC 3986 unreserved characters): a query parameter needs no escaping.
    expect(first.nextCursor).toMatch(/^[A-Za-z0-9._-]+$/);
    const items = await all(alice, { limit: 5 });
    expect(items.slice(0, 5)).toEqual(first.items);
    expect(items.map((i) => i.id).sort()).toEqual(expected.map((e) => e.id).sort());
    expect(new Set(items.map((i) => i.id)).size).toBe(items.length);
    const times = items.map((i) => Date.parse(i.createdAt));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    // One page holds them all (default limit 50): no cursor after it.
    const whole = await page(alice);
    expect(whole.items.map((i) => i.id)).toEqual(items.map((i) => i.id));
    expect(whole.nextCursor).toBeNull();
    // A page exactly as long as what is left ends the list.
    const exact = await page(alice, { limit: items.length });
    expect(exact.nextCursor).toBeNull();
  });

  test("filters: action, status, instance and a time range", async () => {
    const items = await all(alice);
    const keyEvents = await all(alice, { filters: { action: "api_key.create" } });
    expect(keyEvents.map((i) => i.action)).toEqual(["api_key.create"]);
    const onInstance = await all(alice, { limit: 4, filters: { instanceId: aliceInstance } });
    expect(onInstance).toHaveLength(items.filter((i) => i.instanceId === aliceInstance).length);
    expect(onInstance.every((i) => i.instanceId === aliceInstance)).toBe(true);
    expect(await all(alice, { filters: { status: "UPSTREAM_ERROR" } })).toEqual([]);
    expect(await all(alice, { filters: { status: "ok" } })).toHaveLength(items.length);
    // [from, to): the middle event's own instant is in `from` and out of `to`.
    const middle = items[Math.floor(items.length / 2)];
    if (!middle) throw new Error("no events");
    const newer = await all(alice, { filters: { from: middle.createdAt } });
    const older = await all(alice, { filters: { to: middle.createdAt } });
    expect(newer.every((i) => i.createdAt >= middle.createdAt)).toBe(true);
    expect(older.every((i) => i.createdAt <= middle.createdAt)).toBe(true);
    expect(newer.map((i) => i.id)).toContain(middle.id);
    expect(older.map((i) => i.id)).not.toContain(middle.id);
    expect(newer.length + older.length).toBe(items.length);
  });

  test("another user never sees them: not listed, not through Alice's instance id, not with her cursor", async () => {
    const aliceIds = new Set((await all(alice)).map((i) => i.id));
    const bobs = await all(bob);
    expect(bobs.length).toBeGreaterThan(0);
    expect(bobs.some((i) => aliceIds.has(i.id))).toBe(false);
    expect(bobs.every((i) => i.instanceId === null || i.instanceId === bobInstance)).toBe(true);
    expect(await all(bob, { filters: { instanceId: aliceInstance } })).toEqual([]);
    // Her cursor is bound to her: in Bob's hands it is not one handed out to him.
    const aliceCursor = (await page(alice, { limit: 1 })).nextCursor;
    expectBad(await list(bob, { cursor: aliceCursor }));
  });

  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  for (const [label, cursor] of [
    ["not base64url", "not a cursor!"],
    ["not JSON", Buffer.from("hello").toString("base64url")],
    ["the wrong shape", b64({ at: "2026-01-01T00:00:00.000000Z", id: "evt_x" })],
    ["a timestamp that is not one", b64(["yesterday", "evt_x"])],
    ["31 February", b64(["2026-02-31T00:00:00.000000Z", "evt_x"])],
    ["an id that is not one", b64(["2026-01-01T00:00:00.000000Z", "evt x;--"])],
    ["a number for the id", b64(["2026-01-01T00:00:00.000000Z", 7])],
    ["too long", "A".repeat(600)],
    ["empty", ""],
  ] as const) {
    test(`a malformed cursor (${label}): 400 BAD_REQUEST`, async () => {
      expectBad(await list(alice, { cursor }));
    });
  }

  for (const [label, input] of [
    ["limit 0", { limit: 0 }],
    ["limit 101", { limit: 101 }],
    ["a fractional limit", { limit: 2.5 }],
    ["a limit as a string", { limit: "10" }],
    ["an unknown field", { limit: 5, userId: "usr_other" }],
    ["an unknown filter", { filters: { userId: "usr_other" } }],
    ["a filter date that is not ISO-8601", { filters: { from: "yesterday" } }],
    // PostgreSQL has no year 0 (a 500 before): refused as input, in UTC, whatever the offset says.
    ["a filter date in year 0", { filters: { from: "0000-01-01T00:00:00Z" } }],
    ["a filter date that its offset puts in year 0", { filters: { to: "0001-01-01T00:00:00+01:00" } }],
    ["a filter date that its offset puts past 9999", { filters: { to: "9999-12-31T23:30:00-05:00" } }],
    ["to before from", { filters: { from: "2026-01-02T00:00:00Z", to: "2026-01-01T00:00:00Z" } }],
    ["an action over 64 characters", { filters: { action: "a".repeat(65) } }],
    ["an empty status", { filters: { status: "" } }],
  ] as const) {
    test(`${label}: 400 BAD_REQUEST`, async () => {
      expectBad(await list(alice, input));
    });
  }

  test("REST: a date PostgreSQL cannot hold is 400 BAD_REQUEST, not a 500", async () => {
    for (const query of ["from=0000-01-01T00:00:00Z", "to=0001-01-01T00:00:00%2B01:00"]) {
      expectRestError(
        await rest(stack, "GET", `/audit?${query}`, { auth: { cookie: alice.cookie } }),
        400,
        "BAD_REQUEST",
      );
    }
  });

  test("no session or API key: 401 UNAUTHORIZED", async () => {
    const res = await list({});
    expect(res.status).toBe(401);
    expect(res.body.error?.data.appCode).toBe("UNAUTHORIZED");
  });

  test("an API key without audit:read: 403 FORBIDDEN; with it, its owner's events", async () => {
    const create = async (scopes: string[]) =>
      data<{ key: string }>(
        await trpc(stack, "apiKeys.create", { name: `audit ${scopes}`, scopes }, { cookie: alice.cookie }),
      ).key;
    const denied = await list({ apiKey: await create(["usage:read", "instances:write"]) });
    expect(denied.status).toBe(403);
    expect(denied.body.error?.data.appCode).toBe("FORBIDDEN");
    const allowed = data<Page>(await list({ apiKey: await create(["audit:read"]) }, { limit: 100 }));
    const sessionView = await page(alice, { limit: 100 });
    // The same trail (the two key creations just made included).
    expect(allowed.items.map((i) => i.id)).toEqual(sessionView.items.map((i) => i.id));
    expect(allowed.items.filter((i) => i.action === "api_key.create")).toHaveLength(3);
  });
});

describe("audit.list cursors are sealed and bound to the caller and the filters", () => {
  const restList = (user: TestUser, query: Record<string, string>) =>
    rest(stack, "GET", `/audit?${new URLSearchParams(query)}`, { auth: { cookie: user.cookie } });
  const restPage = async (user: TestUser, query: Record<string, string>) => {
    const res = await restList(user, query);
    expect(res.status).toBe(200);
    return res.body as unknown as Page;
  };
  /** Both twins refuse the cursor: 400 BAD_REQUEST. */
  async function expectRefused(user: TestUser, cursor: string, filters: Record<string, string> = {}) {
    expectBad(await list(user, { cursor, ...(Object.keys(filters).length > 0 && { filters }) }));
    expectRestError(await restList(user, { cursor, ...filters }), 400, "BAD_REQUEST");
  }

  test("a real cursor pages through every event once, in order, over tRPC and REST alike", async () => {
    const whole = (await page(alice, { limit: 100 })).items.map((i) => i.id);
    expect(whole.length).toBeGreaterThan(10);
    const ids: string[] = [];
    let cursor: string | undefined;
    // Pages of 3, alternating the twins: a cursor from one is good in the other (same caller, same filters).
    for (let n = 0; n < 100; n++) {
      const query = { limit: "3", ...(cursor && { cursor }) };
      const p =
        n % 2 === 0
          ? await page(alice, { limit: 3, ...(cursor && { cursor }) })
          : await restPage(alice, query);
      ids.push(...p.items.map((i) => i.id));
      if (!p.nextCursor) break;
      expect(p.nextCursor).toMatch(/^\d+\.[A-Za-z0-9._-]+$/);
      expect(p.nextCursor.length).toBeLessThanOrEqual(512);
      cursor = p.nextCursor;
    }
    expect(ids).toEqual(whole);
    // The cursor is opaque: the position it holds cannot be read out of it.
    const first = await page(alice, { limit: 1 });
    const last = first.items[0];
    if (!last || !first.nextCursor) throw new Error("no page");
    const decoded = first.nextCursor
      .split(".")
      .map((part) => Buffer.from(part, "base64url").toString("latin1"))
      .join("");
    expect(`${first.nextCursor}${decoded}`).not.toContain(last.id);
    expect(`${first.nextCursor}${decoded}`).not.toContain(last.createdAt.slice(0, 19));
  });

  test("a forged cursor (the old format naming a real event, or a made-up one): 400 over tRPC and REST", async () => {
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
    const [newest, next] = (await page(alice, { limit: 2 })).items;
    if (!newest || !next) throw new Error("no events");
    const stampOf = (createdAt: string) => `${createdAt.slice(0, 23)}000Z`;
    for (const forged of [
      b64([stampOf(newest.createdAt), newest.id]),
      b64([stampOf(next.createdAt), next.id]),
      b64(["2099-01-01T00:00:00.000000Z", "evt_zzzzzzzzzzzzzzzzzzzzzzzzzzzz"]),
      `1.${b64([stampOf(newest.createdAt), newest.id])}`,
      `1.e1.${b64("key")}.${b64([stampOf(newest.createdAt), newest.id])}`,
    ]) {
      await expectRefused(alice, forged);
    }
  });

  test("an edited cursor: any changed character, the key version, a truncation → 400", async () => {
    const cursor = (await page(alice, { limit: 2 })).nextCursor;
    if (!cursor) throw new Error("no cursor");
    const flip = (c: string, at: number) => `${c.slice(0, at)}${c[at] === "A" ? "B" : "A"}${c.slice(at + 1)}`;
    const dots = [...cursor].flatMap((ch, i) => (ch === "." ? [i] : []));
    expect(dots).toHaveLength(3);
    const [, wrapAt = 0, bodyAt = 0] = dots;
    for (const edited of [
      flip(cursor, wrapAt + 5),
      flip(cursor, bodyAt + 5),
      flip(cursor, cursor.length - 2),
      `${Number(cursor.split(".")[0]) + 1}${cursor.slice(cursor.indexOf("."))}`,
      cursor.slice(0, -4),
      `${cursor}AAAA`,
    ]) {
      await expectRefused(alice, edited);
    }
  });

  test("another user's cursor: 400, even with the same filters", async () => {
    const aliceCursor = (await page(alice, { limit: 1 })).nextCursor;
    if (!aliceCursor) throw new Error("no cursor");
    await expectRefused(bob, aliceCursor);
    const filtered = (await page(alice, { limit: 1, filters: { status: "ok" } })).nextCursor;
    if (!filtered) throw new Error("no cursor");
    await expectRefused(bob, filtered, { status: "ok" });
    // Alice's own keeps working.
    expect((await page(alice, { limit: 1, cursor: aliceCursor })).items).toHaveLength(1);
  });

  test("a cursor used with other filters, another scope or in another organisation: 400", async () => {
    const toolCalls = { action: "tool.call" };
    const cursor = (await page(alice, { limit: 2, filters: toolCalls })).nextCursor;
    const unfiltered = (await page(alice, { limit: 2 })).nextCursor;
    if (!cursor || !unfiltered) throw new Error("no cursor");
    // The filters it was handed out with: good in both twins.
    expect((await page(alice, { limit: 2, cursor, filters: toolCalls })).items).toHaveLength(2);
    expect((await restPage(alice, { limit: "2", cursor, ...toolCalls })).items).toHaveLength(2);
    await expectRefused(alice, cursor);
    await expectRefused(alice, cursor, { action: "instance.connect" });
    await expectRefused(alice, cursor, { ...toolCalls, status: "ok" });
    await expectRefused(alice, cursor, { ...toolCalls, instanceId: aliceInstance });
    await expectRefused(alice, cursor, { ...toolCalls, from: "2000-01-01T00:00:00Z" });
    await expectRefused(alice, unfiltered, toolCalls);
    await expectRefused(alice, unfiltered, { to: "2999-01-01T00:00:00Z" });
    // The same instant written another way is the same filter.
    const since = (await page(alice, { limit: 2, filters: { from: "2000-01-01T00:00:00Z" } })).nextCursor;
    if (!since) throw new Error("no cursor");
    const sameInstant = { from: "2000-01-01T01:00:00+01:00" };
    expect((await page(alice, { limit: 2, cursor: since, filters: sameInstant })).items).toHaveLength(2);
    // Another scope (Alice owns her personal organisation, so she may list it whole).
    expect((await page(alice, { limit: 2, scope: "org" })).items).toHaveLength(2);
    expectBad(await list(alice, { cursor: unfiltered, scope: "org" }));
    expectRestError(await restList(alice, { cursor: unfiltered, scope: "org" }), 400, "BAD_REQUEST");
    const orgCursor = (await page(alice, { limit: 2, scope: "org" })).nextCursor;
    if (!orgCursor) throw new Error("no cursor");
    expectBad(await list(alice, { cursor: orgCursor }));
    // Another organisation she acts in.
    const created = await trpc(stack, "orgs.create", { name: "Audit cursors" }, { cookie: alice.cookie });
    const orgId = data<{ orgId: string }>(created).orgId;
    expectBad(await trpc(stack, "audit.list", { cursor: unfiltered }, { cookie: alice.cookie, orgId }));
  });

  test("a cursor sealed under a key version still in the keyring keeps working after a rotation", async () => {
    const db = stack.platform.deps.db;
    const [event] = await db
      .select({ orgId: auditEvents.orgId })
      .from(auditEvents)
      .where(and(eq(auditEvents.userId, alice.userId), eq(auditEvents.action, "instance.connect")));
    if (!event?.orgId) throw new Error("no organisation");
    const actor = { userId: alice.userId, orgId: event.orgId };
    const v1 = generateKeySpec(1);
    const before = parseKeyring(v1);
    const rotated = parseKeyring(`${generateKeySpec(2)},${v1}`);
    const retired = parseKeyring(generateKeySpec(2));
    const first = await listAuditEvents({ db, keyring: before }, actor, { limit: 3 });
    if (!first.ok || !first.value.nextCursor) throw new Error("no cursor");
    const cursor = first.value.nextCursor;
    expect(cursor.startsWith("1.")).toBe(true);
    const expected = await listAuditEvents({ db, keyring: before }, actor, { limit: 3, cursor });
    const after = await listAuditEvents({ db, keyring: rotated }, actor, { limit: 3, cursor });
    if (!expected.ok || !after.ok) throw new Error("refused");
    expect(after.value.items).toEqual(expected.value.items);
    expect(after.value.items).toHaveLength(3);
    // The next cursor is sealed under the new version.
    expect(after.value.nextCursor?.startsWith("2.")).toBe(true);
    expect(await listAuditEvents({ db, keyring: retired }, actor, { limit: 3, cursor })).toMatchObject({
      ok: false,
      code: "BAD_REQUEST",
    });
  });
});
