// Account management over real HTTP: change password, list and revoke sessions, sign out everywhere, delete
// the account (instances retired at the edge, credentials erased, the email free again). Direct reads of the
// database prove what is and is not stored.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { apiKeys, credentials, instances, sessions, users } from "@mcp/db";
import { eq, sql } from "drizzle-orm";
import {
  type Auth,
  connectFigma,
  data,
  expectInstanceDead,
  expectTrpcError,
  figmaKeyFor,
  newUser,
  type TestUser,
  type TrpcAnswer,
  trpc,
} from "./client.ts";
import { type Stack, startStack } from "./harness.ts";

const PASSWORD = "correct horse battery";
const NEW_PASSWORD = "a brand new passphrase";
/** Wrong account.* passwords a user may try in a minute (this stack's `signInFailuresPerEmailIp`). */
const GUESSES = 5;

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ controlPlaneLimits: { signInFailuresPerEmailIp: GUESSES } });
});
afterAll(() => stack.stop());

// ---------------------------------------------------------------------------------------------------
// helpers

const sha256 = (s: string) => createHash("sha256").update(s, "utf8").digest("hex");
const secretOf = (cookie: string) => cookie.slice(cookie.indexOf("=") + 1);
const db = () => stack.platform.deps.db;
/** The rows of a raw `execute` (postgres-js answers an array, PGlite `{ rows }`). */
const rowsOf = (result: unknown) =>
  (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as Record<string, unknown>[];

/** Our session cookie as set by an answer (`name=value`), "" when it clears it, undefined when it sets none. */
function setSession(res: TrpcAnswer): string | undefined {
  const set = res.headers.getSetCookie().find((c) => c.startsWith("mcp_session="));
  if (set === undefined) return undefined;
  return /max-age=0/i.test(set) ? "" : (set.split(";")[0] ?? "");
}

interface Session {
  id: string;
  createdAt: string;
  expiresAt: string;
  current: boolean;
  userAgent: string | null;
  ip: string | null;
}

const listSessions = (cookie: string) =>
  trpc(stack, "account.sessions", undefined, { cookie, method: "GET" });

/** A second browser of the same user: a sign-in's cookie. */
async function signIn(email: string, password: string): Promise<TrpcAnswer> {
  return trpc(stack, "auth.signIn", { email, password });
}
async function anotherBrowser(user: TestUser, password = PASSWORD): Promise<string> {
  const res = await signIn(user.email, password);
  expect(res.status).toBe(200);
  return setSession(res) ?? "";
}

/** A cookie that no longer signs anyone in: 401 on a session-only read, and auth.me does not name the user. */
async function expectSignedOut(cookie: string): Promise<void> {
  expectTrpcError(await listSessions(cookie), 401, "UNAUTHORIZED");
  expectTrpcError(await trpc(stack, "apiKeys.list", undefined, { cookie }), 401, "UNAUTHORIZED");
  const me = await trpc(stack, "auth.me", undefined, { cookie });
  expect(me.status === 401 || (me.status === 200 && me.body.result?.data === null)).toBe(true);
}

async function expectSignedIn(cookie: string, userId: string): Promise<void> {
  const me = await trpc(stack, "auth.me", undefined, { cookie });
  // A session acts in the personal organisation (no X-Org-Id), as its owner, with no key scopes.
  expect(data(me)).toMatchObject({ id: userId, via: "session", orgRole: "owner", scopes: null });
}

async function passwordHashOf(userId: string): Promise<string | undefined> {
  const [row] = await db().select().from(users).where(eq(users.id, userId));
  return row?.passwordHash;
}

async function sessionRows(userId: string) {
  return db().select().from(sessions).where(eq(sessions.userId, userId));
}

/** The user's audit rows as stored, every column (snake_case), whatever columns the audit trail has. */
async function auditOf(userId: string): Promise<Record<string, unknown>[]> {
  return rowsOf(await db().execute(sql`select * from audit_events where user_id = ${userId}`));
}

async function apiKeyFor(user: TestUser): Promise<string> {
  const res = await trpc(stack, "apiKeys.create", { name: "account test" }, { cookie: user.cookie });
  return data<{ key: string }>(res).key;
}

/** A tRPC mutation with a User-Agent of the test's choosing. */
async function mutateAs(
  path: string,
  input: unknown,
  cookie: string,
  userAgent: string,
): Promise<TrpcAnswer> {
  const res = await fetch(`${stack.controlPlaneUrl}/trpc/${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", cookie, "user-agent": userAgent },
    body: JSON.stringify(input),
  });
  return { status: res.status, body: (await res.json()) as TrpcAnswer["body"], headers: res.headers };
}

/**
 * For each needle, the tables of our schema with a row whose text (every column, JSON included) holds it: one
 * scan per table for all needles.
 */
async function tablesHolding(...needles: string[]): Promise<string[][]> {
  const tables = rowsOf(
    await db().execute(sql`
      select table_name from information_schema.tables
      where table_schema = current_schema() and table_type = 'BASE TABLE'`),
  ).map((t) => String(t.table_name));
  expect(tables).toEqual(
    expect.arrayContaining(["users", "sessions", "credentials", "instances", "audit_events"]),
  );
  const found: string[][] = needles.map(() => []);
  const counts = sql.join(
    needles.map(
      (needle, i) =>
        sql`count(*) filter (where strpos(lower(t::text), lower(${needle})) > 0)::int as ${sql.identifier(`n${i}`)}`,
    ),
    sql`, `,
  );
  for (const table of tables) {
    const [hits] = rowsOf(await db().execute(sql`select ${counts} from ${sql.identifier(table)} as t`));
    needles.forEach((_, i) => {
      if (Number(hits?.[`n${i}`]) > 0) found[i]?.push(table);
    });
  }
  return found;
}

/** A raw `tools/list` through the edge: 200 while the instance lives (it also warms the edge's caches). */
async function toolsList(instanceUrl: string): Promise<number> {
  const res = await fetch(instanceUrl, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
  });
  await res.text();
  return res.status;
}

// ---------------------------------------------------------------------------------------------------

describe("who may call account.*", () => {
  const calls = (sessionId: string): [string, unknown][] => [
    ["account.changePassword", { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }],
    ["account.sessions", undefined],
    ["account.revokeSession", { id: sessionId }],
    ["account.signOutEverywhere", undefined],
    ["account.delete", { password: PASSWORD }],
  ];

  test("an API key gets 403 FORBIDDEN on every procedure, and nothing changes", async () => {
    const user = await newUser(stack);
    const apiKey = await apiKeyFor(user);
    const [mine] = data<Session[]>(await listSessions(user.cookie));
    const hash = await passwordHashOf(user.userId);
    const before = await sessionRows(user.userId);

    for (const [path, input] of calls(mine?.id ?? "")) {
      const method = path === "account.sessions" ? "GET" : "POST";
      const res = await trpc(stack, path, input, { apiKey, method });
      expectTrpcError(res, 403, "FORBIDDEN");
      expect(setSession(res)).toBeUndefined();
    }

    expect(await passwordHashOf(user.userId)).toBe(hash);
    expect(await sessionRows(user.userId)).toEqual(before);
    await expectSignedIn(user.cookie, user.userId);
    expect((await trpc(stack, "instances.list", undefined, { apiKey })).status).toBe(200);
  });

  test("anonymous callers and dead cookies get 401 UNAUTHORIZED", async () => {
    const user = await newUser(stack);
    const [mine] = data<Session[]>(await listSessions(user.cookie));
    const dead = `mcp_session=${"A".repeat(43)}`;
    for (const auth of [{}, { cookie: dead }] as Auth[]) {
      for (const [path, input] of calls(mine?.id ?? "")) {
        const method = path === "account.sessions" ? "GET" : "POST";
        expectTrpcError(await trpc(stack, path, input, { ...auth, method }), 401, "UNAUTHORIZED");
      }
    }
    expect(await sessionRows(user.userId)).toHaveLength(1);
    await expectSignedIn(user.cookie, user.userId);
  });
});

describe("account.sessions and account.revokeSession", () => {
  test("a session made by sign-in records the browser and address it came from", async () => {
    const user = await newUser(stack);
    const res = await fetch(`${stack.controlPlaneUrl}/trpc/auth.signIn`, {
      method: "POST",
      headers: { "content-type": "application/json", "user-agent": "AccountTest/1.0 (sign-in)" },
      body: JSON.stringify({ email: user.email, password: PASSWORD }),
    });
    expect(res.status).toBe(200);
    const cookie = (res.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    const listed = data<Session[]>(await listSessions(cookie));
    expect(listed.find((x) => x.current)).toMatchObject({
      userAgent: "AccountTest/1.0 (sign-in)",
      ip: "127.0.0.1",
    });
  });

  test("lists the user's sessions by opaque ids and marks the caller's", async () => {
    const user = await newUser(stack);
    const other = await anotherBrowser(user);
    const listed = data<Session[]>(await listSessions(user.cookie));
    expect(listed).toHaveLength(2);
    expect(listed.filter((s) => s.current)).toHaveLength(1);
    const stored = await sessionRows(user.userId);
    for (const s of listed) {
      expect(s.id).toMatch(/^ses_[0-9a-f]{32}$/);
      for (const cookie of [user.cookie, other]) {
        expect(s.id).not.toContain(secretOf(cookie));
        expect(s.id).not.toContain(sha256(secretOf(cookie)));
      }
      expect(stored.map((r) => r.id)).not.toContain(s.id);
      expect(Date.parse(s.expiresAt)).toBeGreaterThan(Date.now());
      expect(Date.parse(s.createdAt)).toBeLessThanOrEqual(Date.now());
    }
    // The same two sessions, seen from the other browser: the other one is current there.
    const fromOther = data<Session[]>(await listSessions(other));
    expect(fromOther.map((s) => s.id).sort()).toEqual(listed.map((s) => s.id).sort());
    expect(fromOther.find((s) => s.current)?.id).not.toBe(listed.find((s) => s.current)?.id);
    // Nothing of the cookie or its hash anywhere in the answer.
    const text = JSON.stringify(listed);
    for (const row of stored) expect(text).not.toContain(row.id);
  });

  test("revoking another session by id ends it at once; the caller's stays", async () => {
    const user = await newUser(stack);
    const other = await anotherBrowser(user);
    const theirs = data<Session[]>(await listSessions(other)).find((s) => s.current);
    const res = await trpc(stack, "account.revokeSession", { id: theirs?.id }, { cookie: user.cookie });
    expect(data(res)).toEqual({ id: theirs?.id });
    expect(setSession(res)).toBeUndefined();
    await expectSignedOut(other);
    await expectSignedIn(user.cookie, user.userId);
    const left = data<Session[]>(await listSessions(user.cookie));
    expect(left).toHaveLength(1);
    expect(left[0]?.current).toBe(true);
    // Gone is gone: a second revoke of the same id is a 404.
    const again = await trpc(stack, "account.revokeSession", { id: theirs?.id }, { cookie: user.cookie });
    expectTrpcError(again, 404, "NOT_FOUND");
    expect((await auditOf(user.userId)).filter((e) => e.action === "session.revoke")).toHaveLength(1);
  });

  test("revoking the caller's own session clears its cookie", async () => {
    const user = await newUser(stack);
    const mine = data<Session[]>(await listSessions(user.cookie)).find((s) => s.current);
    const res = await trpc(stack, "account.revokeSession", { id: mine?.id }, { cookie: user.cookie });
    expect(data(res)).toEqual({ id: mine?.id });
    expect(setSession(res)).toBe("");
    await expectSignedOut(user.cookie);
    expect(await sessionRows(user.userId)).toHaveLength(0);
  });

  test("cross-tenant: B cannot revoke A's session by its id (404), and A's session lives on", async () => {
    const a = await newUser(stack);
    const b = await newUser(stack);
    const [aSession] = data<Session[]>(await listSessions(a.cookie));
    const before = await sessionRows(a.userId);
    const res = await trpc(stack, "account.revokeSession", { id: aSession?.id }, { cookie: b.cookie });
    expectTrpcError(res, 404, "NOT_FOUND");
    expect(JSON.stringify(res.body)).not.toContain(a.userId);
    expect(setSession(res)).toBeUndefined();
    expect(await sessionRows(a.userId)).toEqual(before);
    await expectSignedIn(a.cookie, a.userId);
    await expectSignedIn(b.cookie, b.userId);
    // B's own list never shows A's sessions.
    const bList = data<Session[]>(await listSessions(b.cookie));
    expect(bList.map((s) => s.id)).not.toContain(aSession?.id);
    expect(bList).toHaveLength(1);
  });

  test("bad ids: 400 BAD_REQUEST (malformed) or 404 NOT_FOUND (unknown), nothing revoked", async () => {
    const user = await newUser(stack);
    const other = await anotherBrowser(user);
    const before = await sessionRows(user.userId);
    const cookie = { cookie: user.cookie };
    for (const input of [{ id: "" }, { id: "x".repeat(65) }, {}, { id: 42 }, null, { id: ["ses_1"] }]) {
      expectTrpcError(await trpc(stack, "account.revokeSession", input, cookie), 400, "BAD_REQUEST");
    }
    for (const id of ["ses_00000000000000000000000000000000", "nope", sha256(secretOf(other))]) {
      expectTrpcError(await trpc(stack, "account.revokeSession", { id }, cookie), 404, "NOT_FOUND");
    }
    expect(await sessionRows(user.userId)).toEqual(before);
    await expectSignedIn(other, user.userId);
  });
});

describe("account.signOutEverywhere", () => {
  test("ends every session of the user, this one included, and clears the cookie", async () => {
    const user = await newUser(stack);
    const second = await anotherBrowser(user);
    const third = await anotherBrowser(user);
    const bystander = await newUser(stack);
    const res = await trpc(stack, "account.signOutEverywhere", undefined, { cookie: second });
    expect(data(res)).toEqual({ revoked: 3 });
    expect(setSession(res)).toBe("");
    for (const cookie of [user.cookie, second, third]) await expectSignedOut(cookie);
    expect(await sessionRows(user.userId)).toHaveLength(0);
    await expectSignedIn(bystander.cookie, bystander.userId);
    // The password is untouched: signing in again works.
    await expectSignedIn(await anotherBrowser(user), user.userId);
    expect((await auditOf(user.userId)).map((e) => e.action)).toContain("session.revoke_all");
  });
});

describe("account.changePassword", () => {
  test("ends every other session, hands this browser a fresh cookie; only the new password signs in", async () => {
    const user = await newUser(stack);
    const other = await anotherBrowser(user);
    const res = await mutateAs(
      "account.changePassword",
      { currentPassword: PASSWORD, newPassword: NEW_PASSWORD },
      user.cookie,
      "AccountTest/1.0 (change)",
    );
    expect(data(res)).toEqual({ ok: true });
    const fresh = setSession(res) ?? "";
    expect(fresh).toMatch(/^mcp_session=[A-Za-z0-9_-]{43}$/);
    expect(fresh).not.toBe(user.cookie);

    // The other browser, and this browser's old cookie, are signed out; the fresh cookie is the only session.
    await expectSignedOut(other);
    await expectSignedOut(user.cookie);
    await expectSignedIn(fresh, user.userId);
    const listed = data<Session[]>(await listSessions(fresh));
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({
      current: true,
      userAgent: "AccountTest/1.0 (change)",
      ip: "127.0.0.1",
    });

    expectTrpcError(await signIn(user.email, PASSWORD), 401, "UNAUTHORIZED");
    const signedIn = await signIn(user.email, NEW_PASSWORD);
    expect(data<{ id: string }>(signedIn).id).toBe(user.userId);
    const changes = (await auditOf(user.userId)).filter((e) => e.action === "account.password_change");
    expect(changes.map((e) => e.status)).toEqual(["ok"]);
    expect(changes[0]?.request_id).toBeString();
    // Who changed it, from where: the session, its address and browser (never a password).
    expect(changes[0]).toMatchObject({
      actor_kind: "session",
      target: user.userId,
      ip: "127.0.0.1",
      user_agent: "AccountTest/1.0 (change)",
    });
  });

  test("a wrong current password: 401 UNAUTHORIZED and nothing changed", async () => {
    const user = await newUser(stack);
    const other = await anotherBrowser(user);
    const hash = await passwordHashOf(user.userId);
    const before = await sessionRows(user.userId);
    const res = await trpc(
      stack,
      "account.changePassword",
      { currentPassword: "not the password at all", newPassword: NEW_PASSWORD },
      { cookie: user.cookie },
    );
    expectTrpcError(res, 401, "UNAUTHORIZED");
    expect(setSession(res)).toBeUndefined();
    expect(await passwordHashOf(user.userId)).toBe(hash);
    expect(await sessionRows(user.userId)).toEqual(before);
    await expectSignedIn(other, user.userId);
    await expectSignedIn(user.cookie, user.userId);
    expectTrpcError(await signIn(user.email, NEW_PASSWORD), 401, "UNAUTHORIZED");
    const changes = (await auditOf(user.userId)).filter((e) => e.action === "account.password_change");
    expect(changes.map((e) => e.status)).toEqual(["UNAUTHORIZED"]);
  });

  test("bad input (sign-up's password rules, bounds, same password): 400 BAD_REQUEST, nothing changed", async () => {
    const user = await newUser(stack);
    const hash = await passwordHashOf(user.userId);
    const before = await sessionRows(user.userId);
    const inputs: unknown[] = [
      { currentPassword: PASSWORD, newPassword: "short" },
      { currentPassword: PASSWORD, newPassword: "123456789" },
      { currentPassword: PASSWORD, newPassword: "x".repeat(257) },
      { currentPassword: PASSWORD, newPassword: PASSWORD },
      { currentPassword: "", newPassword: NEW_PASSWORD },
      { currentPassword: "x".repeat(257), newPassword: NEW_PASSWORD },
      { currentPassword: PASSWORD },
      { newPassword: NEW_PASSWORD },
      { currentPassword: PASSWORD, newPassword: 1234567890 },
      null,
    ];
    for (const input of inputs) {
      const res = await trpc(stack, "account.changePassword", input, { cookie: user.cookie });
      expectTrpcError(res, 400, "BAD_REQUEST");
    }
    expect(await passwordHashOf(user.userId)).toBe(hash);
    expect(await sessionRows(user.userId)).toEqual(before);
    await expectSignedIn(user.cookie, user.userId);
  });

  test("guessing is bounded: after the budget of wrong passwords even the right one gets 429", async () => {
    const user = await newUser(stack);
    const hash = await passwordHashOf(user.userId);
    const cookie = { cookie: user.cookie };
    // The budget is shared by account.changePassword and account.delete.
    for (let i = 0; i < GUESSES; i++) {
      const path = i % 2 === 0 ? "account.changePassword" : "account.delete";
      const input =
        path === "account.delete"
          ? { password: `wrong guess ${i}` }
          : { currentPassword: `wrong guess ${i}`, newPassword: NEW_PASSWORD };
      expectTrpcError(await trpc(stack, path, input, cookie), 401, "UNAUTHORIZED");
    }
    const right = { currentPassword: PASSWORD, newPassword: NEW_PASSWORD };
    const limited = await trpc(stack, "account.changePassword", right, cookie);
    expectTrpcError(limited, 429, "RATE_LIMIT_EXCEEDED");
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expectTrpcError(
      await trpc(stack, "account.delete", { password: PASSWORD }, cookie),
      429,
      "RATE_LIMIT_EXCEEDED",
    );
    expect(await passwordHashOf(user.userId)).toBe(hash);
    await expectSignedIn(user.cookie, user.userId);
    // Another user's budget is their own.
    const other = await newUser(stack);
    const ok = await trpc(stack, "account.changePassword", right, { cookie: other.cookie });
    expect(data(ok)).toEqual({ ok: true });
  });
});

describe("account.delete", () => {
  test("revokes every instance at the edge, erases credentials, keys and sessions; the email can sign up again", async () => {
    const user = await newUser(stack);
    const other = await anotherBrowser(user);
    const apiKey = await apiKeyFor(user);
    const figmaEmail = `gone-${crypto.randomUUID()}`;
    const { instanceUrl } = await connectFigma(stack, user, figmaKeyFor(stack, figmaEmail));
    // A bystander whose account must be untouched.
    const bystander = await newUser(stack);
    const { instanceUrl: bystanderUrl } = await connectFigma(
      stack,
      bystander,
      figmaKeyFor(stack, "bystander"),
    );

    // An audit event with an address and a browser, as the audit trail records them.
    const browser = `Browser-${crypto.randomUUID()}`;
    await db().execute(sql`
      insert into audit_events (id, user_id, action, status, ip, user_agent)
      values (${`evt_${crypto.randomUUID()}`}, ${user.userId}, 'auth.sign_in', 'ok', '203.0.113.77', ${browser})`);

    // The instance works (and is now cached by the edge); the email and the upstream account are stored.
    expect(await toolsList(instanceUrl)).toBe(200);
    const [withEmail, withAccount, withBrowser] = await tablesHolding(user.email, figmaEmail, browser);
    expect(withEmail).toContain("users");
    expect(withAccount).toContain("instances");
    expect(withBrowser).toEqual(["audit_events"]);

    const res = await trpc(stack, "account.delete", { password: PASSWORD }, { cookie: user.cookie });
    expect(data(res)).toEqual({ ok: true, instancesDeleted: 1 });
    expect(setSession(res)).toBe("");

    // The edge refuses the old URL; the API key and both browsers are signed out.
    await expectInstanceDead(stack, instanceUrl);
    expectTrpcError(await trpc(stack, "instances.list", undefined, { apiKey }), 401, "UNAUTHORIZED");
    await expectSignedOut(user.cookie);
    await expectSignedOut(other);
    expectTrpcError(await signIn(user.email, PASSWORD), 401, "UNAUTHORIZED");

    // Nothing of the user is left but audit events under the opaque id, the last a tombstone.
    const d = db();
    expect(await d.select().from(users).where(eq(users.id, user.userId))).toEqual([]);
    expect(await d.select().from(credentials).where(eq(credentials.userId, user.userId))).toEqual([]);
    expect(await d.select().from(instances).where(eq(instances.userId, user.userId))).toEqual([]);
    expect(await d.select().from(apiKeys).where(eq(apiKeys.userId, user.userId))).toEqual([]);
    expect(await sessionRows(user.userId)).toEqual([]);
    expect(await tablesHolding(user.email, figmaEmail, browser)).toEqual([[], [], []]);
    const events = await auditOf(user.userId);
    expect(events.map((e) => e.action)).toContain("instance.connect");
    const tombstones = events.filter((e) => e.action === "account.delete");
    expect(tombstones.map((e) => e.status)).toEqual(["ok"]);
    expect(events.map((e) => e.action)).toContain("auth.sign_in");
    // The events stay, under the opaque id, without an address or a browser.
    for (const event of events)
      expect({ ip: event.ip, ua: event.user_agent }).toEqual({ ip: null, ua: null });

    // The bystander is untouched.
    expect(await toolsList(bystanderUrl)).toBe(200);
    await expectSignedIn(bystander.cookie, bystander.userId);

    // The email signs up again, as a new user with nothing of the old one.
    const again = await trpc(stack, "auth.signUp", { email: user.email, password: NEW_PASSWORD });
    const reborn = data<{ id: string }>(again);
    expect(reborn.id).not.toBe(user.userId);
    const cookie = setSession(again) ?? "";
    expect(data(await trpc(stack, "instances.list", undefined, { cookie }))).toEqual([]);
    await expectSignedOut(user.cookie);
    await expectInstanceDead(stack, instanceUrl);
  });

  test("a wrong password: 401 UNAUTHORIZED and nothing changed", async () => {
    const user = await newUser(stack);
    const apiKey = await apiKeyFor(user);
    const { instanceUrl } = await connectFigma(stack, user, figmaKeyFor(stack, "keeper"));
    const snapshot = async () => ({
      user: await db().select().from(users).where(eq(users.id, user.userId)),
      credentials: await db().select().from(credentials).where(eq(credentials.userId, user.userId)),
      instances: (await db().select().from(instances).where(eq(instances.userId, user.userId))).map(
        ({ lastUsedAt: _, updatedAt: __, ...row }) => row,
      ),
      apiKeys: (await db().select().from(apiKeys).where(eq(apiKeys.userId, user.userId))).map(
        ({ lastUsedAt: _, ...row }) => row,
      ),
      sessions: await sessionRows(user.userId),
    });
    const before = await snapshot();
    for (const input of [{ password: "not my password" }, { password: NEW_PASSWORD }]) {
      const res = await trpc(stack, "account.delete", input, { cookie: user.cookie });
      expectTrpcError(res, 401, "UNAUTHORIZED");
      expect(setSession(res)).toBeUndefined();
    }
    expect(await snapshot()).toEqual(before);
    expect(await toolsList(instanceUrl)).toBe(200);
    expect((await trpc(stack, "instances.list", undefined, { apiKey })).status).toBe(200);
    await expectSignedIn(user.cookie, user.userId);
    const deletes = (await auditOf(user.userId)).filter((e) => e.action === "account.delete");
    expect(deletes.map((e) => e.status)).toEqual(["UNAUTHORIZED", "UNAUTHORIZED"]);
  });

  test("bad input: 400 BAD_REQUEST and nothing changed", async () => {
    const user = await newUser(stack);
    for (const input of [{}, { password: "" }, { password: "x".repeat(257) }, { password: 12 }, null]) {
      const res = await trpc(stack, "account.delete", input, { cookie: user.cookie });
      expectTrpcError(res, 400, "BAD_REQUEST");
    }
    expect(await db().select().from(users).where(eq(users.id, user.userId))).toHaveLength(1);
    await expectSignedIn(user.cookie, user.userId);
  });
});
