// Integrator API keys over real HTTP: every tRPC procedure (read from the router itself, so a procedure
// without a declared gate fails here) and every REST route, called with a key lacking the scope it needs
// (403 FORBIDDEN, nothing changed), with a key holding exactly that scope (works), and with expired and
// revoked keys (401 UNAUTHORIZED); the scopes/expiry input of `apiKeys.create`; `lastUsedAt`; cross-tenant.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ControlPlaneDeps, createApp } from "@mcp/control-plane";
import { appRouter } from "@mcp/control-plane/router";
import { API_KEY_SCOPES, type ApiKeyScope, newId, personalOrgOf } from "@mcp/core";
import { hashToken, mintApiKey } from "@mcp/crypto";
import { apiKeys, credentials, instances, sessions, users } from "@mcp/db";
import { SESSION_ONLY } from "@mcp/sdk";
import { eq } from "drizzle-orm";
import {
  type Auth,
  connectFigma,
  data,
  expectInstanceDead,
  expectRestError,
  expectTrpcError,
  figmaKeyFor,
  newUser,
  type RestAnswer,
  rest,
  type TestUser,
  type TrpcAnswer,
  trpc,
} from "./client.ts";
import { type RemoteMcp, startRemoteMcp } from "./fakes/remote-mcp.ts";
import { type Stack, startStack } from "./harness.ts";

let stack: Stack;
let remote: RemoteMcp;

beforeAll(async () => {
  [stack, remote] = await Promise.all([startStack({ allowPrivateUpstreams: true }), startRemoteMcp()]);
});
afterAll(async () => {
  await Promise.all([stack?.stop(), remote?.stop()]);
});

const PASSWORD = "correct horse battery";
/** Emails of the accounts this file signs up through keys, so what a call created can be counted on a shared database. */
const RUN = `keys-${crypto.randomUUID().slice(0, 8)}`;
const newEmail = () => `${RUN}-${crypto.randomUUID()}@example.test`;
const signedUpHere = async () =>
  (await stack.platform.deps.db.select({ email: users.email }).from(users)).filter((u) =>
    u.email.startsWith(`${RUN}-`),
  ).length;

// ---------------------------------------------------------------------------------------------------
// a world to act in: a user with a live Figma instance, and keys made from its session

interface World {
  user: TestUser;
  /** The upstream Figma account: a new key of it (`figmaKeyFor`) reconnects the same account. */
  account: string;
  instanceId: string;
  instanceUrl: string;
  /** For organisation procedures: a shared organisation the user owns, with a second member. */
  org?: OrgWorld;
}

interface OrgWorld {
  orgId: string;
  member: TestUser;
  /** The member's Figma instance in the organisation. */
  memberInstanceId: string;
  memberInstanceUrl: string;
  /** A pending invitation. */
  invitationId: string;
}

interface CreatedKey {
  id: string;
  key: string;
  name: string;
  prefix: string;
  scopes: ApiKeyScope[];
  expiresAt: string | null;
  createdAt: string;
}

async function world(): Promise<World> {
  const user = await newUser(stack, PASSWORD);
  const account = `acct-${crypto.randomUUID()}`;
  const issued = await connectFigma(stack, user, figmaKeyFor(stack, account));
  return { user, account, ...issued };
}

/** A world whose user also owns a shared organisation with a second member, their instance and an invitation. */
async function orgWorld(): Promise<World> {
  const w = await world();
  const owner = { cookie: w.user.cookie };
  const { orgId } = data<{ orgId: string }>(await trpc(stack, "orgs.create", { name: "Acme" }, owner));
  const invite = async () =>
    data<{ invitationId: string; token: string }>(
      await trpc(stack, "orgs.invite", { orgId, role: "member" }, owner),
    );
  const joining = await invite();
  const member = await newUser(stack, PASSWORD);
  data(
    await trpc(stack, "orgs.acceptInvitation", { orgId, token: joining.token }, { cookie: member.cookie }),
  );
  const issued = await connectFigma(stack, member, figmaKeyFor(stack, `m-${crypto.randomUUID()}`), orgId);
  const pending = await invite();
  return {
    ...w,
    org: {
      orgId,
      member,
      memberInstanceId: issued.instanceId,
      memberInstanceUrl: issued.instanceUrl,
      invitationId: pending.invitationId,
    },
  };
}

/** The case's organisation; ids of none for a plain world (calls that must be refused before any lookup). */
const orgOf = (w: World): OrgWorld =>
  w.org ?? {
    orgId: "org_none",
    member: { email: "none@example.test", cookie: "", userId: "usr_none" },
    memberInstanceId: "ins_none",
    memberInstanceUrl: "",
    invitationId: "inv_none",
  };

/** The world a case acts in: with an organisation for the organisation procedures. */
const worldFor = (c?: ProcedureCase) => (c?.org ? orgWorld() : world());

async function keyFor(
  user: TestUser,
  scopes?: readonly ApiKeyScope[],
  expiresAt?: string,
  /** The organisation the key is bound to (made with X-Org-Id); the personal one when omitted. */
  orgId?: string,
): Promise<CreatedKey> {
  const input = { name: "integrator", ...(scopes && { scopes }), ...(expiresAt && { expiresAt }) };
  return data<CreatedKey>(await trpc(stack, "apiKeys.create", input, { cookie: user.cookie, orgId }));
}

const allBut = (scope: ApiKeyScope) => API_KEY_SCOPES.filter((s) => s !== scope);

