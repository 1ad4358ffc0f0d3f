// Tenant isolation, secrets at rest, CSRF and URL rotation, as a black box over real HTTP (plus direct
// reads of the database to prove what is and is not stored).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { apiKeys, auditEvents, credentials, instances, sessions, users } from "@mcp/db";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import {
  type Auth,
  connectFigma,
  data,
  expectInstanceDead,
  expectRestError,
  expectTrpcError,
  figmaKeyFor,
  newUser,
  rest,
  type TestUser,
  trpc,
} from "./client.ts";
import { type Stack, startStack } from "./harness.ts";

let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.stop());

// ---------------------------------------------------------------------------------------------------
// helpers

const sha256 = (s: string) => createHash("sha256").update(s, "utf8").digest("hex");
const tokenOf = (instanceUrl: string) => new URL(instanceUrl).pathname.split("/")[1] ?? "";
const cookieSecret = (cookie: string) => cookie.slice(cookie.indexOf("=") + 1);

/** An MCP client of the current spec lists the tools and `get_me` answers as `handle`. */
async function expectInstanceWorks(instanceUrl: string, handle: string): Promise<void> {
  const client = new Client(
    { name: "security", version: "1.0.0" },
    { versionNegotiation: { mode: { pin: "2026-07-28" } } },
  );
  await client.connect(new StreamableHTTPClientTransport(new URL(instanceUrl)));
  try {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toContain("get_me");
    const me = await client.callTool({ name: "get_me", arguments: {} });
    expect(me.isError).toBeFalsy();
    const content = (me as { content: { text?: string }[] }).content;
    expect(JSON.parse(content[0]?.text ?? "{}").handle).toBe(handle);
  } finally {
    await client.close();
  }
}

interface Tenant extends TestUser {
  handle: string;
  figmaKey?: string;
  instanceId?: string;
  instanceUrl?: string;
  apiKeyId: string;
  apiKey: string;
}

/** A fresh user with an API key and, when `connect`, a Figma instance of their own. */
async function tenant(s: Stack, handle: string, connect: boolean): Promise<Tenant> {
  const user = await newUser(s);
  const created = await trpc(s, "apiKeys.create", { name: `${handle} key` }, { cookie: user.cookie });
  const { id: apiKeyId, key: apiKey } = data<{ id: string; key: string }>(created);
  if (!connect) return { ...user, handle, apiKeyId, apiKey };
  const figmaKey = figmaKeyFor(s, handle);
  const { instanceId, instanceUrl } = await connectFigma(s, user, figmaKey);
  return { ...user, handle, apiKeyId, apiKey, figmaKey, instanceId, instanceUrl };
}

const authsOf = (t: Tenant): [string, Auth][] => [
  ["cookie", { cookie: t.cookie }],
  ["API key", { apiKey: t.apiKey }],
];

/** Everything a tenant owns, as stored: to prove another tenant's calls changed none of it. */
async function rowsOf(s: Stack, userId: string) {
  const db = s.platform.deps.db;
  const mine = <T extends { userId: string }>(rows: T[]) => rows.filter((r) => r.userId === userId);
  return {
    credentials: mine(await db.select().from(credentials)),
    // Tool calls touch `lastUsedAt` (and so `updatedAt`); everything else must stay as it was.
    instances: mine(await db.select().from(instances)).map(({ lastUsedAt: _, updatedAt: __, ...row }) => row),
    apiKeys: mine(await db.select().from(apiKeys)).map(({ lastUsedAt: _, ...row }) => row),
    sessions: mine(await db.select().from(sessions)),
  };
}

// ---------------------------------------------------------------------------------------------------

describe("cross-tenant isolation", () => {
  test("tRPC: B (cookie or API key) gets 404 for A's instance on get/rotate/revoke, and a list of its own", async () => {
    const a = await tenant(stack, "alice", true);
    const b = await tenant(stack, "bob", false);
    const before = await rowsOf(stack, a.userId);
    const mark = stack.figma.requests.length;

    for (const [, auth] of authsOf(b)) {
      // Extra fields naming A's ids are refused by the schema (400): there is nothing to aim with.
      const inputs: [Record<string, unknown>, number, string][] = [
        [{ serviceType: "figma" }, 404, "NOT_FOUND"],
        [{ serviceType: "figma", userId: a.userId, instanceId: a.instanceId }, 400, "BAD_REQUEST"],
      ];
      for (const [input, status, code] of inputs) {
        for (const path of ["instances.get", "instances.rotate", "instances.revoke"]) {
          const res = await trpc(stack, path, input, auth);
          expectTrpcError(res, status, code);
          const text = JSON.stringify(res.body);
          expect(text).not.toContain(a.instanceId ?? "?");
          expect(text).not.toContain(a.userId);
        }
      }
      expect(data(await trpc(stack, "instances.list", undefined, auth))).toEqual([]);
      const me = data<{ id: string }>(await trpc(stack, "auth.me", undefined, auth));
      expect(me.id).toBe(b.userId);
    }

    expect(stack.figma.requests.length).toBe(mark);
    expect(await rowsOf(stack, a.userId)).toEqual(before);
    const got = await trpc(stack, "instances.get", { serviceType: "figma" }, { cookie: a.cookie });
    expect(data(got)).toMatchObject({ instanceId: a.instanceId, status: "active", isActive: true });
    await expectInstanceWorks(a.instanceUrl ?? "", a.handle);
  });

  test("REST: B gets 404 for GET/DELETE /services/figma/instance and only its own /user/instances", async () => {
    const a = await tenant(stack, "alice", true);
    const b = await tenant(stack, "bob", false);
    const before = await rowsOf(stack, a.userId);

    for (const [, auth] of authsOf(b)) {
      for (const method of ["GET", "DELETE"]) {
        const res = await rest(stack, method, "/services/figma/instance", { auth });
        expectRestError(res, 404, "NOT_FOUND");
        expect(JSON.stringify(res.body)).not.toContain(a.instanceId ?? "?");
      }
      const listed = await rest(stack, "GET", "/user/instances", { auth });
      expect(listed).toMatchObject({ status: 200, body: { instances: [] } });
    }

    expect(await rowsOf(stack, a.userId)).toEqual(before);
    const mine = await rest(stack, "GET", "/services/figma/instance", { auth: { apiKey: a.apiKey } });
    expect(mine).toMatchObject({ status: 200, body: { instanceId: a.instanceId, isActive: true } });
    await expectInstanceWorks(a.instanceUrl ?? "", a.handle);
  });

  test("API keys: B cannot see or revoke A's key (404), and A's key keeps working", async () => {
    const a = await tenant(stack, "alice", true);
    const b = await tenant(stack, "bob", false);

    const listed = data<{ id: string }[]>(await trpc(stack, "apiKeys.list", undefined, { cookie: b.cookie }));
    expect(listed.map((k) => k.id)).toEqual([b.apiKeyId]);
    expectTrpcError(
      await trpc(stack, "apiKeys.revoke", { id: a.apiKeyId }, { cookie: b.cookie }),
      404,
      "NOT_FOUND",
    );
    // With an API key, B gets no further than the session check.
    expectTrpcError(
      await trpc(stack, "apiKeys.revoke", { id: a.apiKeyId }, { apiKey: b.apiKey }),
      403,
      "FORBIDDEN",
    );

    const aList = data<{ instanceId: string }[]>(
      await trpc(stack, "instances.list", undefined, { apiKey: a.apiKey }),
    );
    expect(aList.map((i) => i.instanceId)).toEqual([a.instanceId ?? ""]);
    const aKeys = data<{ id: string }[]>(await trpc(stack, "apiKeys.list", undefined, { cookie: a.cookie }));
    expect(aKeys.map((k) => k.id)).toEqual([a.apiKeyId]);
    // B's own key was not touched by its failed attempts either.
    expect((await trpc(stack, "instances.list", undefined, { apiKey: b.apiKey })).status).toBe(200);
  });

  test("two connected tenants each see, rotate and revoke only their own instance", async () => {
    const a = await tenant(stack, "alice", true);
    const c = await tenant(stack, "carol", true);
    expect(c.instanceId).not.toBe(a.instanceId);
    const aBefore = await rowsOf(stack, a.userId);

    for (const [, auth] of authsOf(c)) {
      const listed = data<{ instanceId: string }[]>(await trpc(stack, "instances.list", undefined, auth));
      expect(listed.map((i) => i.instanceId)).toEqual([c.instanceId ?? ""]);
      const got = data<{ instanceId: string }>(
        await trpc(stack, "instances.get", { serviceType: "figma" }, auth),
      );
      expect(got.instanceId).toBe(c.instanceId ?? "");
      const viaRest = await rest(stack, "GET", "/user/instances", { auth });
      expect((viaRest.body.instances as { instanceId: string }[]).map((i) => i.instanceId)).toEqual([
        c.instanceId ?? "",
      ]);
    }

    const rotated = data<{ instanceId: string; instanceUrl: string }>(
      await trpc(stack, "instances.rotate", { serviceType: "figma" }, { apiKey: c.apiKey }),
    );
    expect(rotated.instanceId).toBe(c.instanceId ?? "");
    await expectInstanceWorks(rotated.instanceUrl, c.handle);
    await expectInstanceWorks(a.instanceUrl ?? "", a.handle);

    const revoked = await rest(stack, "DELETE", "/services/figma/instance", { auth: { cookie: c.cookie } });
    expect(revoked).toMatchObject({ status: 200, body: { instanceId: c.instanceId } });
    await expectInstanceDead(stack, rotated.instanceUrl);
    expect(await rowsOf(stack, a.userId)).toEqual(aBefore);
    await expectInstanceWorks(a.instanceUrl ?? "", a.handle);
  });

  test("credentials are not interchangeable: an instance token is no API key and vice versa", async () => {
    const a = await tenant(stack, "alice", true);
    const token = tokenOf(a.instanceUrl ?? "");
    expectTrpcError(await trpc(stack, "instances.list", undefined, { apiKey: token }), 401, "UNAUTHORIZED");
    expectRestError(
      await rest(stack, "GET", "/user/instances", { auth: { apiKey: token } }),
      401,
      "UNAUTHORIZED",
    );
    await expectInstanceDead(stack, `${stack.edgeUrl}/${a.apiKey}/mcp`);
    await expectInstanceDead(stack, `${stack.edgeUrl}/${cookieSecret(a.cookie)}/mcp`);
    await expectInstanceWorks(a.instanceUrl ?? "", a.handle);
  });
});