/** Everything a call could have changed for the user: rows (times that mere use moves aside) and the session's view. */
async function snapshot(user: TestUser) {
  const db = stack.platform.deps.db;
  const byId = <T extends { id: string }>(rows: T[]) => rows.sort((a, b) => a.id.localeCompare(b.id));
  const [insts, creds, keys, sess, account] = await Promise.all([
    db.select().from(instances).where(eq(instances.userId, user.userId)),
    db.select().from(credentials).where(eq(credentials.userId, user.userId)),
    db.select().from(apiKeys).where(eq(apiKeys.userId, user.userId)),
    db.select({ id: sessions.id }).from(sessions).where(eq(sessions.userId, user.userId)),
    db.select().from(users).where(eq(users.id, user.userId)),
  ]);
  const listed = data(await trpc(stack, "instances.list", undefined, { cookie: user.cookie }));
  return {
    insts: byId(insts),
    creds: byId(creds),
    keys: byId(keys.map(({ lastUsedAt: _, updatedAt: __, ...k }) => k)),
    sessions: byId(sess),
    account,
    listed,
  };
}

/** Requests the fake upstreams (Figma, the custom MCP server) have seen so far. */
const upstreamMark = () => stack.figma.requests.length + remote.requests.length;

// ---------------------------------------------------------------------------------------------------
// the gate of every procedure

/** `public`: anyone, any key; `session`: a signed-in person only, never a key; else the scope a key needs. */
type Gate = ApiKeyScope | "public" | "session";

interface ProcedureCase {
  gate: Gate;
  /** A valid input in `w`, sent with `key`. */
  input?: (w: World, key: CreatedKey) => unknown;
  /** What a successful call must have done; without it a 200 is enough. */
  check?: (w: World, res: TrpcAnswer) => Promise<void> | void;
  /** Runs in an organisation world (`orgWorld`), with keys bound to its shared organisation. */
  org?: boolean;
}

const PROCEDURES: Record<string, ProcedureCase> = {
  "auth.signUp": {
    gate: "public",
    input: () => ({ email: newEmail(), password: PASSWORD }),
  },
  "auth.signIn": { gate: "public", input: (w) => ({ email: w.user.email, password: PASSWORD }) },
  "auth.signOut": { gate: "public" },
  "auth.me": { gate: "public", check: (w, res) => expect(data<{ id: string }>(res).id).toBe(w.user.userId) },
  "apiKeys.create": { gate: "session", input: () => ({ name: "minted by a key" }) },
  "apiKeys.list": { gate: "session" },
  "apiKeys.revoke": { gate: "session", input: (_, key) => ({ id: key.id }) },
  "services.list": { gate: "public" },
  "services.health": { gate: "public", input: () => ({ serviceType: "figma" }) },
  "instances.connect": {
    gate: "instances:write",
    input: (w) => ({ serviceType: "figma", apiKey: figmaKeyFor(stack, w.account) }),
    check: (w, res) => expect(data<{ instanceId: string }>(res).instanceId).toBe(w.instanceId),
  },
  "instances.connectCustom": {
    gate: "instances:write",
    input: () => ({ name: "my server", url: remote.url }),
    check: async (w) => {
      const listed = data<{ serviceType: string }[]>(
        await trpc(stack, "instances.list", undefined, { cookie: w.user.cookie }),
      );
      expect(listed.map((i) => i.serviceType).sort()).toEqual(["custom", "figma"]);
    },
  },
  "instances.updateCredentials": {
    gate: "instances:write",
    input: (w) => ({ serviceType: "figma", apiKey: figmaKeyFor(stack, w.account) }),
    check: (w, res) => expect(data(res)).toMatchObject({ instanceId: w.instanceId, status: "active" }),
  },
  "instances.list": {
    gate: "instances:read",
    check: (w, res) =>
      expect(data<{ instanceId: string }[]>(res).map((i) => i.instanceId)).toEqual([w.instanceId]),
  },
  "instances.get": {
    gate: "instances:read",
    input: () => ({ serviceType: "figma" }),
    check: (w, res) => expect(data(res)).toMatchObject({ instanceId: w.instanceId, status: "active" }),
  },
  "instances.rotate": {
    gate: "instances:write",
    input: () => ({ serviceType: "figma" }),
    check: async (w, res) => {
      expect(data<{ instanceUrl: string }>(res).instanceUrl).not.toBe(w.instanceUrl);
      await expectInstanceDead(stack, w.instanceUrl);
    },
  },
  "instances.revoke": {
    gate: "instances:write",
    input: () => ({ serviceType: "figma" }),
    check: async (w) => {
      const got = await trpc(stack, "instances.get", { serviceType: "figma" }, { cookie: w.user.cookie });
      expect(data(got)).toMatchObject({ status: "revoked", isActive: false });
      await expectInstanceDead(stack, w.instanceUrl);
    },
  },
  "instances.delete": {
    gate: "instances:write",
    input: () => ({ serviceType: "figma" }),
    check: async (w, res) => {
      expect(data(res)).toEqual({ instanceId: w.instanceId });
      const got = await trpc(stack, "instances.get", { serviceType: "figma" }, { cookie: w.user.cookie });
      expectTrpcError(got, 404, "NOT_FOUND");
      await expectInstanceDead(stack, w.instanceUrl);
    },
  },
  "instances.updateSettings": {
    gate: "instances:write",
    input: () => ({ serviceType: "figma", readOnly: true }),
    check: (w, res) => expect(data(res)).toMatchObject({ instanceId: w.instanceId, readOnly: true }),
  },
  // Other modules' procedures, checked when they exist (see the coverage test).
  "audit.list": {
    gate: "audit:read",
    input: () => ({}),
    check: (_, res) => expect(data(res)).toMatchObject({ items: expect.any(Array) }),
  },
  "usage.summary": {
    gate: "usage:read",
    input: () => ({
      from: new Date(Date.now() - 86_400_000).toISOString(),
      to: new Date().toISOString(),
      groupBy: "day",
    }),
    check: (_, res) => expect(data(res)).toMatchObject({ groupBy: "day", groups: expect.any(Array) }),
  },
  "account.changePassword": {
    gate: "session",
    input: () => ({ currentPassword: PASSWORD, newPassword: "another horse battery" }),
  },
  "account.sessions": { gate: "session" },
  "account.revokeSession": { gate: "session", input: () => ({ id: "ses_doesnotmatter" }) },
  "account.signOutEverywhere": { gate: "session" },
  "account.delete": { gate: "session", input: () => ({ password: PASSWORD }) },
  "orgs.list": {
    gate: "org:admin",
    org: true,
    // A key sees only the organisation it is bound to.
    check: (w, res) => expect(data<{ orgId: string }[]>(res).map((o) => o.orgId)).toEqual([orgOf(w).orgId]),
  },
  "orgs.create": { gate: "session", input: () => ({ name: "Made by a key" }) },
  "orgs.members": {
    gate: "org:admin",
    org: true,
    input: (w) => ({ orgId: orgOf(w).orgId }),
    check: (w, res) =>
      expect(data<{ userId: string }[]>(res).map((m) => m.userId)).toEqual([
        w.user.userId,
        orgOf(w).member.userId,
      ]),
  },
  "orgs.invite": {
    gate: "org:admin",
    org: true,
    input: (w) => ({ orgId: orgOf(w).orgId, role: "member" }),
    check: (_, res) => expect(data<{ token: string }>(res).token).toMatch(/^inv_/),
  },
  "orgs.invitations": {
    gate: "org:admin",
    org: true,
    input: (w) => ({ orgId: orgOf(w).orgId }),
    check: (w, res) =>
      expect(data<{ invitationId: string }[]>(res).map((i) => i.invitationId)).toContain(
        orgOf(w).invitationId,
      ),
  },
  "orgs.revokeInvitation": {
    gate: "org:admin",
    org: true,
    input: (w) => ({ orgId: orgOf(w).orgId, invitationId: orgOf(w).invitationId }),
  },
  "orgs.acceptInvitation": {
    gate: "session",
    input: (w) => ({ orgId: w.org?.orgId ?? "org_none", token: `inv_${"x".repeat(43)}` }),
  },
  "orgs.setRole": {
    gate: "org:admin",
    org: true,
    input: (w) => ({ orgId: orgOf(w).orgId, userId: orgOf(w).member.userId, role: "admin" }),
    check: (_, res) => expect(data<{ role: string }>(res).role).toBe("admin"),
  },
  "orgs.removeMember": {
    gate: "org:admin",
    org: true,
    input: (w) => ({ orgId: orgOf(w).orgId, userId: orgOf(w).member.userId }),
    check: (w) => expectInstanceDead(stack, orgOf(w).memberInstanceUrl),
  },
  "orgs.leave": { gate: "session", input: (w) => ({ orgId: w.org?.orgId ?? "org_none" }) },
  "orgs.memberInstances": {
    gate: "org:admin",
    org: true,
    input: (w) => ({ orgId: orgOf(w).orgId }),
    check: (w, res) =>
      expect(data<{ instanceId: string }[]>(res).map((i) => i.instanceId)).toEqual([
        orgOf(w).memberInstanceId,
      ]),
  },
  "orgs.revokeMemberInstance": {
    gate: "org:admin",
    org: true,
    input: (w) => ({ orgId: orgOf(w).orgId, instanceId: orgOf(w).memberInstanceId }),
    check: (w) => expectInstanceDead(stack, orgOf(w).memberInstanceUrl),
  },
};