describe("no plaintext secret at rest or in responses", () => {
  test("the Figma key, instance token, API key, session secret and password are stored only sealed or hashed", async () => {
    const password = `pw-${crypto.randomUUID()}`;
    const user = await newUser(stack, password);
    const figmaKey = figmaKeyFor(stack, "dana");
    const { instanceId, instanceUrl } = await connectFigma(stack, user, figmaKey);
    const token = tokenOf(instanceUrl);
    expect(token).toMatch(/^mcp_fig_[A-Za-z0-9_-]{43,}$/);
    const apiKey = data<{ key: string }>(
      await trpc(stack, "apiKeys.create", { name: "scan" }, { cookie: user.cookie }),
    ).key;
    const session = cookieSecret(user.cookie);
    // A tool call, so the audit trail has this user's events in it too.
    await expectInstanceWorks(instanceUrl, "dana");
    await stack.edge.deps.audit.flush();

    const db = stack.platform.deps.db;
    const tables = {
      users: await db.select().from(users),
      credentials: await db.select().from(credentials),
      instances: await db.select().from(instances),
      api_keys: await db.select().from(apiKeys),
      sessions: await db.select().from(sessions),
      audit_events: await db.select().from(auditEvents),
    };
    const secrets: Record<string, string> = {
      figmaKey,
      figmaKeyBase64: Buffer.from(figmaKey).toString("base64"),
      figmaKeyBase64url: Buffer.from(figmaKey).toString("base64url"),
      figmaKeyHex: Buffer.from(figmaKey).toString("hex"),
      figmaKeyBody: figmaKey.slice("figd_".length),
      token,
      tokenSecret: token.slice("mcp_fig_".length),
      apiKey,
      apiKeySecret: apiKey.slice("mcpsk_".length),
      session,
      password,
    };
    for (const [table, rows] of Object.entries(tables)) {
      const text = JSON.stringify(rows);
      for (const [name, secret] of Object.entries(secrets)) {
        expect({ table, name, leaked: text.includes(secret) }).toEqual({ table, name, leaked: false });
      }
    }

    const cred = tables.credentials.filter((r) => r.userId === user.userId);
    expect(cred).toHaveLength(1);
    expect(cred[0]?.ciphertext).not.toBe(figmaKey);
    expect(cred[0]?.ciphertext.length).toBeGreaterThan(figmaKey.length);
    const inst = tables.instances.filter((r) => r.userId === user.userId);
    expect(inst.map((r) => [r.id, r.tokenHash])).toEqual([[instanceId, sha256(token)]]);
    expect(inst[0]?.credentialId).toBe(cred[0]?.id ?? "");
    const keyRows = tables.api_keys.filter((r) => r.userId === user.userId);
    expect(keyRows.map((r) => r.keyHash)).toEqual([sha256(apiKey)]);
    const sessionRows = tables.sessions.filter((r) => r.userId === user.userId);
    expect(sessionRows.map((r) => r.id)).toContain(sha256(session));
    const audit = tables.audit_events.filter((r) => r.userId === user.userId);
    expect(audit).toContainEqual(
      expect.objectContaining({ instanceId, action: "tool.call", tool: "get_me" }),
    );
  });

  test("responses of instances.list/get, apiKeys.list and their REST twins hold neither key nor token", async () => {
    const user = await newUser(stack);
    const figmaKey = figmaKeyFor(stack, "erin");
    const { instanceUrl } = await connectFigma(stack, user, figmaKey);
    const token = tokenOf(instanceUrl);
    const apiKey = data<{ key: string }>(
      await trpc(stack, "apiKeys.create", { name: "read" }, { cookie: user.cookie }),
    ).key;
    const answers: unknown[] = [];
    for (const auth of [{ cookie: user.cookie }, { apiKey }]) {
      answers.push(
        (await trpc(stack, "instances.list", undefined, auth)).body,
        (await trpc(stack, "instances.get", { serviceType: "figma" }, auth)).body,
        (await trpc(stack, "apiKeys.list", undefined, { cookie: user.cookie })).body,
        (await trpc(stack, "auth.me", undefined, auth)).body,
        (await rest(stack, "GET", "/user/instances", { auth })).body,
        (await rest(stack, "GET", "/services/figma/instance", { auth })).body,
      );
    }
    const text = JSON.stringify(answers);
    for (const secret of [
      figmaKey,
      token,
      token.slice("mcp_fig_".length),
      apiKey,
      apiKey.slice(6),
      cookieSecret(user.cookie),
    ]) {
      expect(text.includes(secret)).toBe(false);
    }
    expect(text).not.toContain(sha256(token));
    expect(text).not.toContain(sha256(apiKey));
  });
});

describe("CSRF: cookie-borne state changes from a foreign Origin", () => {
  for (const origin of ["https://evil.example", "null", "http://127.0.0.1.evil.example"]) {
    test(`Origin ${origin} → 403 FORBIDDEN on every mutation and REST write; nothing changes`, async () => {
      const a = await tenant(stack, "frank", true);
      const before = await rowsOf(stack, a.userId);
      const mark = stack.figma.requests.length;
      const newKey = figmaKeyFor(stack, "frank-2");

      const mutations: [string, unknown][] = [
        ["instances.connect", { serviceType: "figma", apiKey: newKey }],
        ["instances.rotate", { serviceType: "figma" }],
        ["instances.revoke", { serviceType: "figma" }],
        ["apiKeys.create", { name: "planted" }],
        ["apiKeys.revoke", { id: a.apiKeyId }],
        ["auth.signOut", undefined],
        ["auth.signIn", { email: a.email, password: "correct horse battery" }],
        [
          "auth.signUp",
          { email: `csrf-${crypto.randomUUID()}@example.test`, password: "correct horse battery" },
        ],
      ];
      for (const [path, input] of mutations) {
        const res = await trpc(stack, path, input, { cookie: a.cookie, origin });
        expectTrpcError(res, 403, "FORBIDDEN");
        expect(res.headers.get("set-cookie")).toBeNull();
      }
      for (const [method, path, body] of [
        ["POST", "/services/figma/authenticate", { apiKey: newKey }],
        ["DELETE", "/services/figma/instance", undefined],
      ] as const) {
        expectRestError(
          await rest(stack, method, path, { body, auth: { cookie: a.cookie }, origin }),
          403,
          "FORBIDDEN",
        );
      }

      expect(stack.figma.requests.length).toBe(mark);
      expect(await rowsOf(stack, a.userId)).toEqual(before);
      expect(data<{ id: string }>(await trpc(stack, "auth.me", undefined, { cookie: a.cookie })).id).toBe(
        a.userId,
      );
      await expectInstanceWorks(a.instanceUrl ?? "", a.handle);
    });
  }

  test("cross-origin reads get no CORS grant; same-origin writes and API-key writes go through", async () => {
    const a = await tenant(stack, "gina", true);
    const read = await trpc(stack, "instances.list", undefined, {
      cookie: a.cookie,
      origin: "https://evil.example",
    });
    expect(read.headers.get("access-control-allow-origin")).toBeNull();
    expect(read.headers.get("access-control-allow-credentials")).toBeNull();

    const same = await trpc(
      stack,
      "apiKeys.create",
      { name: "same origin" },
      { cookie: a.cookie, origin: stack.controlPlaneUrl },
    );
    expect(same.status).toBe(200);
    // A bearer key is not sent by browsers on their own, so it is not subject to the Origin check.
    const viaKey = await trpc(
      stack,
      "instances.rotate",
      { serviceType: "figma" },
      { authorization: `Bearer ${a.apiKey}`, origin: "https://evil.example" },
    );
    expect(viaKey.status).toBe(200);
  });
});