/** Entries for procedures other modules add; they may be absent from this build. */
const OPTIONAL_PREFIXES = ["audit.", "usage.", "orgs.", "account."];

const routerProcedures = appRouter._def.procedures as unknown as Record<string, { _def: { type: string } }>;
const PRESENT = Object.keys(routerProcedures);
const present = Object.entries(PROCEDURES).filter(([path]) => PRESENT.includes(path));
const isScope = (gate: Gate): gate is ApiKeyScope => gate !== "public" && gate !== "session";

function call(path: string, input: unknown, auth: Auth): Promise<TrpcAnswer> {
  const method = routerProcedures[path]?._def.type === "query" ? "GET" : "POST";
  return trpc(stack, path, input, { ...auth, method });
}

describe("every procedure declares its gate", () => {
  test("each procedure of the router is in the table; the table names no other procedure", () => {
    expect(PRESENT.filter((path) => !(path in PROCEDURES))).toEqual([]);
    const stale = Object.keys(PROCEDURES).filter(
      (path) => !PRESENT.includes(path) && !OPTIONAL_PREFIXES.some((p) => path.startsWith(p)),
    );
    expect(stale).toEqual([]);
    // The instance procedures this platform has always had are all gated.
    expect(present.map(([path]) => path)).toContain("instances.connect");
    expect(present.filter(([, c]) => isScope(c.gate)).length).toBeGreaterThanOrEqual(7);
  });

  test("the SDK leaves out of its type exactly the procedures gated to a session here (each checked 403 below)", () => {
    const covered = (path: string) => SESSION_ONLY.some((p) => path === p || path.startsWith(`${p}.`));
    const sessionOnly = present.filter(([, c]) => c.gate === "session").map(([path]) => path);
    expect(PRESENT.filter(covered).sort()).toEqual(sessionOnly.sort());
  });
});

describe("a key without the needed scope → 403 FORBIDDEN before anything runs", () => {
  for (const [path, c] of present.filter(([, c]) => c.gate !== "public")) {
    const held = isScope(c.gate) ? allBut(c.gate) : API_KEY_SCOPES;
    test(`${path} (needs ${c.gate}; key holds ${held.join(", ")})`, async () => {
      const w = await worldFor(c);
      const key = await keyFor(w.user, held, undefined, w.org?.orgId);
      const before = await snapshot(w.user);
      const mark = upstreamMark();
      const res = await call(path, c.input?.(w, key), { apiKey: key.key });
      expectTrpcError(res, 403, "FORBIDDEN");
      expect(res.body.error?.message).not.toContain(key.key);
      expect(upstreamMark()).toBe(mark);
      expect(await snapshot(w.user)).toEqual(before);
      // The key itself still works for what it holds.
      const ok = await trpc(stack, "auth.me", undefined, { apiKey: key.key });
      // It says what it is: a key, bound to its organisation, with the scopes it holds.
      expect(data(ok)).toMatchObject({
        id: w.user.userId,
        via: "api_key",
        orgId: w.org?.orgId ?? expect.stringMatching(/^org_/),
        scopes: [...held],
      });
    });
  }
});

describe("a key holding exactly the needed scope works", () => {
  for (const [path, c] of present.filter(([, c]) => isScope(c.gate))) {
    test(`${path} with only ${c.gate}`, async () => {
      const w = await worldFor(c);
      const key = await keyFor(w.user, [c.gate as ApiKeyScope], undefined, w.org?.orgId);
      const res = await call(path, c.input?.(w, key), { apiKey: key.key });
      expect(res.status).toBe(200);
      await c.check?.(w, res);
    });
  }

  for (const [path, c] of present.filter(([, c]) => c.gate === "public")) {
    test(`${path} (public) with a key of one unrelated scope`, async () => {
      const w = await world();
      const key = await keyFor(w.user, ["usage:read"]);
      const res = await call(path, c.input?.(w, key), { apiKey: key.key });
      expect(res.status).toBe(200);
      await c.check?.(w, res);
    });
  }

  test("a session is not limited by scopes: it reaches every scoped procedure", async () => {
    const w = await world();
    for (const path of ["instances.list", "instances.get", "instances.rotate"]) {
      const c = PROCEDURES[path];
      expect((await call(path, c?.input?.(w, {} as CreatedKey), { cookie: w.user.cookie })).status).toBe(200);
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// REST: the routes call the procedures through a caller, so the gate is the procedure's

interface RouteCase {
  /** The procedure the route calls: its gate is the route's. */
  procedure?: string;
  /** A route that calls no procedure declares its gate itself. */
  gate?: Gate;
  /** The path sent (under /api/v1), for `w` and the key `key` making the call. */
  path: string | ((w: World, key: CreatedKey) => string);
  body?: (w: World) => unknown;
  check?: (w: World, res: RestAnswer) => Promise<void> | void;
  /** Added by another module; may be absent from this build. */
  optional?: boolean;
}

const ROUTES: Record<string, RouteCase> = {
  "GET /api/v1/services": { procedure: "services.list", path: "/services" },
  "GET /api/v1/services/:serviceType/health": {
    procedure: "services.health",
    path: "/services/figma/health",
  },
  "POST /api/v1/services/:serviceType/authenticate": {
    procedure: "instances.connect",
    path: "/services/figma/authenticate",
    body: (w) => ({ apiKey: figmaKeyFor(stack, w.account) }),
    check: (w, res) => expect(res.body.instanceId).toBe(w.instanceId),
  },
  "PUT /api/v1/services/:serviceType/credentials": {
    procedure: "instances.updateCredentials",
    path: "/services/figma/credentials",
    body: (w) => ({ apiKey: figmaKeyFor(stack, w.account) }),
    check: (w, res) => expect(res.body).toMatchObject({ instanceId: w.instanceId, status: "active" }),
  },
  "GET /api/v1/services/:serviceType/instance": {
    procedure: "instances.get",
    path: "/services/figma/instance",
    check: (w, res) => expect(res.body).toMatchObject({ instanceId: w.instanceId, isActive: true }),
  },
  "DELETE /api/v1/services/:serviceType/instance": {
    procedure: "instances.revoke",
    path: "/services/figma/instance",
    check: (w) => expectInstanceDead(stack, w.instanceUrl),
  },
  "POST /api/v1/services/:serviceType/instance/delete": {
    procedure: "instances.delete",
    path: "/services/figma/instance/delete",
    check: async (w, res) => {
      expect(res.body.instanceId).toBe(w.instanceId);
      const got = await trpc(stack, "instances.get", { serviceType: "figma" }, { cookie: w.user.cookie });
      expectTrpcError(got, 404, "NOT_FOUND");
      await expectInstanceDead(stack, w.instanceUrl);
    },
  },
  "PATCH /api/v1/services/:serviceType/instance/settings": {
    procedure: "instances.updateSettings",
    path: "/services/figma/instance/settings",
    body: () => ({ readOnly: true }),
    check: (w, res) => expect(res.body).toMatchObject({ instanceId: w.instanceId, readOnly: true }),
  },
  "GET /api/v1/user/instances": {
    procedure: "instances.list",
    path: "/user/instances",
    check: (w, res) =>
      expect(res.body.instances).toEqual([expect.objectContaining({ instanceId: w.instanceId })]),
  },
  // The REST twins of every procedure and the OpenAPI document (another module's; names as it chose them).
  "POST /api/v1/services/:serviceType/instance/rotate": {
    procedure: "instances.rotate",
    path: "/services/figma/instance/rotate",
    check: (w) => expectInstanceDead(stack, w.instanceUrl),
    optional: true,
  },
  "POST /api/v1/instances/custom": {
    procedure: "instances.connectCustom",
    path: "/instances/custom",
    body: () => ({ name: "my server", url: remote.url }),
    check: (_, res) => expect(res.body.serviceType).toBe("custom"),
    optional: true,
  },
  "GET /api/v1/api-keys": { procedure: "apiKeys.list", path: "/api-keys", optional: true },
  "POST /api/v1/api-keys": {
    procedure: "apiKeys.create",
    path: "/api-keys",
    body: () => ({ name: "minted by a key" }),
    optional: true,
  },
  "DELETE /api/v1/api-keys/:id": {
    procedure: "apiKeys.revoke",
    path: (_, key) => `/api-keys/${key.id}`,
    optional: true,
  },
  "POST /api/v1/auth/sign-up": {
    procedure: "auth.signUp",
    path: "/auth/sign-up",
    body: () => ({ email: newEmail(), password: PASSWORD }),
    optional: true,
  },
  "POST /api/v1/auth/sign-in": {
    procedure: "auth.signIn",
    path: "/auth/sign-in",
    body: (w) => ({ email: w.user.email, password: PASSWORD }),
    optional: true,
  },
  "POST /api/v1/auth/sign-out": { procedure: "auth.signOut", path: "/auth/sign-out", optional: true },
  "GET /api/v1/auth/me": {
    procedure: "auth.me",
    path: "/auth/me",
    check: (w, res) => expect(JSON.stringify(res.body)).toContain(w.user.userId),
    optional: true,
  },
  "PUT /api/v1/account/password": {
    procedure: "account.changePassword",
    path: "/account/password",
    body: () => ({ currentPassword: PASSWORD, newPassword: "another horse battery" }),
    optional: true,
  },
  "GET /api/v1/account/sessions": {
    procedure: "account.sessions",
    path: "/account/sessions",
    optional: true,
  },
  "DELETE /api/v1/account/sessions/:id": {
    procedure: "account.revokeSession",
    path: "/account/sessions/ses_doesnotmatter",
    optional: true,
  },
  "POST /api/v1/account/sign-out-everywhere": {
    procedure: "account.signOutEverywhere",
    path: "/account/sign-out-everywhere",
    optional: true,
  },
  "POST /api/v1/account/delete": {
    procedure: "account.delete",
    path: "/account/delete",
    body: () => ({ password: PASSWORD }),
    optional: true,
  },
  "GET /api/v1/audit": {
    procedure: "audit.list",
    path: "/audit",
    check: (_, res) => expect(res.body.items).toBeArray(),
    optional: true,
  },
  "GET /api/v1/usage": {
    procedure: "usage.summary",
    path: () => {
      const to = new Date();
      const from = new Date(to.getTime() - 86_400_000);
      return `/usage?from=${from.toISOString()}&to=${to.toISOString()}&groupBy=day`;
    },
    check: (_, res) => expect(res.body.groups).toBeArray(),
    optional: true,
  },
  "GET /api/v1/openapi.json": { gate: "public", path: "/openapi.json", optional: true },
  "GET /api/v1/orgs": { procedure: "orgs.list", path: "/orgs" },
  "POST /api/v1/orgs": { procedure: "orgs.create", path: "/orgs", body: () => ({ name: "Made by a key" }) },
  "GET /api/v1/orgs/:orgId/members": {
    procedure: "orgs.members",
    path: (w) => `/orgs/${orgOf(w).orgId}/members`,
    check: (_, res) => expect(res.body.members).toBeArrayOfSize(2),
  },
  "PUT /api/v1/orgs/:orgId/members/:userId": {
    procedure: "orgs.setRole",
    path: (w) => `/orgs/${orgOf(w).orgId}/members/${orgOf(w).member.userId}`,
    body: () => ({ role: "admin" }),
    check: (_, res) => expect(res.body.role).toBe("admin"),
  },
  "DELETE /api/v1/orgs/:orgId/members/:userId": {
    procedure: "orgs.removeMember",
    path: (w) => `/orgs/${orgOf(w).orgId}/members/${orgOf(w).member.userId}`,
    check: (w) => expectInstanceDead(stack, orgOf(w).memberInstanceUrl),
  },
  "POST /api/v1/orgs/:orgId/leave": {
    procedure: "orgs.leave",
    path: (w) => `/orgs/${w.org?.orgId ?? "org_none"}/leave`,
  },
  "POST /api/v1/orgs/:orgId/invitations": {
    procedure: "orgs.invite",
    path: (w) => `/orgs/${orgOf(w).orgId}/invitations`,
    body: () => ({ role: "member" }),
    check: (_, res) => expect(String(res.body.token)).toMatch(/^inv_/),
  },
  "GET /api/v1/orgs/:orgId/invitations": {
    procedure: "orgs.invitations",
    path: (w) => `/orgs/${orgOf(w).orgId}/invitations`,
    check: (_, res) => expect(res.body.invitations).toBeArrayOfSize(1),
  },
  "DELETE /api/v1/orgs/:orgId/invitations/:invitationId": {
    procedure: "orgs.revokeInvitation",
    path: (w) => `/orgs/${orgOf(w).orgId}/invitations/${orgOf(w).invitationId}`,
  },
  "POST /api/v1/orgs/:orgId/join": {
    procedure: "orgs.acceptInvitation",
    path: (w) => `/orgs/${w.org?.orgId ?? "org_none"}/join`,
    body: () => ({ token: `inv_${"x".repeat(43)}` }),
  },
  "GET /api/v1/orgs/:orgId/instances": {
    procedure: "orgs.memberInstances",
    path: (w) => `/orgs/${orgOf(w).orgId}/instances`,
    check: (w, res) => expect(JSON.stringify(res.body)).toContain(orgOf(w).memberInstanceId),
  },
  "DELETE /api/v1/orgs/:orgId/instances/:instanceId": {
    procedure: "orgs.revokeMemberInstance",
    path: (w) => `/orgs/${orgOf(w).orgId}/instances/${orgOf(w).memberInstanceId}`,
    check: (w) => expectInstanceDead(stack, orgOf(w).memberInstanceUrl),
  },
};

/**
 * Every REST route the app serves under /api/v1, as `METHOD /api/v1/path`. Building the app only registers
 * routes (its deps are read per request), so this runs at load time and other modules' routes that are absent
 * from this build are skipped, not passed.
 */
const SERVED = [
  ...new Set(
    createApp({ allowedOrigins: [] } as unknown as ControlPlaneDeps)
      .routes.filter((r) => r.path.startsWith("/api/v1/") && r.method !== "ALL")
      .map((r) => `${r.method} ${r.path}`),
  ),
];

const gateOf = (route: RouteCase): Gate | undefined =>
  route.gate ?? (route.procedure ? PROCEDURES[route.procedure]?.gate : undefined);

/** Calls route `name` (`METHOD /api/v1/path`) with `key`; a route missing from the table gets `figma` for its parameters. */
function restCall(name: string, key: CreatedKey, w: World, cookie?: string): Promise<RestAnswer> {
  const [method = "GET", full = ""] = name.split(" ");
  const route = ROUTES[name];
  const path =
    typeof route?.path === "function"
      ? route.path(w, key)
      : (route?.path ?? full.replace(/^\/api\/v1/, "").replace(/:[A-Za-z]+/g, "figma"));
  return rest(stack, method, path, { body: route?.body?.(w), auth: { apiKey: key.key, cookie } });
}

/** 200, or 201 where the route creates something. */
const expectSuccess = (res: RestAnswer) => expect([200, 201]).toContain(res.status);

describe("REST routes", () => {
  test("each route served under /api/v1 is in the table (with a gated procedure); no required entry is missing", () => {
    const served = SERVED;
    expect(served.filter((r) => !(r in ROUTES))).toEqual([]);
    expect(Object.entries(ROUTES).filter(([r, c]) => !c.optional && !served.includes(r))).toEqual([]);
    for (const route of served) expect(gateOf(ROUTES[route] as RouteCase)).toBeDefined();
  });

  for (const [name, route] of Object.entries(ROUTES)) {
    const gate = gateOf(route);
    if (!gate || gate === "public") continue;
    const title = isScope(gate)
      ? `${name}: a key without ${gate} → 403 FORBIDDEN, nothing changed; with only ${gate} it works`
      : `${name}: session only, a key holding every scope → 403 FORBIDDEN, nothing changed`;
    test.skipIf(!SERVED.includes(name))(title, async () => {
      const w = await worldFor(route.procedure ? PROCEDURES[route.procedure] : undefined);
      const orgId = w.org?.orgId;
      const lacking = await keyFor(w.user, isScope(gate) ? allBut(gate) : API_KEY_SCOPES, undefined, orgId);
      const before = await snapshot(w.user);
      const mark = upstreamMark();
      expectRestError(await restCall(name, lacking, w), 403, "FORBIDDEN");
      expect(upstreamMark()).toBe(mark);
      expect(await snapshot(w.user)).toEqual(before);
      if (!isScope(gate)) return;
      const res = await restCall(name, await keyFor(w.user, [gate], undefined, orgId), w);
      expectSuccess(res);
      await route.check?.(w, res);
    });
  }

  test("public routes answer a key of one unrelated scope", async () => {
    const w = await world();
    const key = await keyFor(w.user, ["audit:read"]);
    for (const [name, route] of Object.entries(ROUTES)) {
      if (gateOf(route) !== "public" || !SERVED.includes(name)) continue;
      const res = await restCall(name, key, w);
      expectSuccess(res);
      await route.check?.(w, res);
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// expired and revoked keys

describe("an expired or revoked key → 401 UNAUTHORIZED everywhere, with one message", () => {
  test("every procedure and every REST route, even public ones and with a valid session cookie beside it", async () => {
    const w = await world();
    // Expires on its own a moment from now: it works until then.
    const soon = new Date(Date.now() + 2500);
    const timed = await keyFor(w.user, undefined, soon.toISOString());
    expect(timed.expiresAt).toBe(soon.toISOString());
    expect((await trpc(stack, "instances.list", undefined, { apiKey: timed.key })).status).toBe(200);
    // Pushed into the past in the database.
    const backdated = await keyFor(w.user, undefined, new Date(Date.now() + 86_400_000).toISOString());
    expect((await trpc(stack, "instances.list", undefined, { apiKey: backdated.key })).status).toBe(200);
    await stack.platform.deps.db
      .update(apiKeys)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(apiKeys.id, backdated.id));
    const revoked = await keyFor(w.user);
    expect((await trpc(stack, "instances.list", undefined, { apiKey: revoked.key })).status).toBe(200);
    expect(data(await trpc(stack, "apiKeys.revoke", { id: revoked.id }, { cookie: w.user.cookie }))).toEqual({
      id: revoked.id,
    });
    await Bun.sleep(Math.max(0, soon.getTime() - Date.now() + 100));

    const before = await snapshot(w.user);
    const mark = upstreamMark();
    const messages = new Set<string>();
    const signUpsBefore = await signedUpHere();
    for (const bad of [timed, backdated, revoked]) {
      for (const cookie of [undefined, w.user.cookie]) {
        for (const path of PRESENT) {
          const c = PROCEDURES[path];
          const res = await call(path, c?.input?.(w, bad), { apiKey: bad.key, cookie });
          expect({ path, status: res.status, code: res.body.error?.data.appCode }).toEqual({
            path,
            status: 401,
            code: "UNAUTHORIZED",
          });
          messages.add(res.body.error?.message ?? "");
        }
        for (const route of SERVED) {
          const res = await restCall(route, bad, w, cookie);
          expectRestError(res, 401, "UNAUTHORIZED");
          messages.add(String(res.body.error));
        }
      }
    }
    expect([...messages]).toEqual(["Invalid API key in Authorization header"]);
    expect(upstreamMark()).toBe(mark);
    expect(await snapshot(w.user)).toEqual(before);
    expect(await signedUpHere()).toBe(signUpsBefore);

    // Expired keys stay listed (with their expiry) until revoked; the revoked one is gone.
    const listed = data<{ id: string; expiresAt: string | null }[]>(
      await trpc(stack, "apiKeys.list", undefined, { cookie: w.user.cookie }),
    );
    expect(listed.map((k) => k.id).sort()).toEqual([timed.id, backdated.id].sort());
  });
});

// ---------------------------------------------------------------------------------------------------
// apiKeys.create: scopes and expiry

describe("apiKeys.create with scopes and expiry", () => {
  test("defaults: every scope, no expiry; the answer never repeats a secret in the list", async () => {
    const user = await newUser(stack);
    const created = await keyFor(user);
    expect(Object.keys(created).sort()).toEqual([
      "createdAt",
      "expiresAt",
      "id",
      "key",
      "name",
      "prefix",
      "scopes",
    ]);
    expect(created.scopes).toEqual([...API_KEY_SCOPES]);
    expect(created.expiresAt).toBeNull();
    const listed = data<Record<string, unknown>[]>(
      await trpc(stack, "apiKeys.list", undefined, { cookie: user.cookie }),
    );
    expect(listed).toEqual([
      {
        id: created.id,
        name: created.name,
        prefix: created.prefix,
        scopes: [...API_KEY_SCOPES],
        expiresAt: null,
        createdAt: created.createdAt,
        lastUsedAt: null,
      },
    ]);
    const text = JSON.stringify(listed);
    expect(text).not.toContain(created.key.slice(created.prefix.length));
    expect(text).not.toContain(new Bun.CryptoHasher("sha256").update(created.key).digest("hex"));
  });

  test("chosen scopes come back in canonical order; an expiry with an offset is kept as its instant", async () => {
    const user = await newUser(stack);
    const at = new Date(Date.now() + 7 * 86_400_000);
    at.setUTCMilliseconds(0);
    // Same instant written in UTC+2 (the day may roll over: compare instants, not strings).
    const local = new Date(at.getTime() + 2 * 3_600_000).toISOString().slice(0, 19);
    const created = await keyFor(user, ["usage:read", "instances:read"], `${local}+02:00`);
    expect(created.scopes).toEqual(["instances:read", "usage:read"]);
    expect(created.expiresAt).toBe(at.toISOString());
    const never = data<CreatedKey>(
      await trpc(stack, "apiKeys.create", { name: "forever", expiresAt: null }, { cookie: user.cookie }),
    );
    expect(never.expiresAt).toBeNull();
    const listed = data<CreatedKey[]>(await trpc(stack, "apiKeys.list", undefined, { cookie: user.cookie }));
    expect(listed.find((k) => k.id === created.id)).toMatchObject({
      scopes: ["instances:read", "usage:read"],
      expiresAt: at.toISOString(),
    });
    // What it holds it can do; what it lacks it cannot.
    expect((await trpc(stack, "instances.list", undefined, { apiKey: created.key })).status).toBe(200);
    expectTrpcError(
      await trpc(stack, "instances.revoke", { serviceType: "figma" }, { apiKey: created.key }),
      403,
      "FORBIDDEN",
    );
  });

  const day = 86_400_000;
  const BAD: [string, Record<string, unknown>][] = [
    ["empty scopes", { scopes: [] }],
    ["an unknown scope", { scopes: ["instances:delete"] }],
    ["a scope in the wrong case", { scopes: ["Instances:Read"] }],
    ["a repeated scope", { scopes: ["instances:read", "instances:read"] }],
    ["six scopes", { scopes: [...API_KEY_SCOPES, "instances:read"] }],
    ["scopes as a string", { scopes: "instances:read" }],
    ["scopes as numbers", { scopes: [1] }],
    ["scopes null", { scopes: null }],
    ["an expiry in the past", { expiresAt: new Date(Date.now() - day).toISOString() }],
    [
      "an expiry more than two years out",
      { expiresAt: new Date(Date.now() + 2 * 366 * day + day).toISOString() },
    ],
    ["an expiry without a time", { expiresAt: new Date(Date.now() + day).toISOString().slice(0, 10) }],
    ["an expiry without a zone", { expiresAt: new Date(Date.now() + day).toISOString().slice(0, 19) }],
    ["an expiry that is not a date", { expiresAt: "next tuesday" }],
    ["an expiry as epoch milliseconds", { expiresAt: Date.now() + day }],
    ["an expiry as an object", { expiresAt: { at: "2030-01-01T00:00:00Z" } }],
    [
      "an over-long expiry",
      { expiresAt: `${new Date(Date.now() + day).toISOString().slice(0, 19)}.${"1".repeat(100)}Z` },
    ],
  ];
  test.each(BAD)("%s → 400 BAD_REQUEST; nothing created", async (_, extra) => {
    const user = await newUser(stack);
    const res = await trpc(stack, "apiKeys.create", { name: "bad", ...extra }, { cookie: user.cookie });
    expectTrpcError(res, 400, "BAD_REQUEST");
    expect(data(await trpc(stack, "apiKeys.list", undefined, { cookie: user.cookie }))).toEqual([]);
    const rows = await stack.platform.deps.db.select().from(apiKeys).where(eq(apiKeys.userId, user.userId));
    expect(rows).toEqual([]);
  });

  test("an expiry just under two years out is accepted", async () => {
    const user = await newUser(stack);
    const at = new Date(Date.now() + 2 * 365 * day).toISOString();
    expect((await keyFor(user, ["audit:read"], at)).expiresAt).toBe(at);
  });

  test("a key stored without scopes or expiry (made before they existed) keeps every scope and never expires", async () => {
    const w = await world();
    const key = mintApiKey();
    const id = newId("key");
    // As rows written before the migration look: the columns' database defaults fill them in.
    await stack.platform.deps.db.insert(apiKeys).values({
      id,
      userId: w.user.userId,
      orgId: await personalOrgOf(stack.platform.deps.db, w.user.userId),
      name: "legacy",
      prefix: key.slice(0, 12),
      keyHash: hashToken(key),
    });
    const listed = data<CreatedKey[]>(
      await trpc(stack, "apiKeys.list", undefined, { cookie: w.user.cookie }),
    );
    expect(listed.find((k) => k.id === id)).toMatchObject({ scopes: [...API_KEY_SCOPES], expiresAt: null });
    expect((await trpc(stack, "instances.get", { serviceType: "figma" }, { apiKey: key })).status).toBe(200);
    expect(
      data(await trpc(stack, "instances.rotate", { serviceType: "figma" }, { apiKey: key })),
    ).toMatchObject({
      instanceId: w.instanceId,
    });
  });

  test("lastUsedAt: null until used, then set; a stale value is moved on by the next use", async () => {
    const w = await world();
    const key = await keyFor(w.user, ["instances:read"]);
    const lastUsed = async () =>
      (
        await stack.platform.deps.db
          .select({ at: apiKeys.lastUsedAt })
          .from(apiKeys)
          .where(eq(apiKeys.id, key.id))
      )[0]?.at ?? null;
    expect(await lastUsed()).toBeNull();
    expect((await trpc(stack, "instances.list", undefined, { apiKey: key.key })).status).toBe(200);
    // Written off the request's path: wait (bounded) for it to land.
    for (let i = 0; i < 100 && (await lastUsed()) === null; i++) await Bun.sleep(20);
    expect(await lastUsed()).not.toBeNull();
    const listed = data<{ id: string; lastUsedAt: string | null }[]>(
      await trpc(stack, "apiKeys.list", undefined, { cookie: w.user.cookie }),
    );
    expect(listed.find((k) => k.id === key.id)?.lastUsedAt).toBeString();

    const stale = new Date(Date.now() - 5 * 60_000);
    await stack.platform.deps.db.update(apiKeys).set({ lastUsedAt: stale }).where(eq(apiKeys.id, key.id));
    expect((await trpc(stack, "instances.list", undefined, { apiKey: key.key })).status).toBe(200);
    for (let i = 0; i < 100 && (await lastUsed())?.getTime() === stale.getTime(); i++) await Bun.sleep(20);
    expect((await lastUsed())?.getTime()).toBeGreaterThan(stale.getTime());
  });
});

// ---------------------------------------------------------------------------------------------------
// cross-tenant

describe("cross-tenant", () => {
  test("user A's session cannot see or revoke B's keys (404); A's key cannot manage keys at all (403)", async () => {
    const [a, b] = await Promise.all([world(), world()]);
    const aKey = await keyFor(a.user);
    const bKey = await keyFor(b.user, ["instances:read"]);
    const bBefore = await snapshot(b.user);

    expectTrpcError(
      await trpc(stack, "apiKeys.revoke", { id: bKey.id }, { cookie: a.user.cookie }),
      404,
      "NOT_FOUND",
    );
    expectTrpcError(
      await trpc(stack, "apiKeys.revoke", { id: bKey.id }, { apiKey: aKey.key }),
      403,
      "FORBIDDEN",
    );
    expectTrpcError(await trpc(stack, "apiKeys.list", undefined, { apiKey: aKey.key }), 403, "FORBIDDEN");
    const aList = data<{ id: string }[]>(
      await trpc(stack, "apiKeys.list", undefined, { cookie: a.user.cookie }),
    );
    expect(aList.map((k) => k.id)).toEqual([aKey.id]);
    expect(await snapshot(b.user)).toEqual(bBefore);
    expect((await trpc(stack, "instances.list", undefined, { apiKey: bKey.key })).status).toBe(200);
  });

  test("a scoped key acts on its own user's instances only", async () => {
    const [a, b] = await Promise.all([world(), world()]);
    const reader = await keyFor(a.user, ["instances:read"]);
    const writer = await keyFor(a.user, ["instances:write"]);
    const listed = data<{ instanceId: string }[]>(
      await trpc(stack, "instances.list", undefined, { apiKey: reader.key }),
    );
    expect(listed.map((i) => i.instanceId)).toEqual([a.instanceId]);
    const bBefore = await snapshot(b.user);
    expect(
      data(await trpc(stack, "instances.revoke", { serviceType: "figma" }, { apiKey: writer.key })),
    ).toEqual({
      instanceId: a.instanceId,
    });
    expect(await snapshot(b.user)).toEqual(bBefore);
    await expectInstanceDead(stack, a.instanceUrl);
  });
});