describe("rotation", () => {
  test("rotate issues a new working URL; the old one answers 401 at once; a REST reconnect keeps the URL", async () => {
    const a = await tenant(stack, "hank", true);
    const first = a.instanceUrl ?? "";
    await expectInstanceWorks(first, a.handle);

    const rotated = data<{ instanceId: string; instanceUrl: string; serviceType: string }>(
      await trpc(stack, "instances.rotate", { serviceType: "figma" }, { cookie: a.cookie }),
    );
    expect(rotated).toMatchObject({ instanceId: a.instanceId, serviceType: "figma" });
    expect(rotated.instanceUrl).not.toBe(first);
    await expectInstanceDead(stack, first);
    await expectInstanceWorks(rotated.instanceUrl, a.handle);
    const hash = (await rowsOf(stack, a.userId)).instances[0]?.tokenHash;
    expect(hash).toBe(sha256(tokenOf(rotated.instanceUrl)));

    // Reconnecting over REST replaces the key in place: same instance, same (rotated) URL.
    const again = await rest(stack, "POST", "/services/figma/authenticate", {
      body: { apiKey: a.figmaKey },
      auth: { apiKey: a.apiKey },
    });
    expect(again).toMatchObject({ status: 200, body: { instanceId: a.instanceId } });
    const third = String(again.body.instanceUrl);
    expect(third).toBe(rotated.instanceUrl);
    await expectInstanceWorks(third, a.handle);

    // After revoke, rotate is a 404 and the URL is dead.
    expect(
      (await trpc(stack, "instances.revoke", { serviceType: "figma" }, { cookie: a.cookie })).status,
    ).toBe(200);
    expectTrpcError(
      await trpc(stack, "instances.rotate", { serviceType: "figma" }, { cookie: a.cookie }),
      404,
      "NOT_FOUND",
    );
    await expectInstanceDead(stack, third);
  });
});
