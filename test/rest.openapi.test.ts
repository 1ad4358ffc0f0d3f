// The REST API's OpenAPI 3.1 document (GET /api/v1/openapi.json): valid by the OpenAPI 3.1 schema (Hyperjump's
// validator, the OAS dialect); every tRPC procedure has a REST twin in it; every operation, called on the real
// stack with valid input, answers a documented status with a body valid by the documented schema; the
// documented auth, scope and bad-input errors happen as documented; the reference page at /api/docs lists
// every operation. Then the twins themselves: `lastUsed` beside `lastUsedAt`, rotate, API keys, account.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { registerSchema, validate } from "@hyperjump/json-schema/openapi-3-1";
import { appRouter } from "@mcp/control-plane/router";
import { API_KEY_SCOPES } from "@mcp/core";
import {
  callGetMe,
  connectFigma,
  data,
  expectInstanceDead,
  figmaKeyFor,
  newUser,
  type TestUser,
  trpc,
} from "./client.ts";
import { type RemoteMcp, startRemoteMcp } from "./fakes/remote-mcp.ts";
import { type Stack, startStack } from "./harness.ts";

type Json = Record<string, unknown>;
interface Operation {
  operationId: string;
  security?: Record<string, string[]>[];
  parameters?: { name: string; in: string }[];
  requestBody?: unknown;
  responses: Record<string, unknown>;
  "x-trpc-procedure"?: string;
}
interface Op {
  path: string;
  method: string;
  op: Operation;
}
/** One request: who, the path parameters, the body (JSON, or `raw` as is). */
interface Call {
  cookie?: string;
  apiKey?: string;
  authorization?: string;
  params?: Record<string, string>;
  query?: Record<string, string>;
  body?: unknown;
  raw?: string;
}
interface Answer {
  status: number;
  body: Json;
  headers: Headers;
}

const PASSWORD = "correct horse battery";
let stack: Stack;
let remote: RemoteMcp;
let doc: Json & { paths: Record<string, Record<string, Operation>> };
let docUri: string;
let ops: Op[];
let owner: TestUser;
let ownerKey: string;

beforeAll(async () => {
  [stack, remote] = await Promise.all([startStack({ allowPrivateUpstreams: true }), startRemoteMcp()]);
  const res = await fetch(`${stack.controlPlaneUrl}/api/v1/openapi.json`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("application/json");
  doc = (await res.json()) as typeof doc;
  docUri = `https://rest-openapi.test/${crypto.randomUUID()}/openapi.json`;
  // As Hyperjump reads a document served as application/openapi+json: schemas in the OAS 3.1 dialect.
  registerSchema(doc as never, docUri, "https://spec.openapis.org/oas/3.1/schema-base");
  ops = Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({ path, method, op })),
  );
  owner = await newUser(stack);
  ownerKey = data<{ key: string }>(
    await trpc(stack, "apiKeys.create", { name: "owner" }, { cookie: owner.cookie }),
  ).key;
});
afterAll(async () => {
  await Promise.all([stack?.stop(), remote?.stop()]);
});

async function send(method: string, path: string, call: Call = {}): Promise<Answer> {
  const url = path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(call.params?.[name] ?? ""));
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (call.cookie) headers.cookie = call.cookie;
  if (call.apiKey) headers.authorization = `Bearer ${call.apiKey}`;
  if (call.authorization) headers.authorization = call.authorization;
  const body = call.raw ?? (call.body === undefined ? undefined : JSON.stringify(call.body));
  const query = call.query ? `?${new URLSearchParams(call.query)}` : "";
  const res = await fetch(`${stack.controlPlaneUrl}/api/v1${url}${query}`, {
    method: method.toUpperCase(),
    headers,
    body,
  });
  return { status: res.status, body: (await res.json()) as Json, headers: res.headers };
}

const pointer = (...segments: string[]) =>
  `#${segments.map((s) => `/${encodeURIComponent(s.replaceAll("~", "~0").replaceAll("/", "~1"))}`).join("")}`;
const validators = new Map<string, Awaited<ReturnType<typeof validate>>>();

/** The answer's status is one the operation documents and its body is valid by that status's schema. */
async function expectDocumented(o: Op, answer: Answer): Promise<void> {
  const status = String(answer.status);
  const what = `${o.op.operationId} answered ${status} ${JSON.stringify(answer.body).slice(0, 300)}`;
  expect({ what, documented: status in o.op.responses }).toEqual({ what, documented: true });
  const at =
    docUri + pointer("paths", o.path, o.method, "responses", status, "content", "application/json", "schema");
  if (!validators.has(at)) validators.set(at, await validate(at));
  const output = (validators.get(at) as (v: unknown, f: "BASIC") => { valid: boolean; errors?: unknown })(
    answer.body,
    "BASIC",
  );
  expect({ what, errors: output.valid ? [] : output.errors }).toEqual({ what, errors: [] });
}

const opById = (id: string): Op => {
  const found = ops.find((o) => o.op.operationId === id);
  if (!found) throw new Error(`no operation ${id} in the document`);
  return found;
};
const callOp = (id: string, call: Call = {}) => {
  const o = opById(id);
  return send(o.method, o.path, call);
};
const cookieOf = (answer: Answer) => (answer.headers.get("set-cookie") ?? "").split(";")[0] ?? "";

describe("the OpenAPI document", () => {
  test("is a valid OpenAPI 3.1 document, with unique operation ids and every path parameter declared", async () => {
    const output = await validate("https://spec.openapis.org/oas/3.1/schema-base", doc as never, "BASIC");
    expect(output.valid ? [] : output.errors).toEqual([]);
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    const ids = ops.map((o) => o.op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { path, op } of ops) {
      const templated = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1] ?? "").sort();
      const declared = (op.parameters ?? [])
        .filter((p) => p.in === "path")
        .map((p) => p.name)
        .sort();
      expect({ path, declared }).toEqual({ path, declared: templated });
    }
    // Every $ref points at a schema the document holds.
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map(
      (m) => m[1],
    );
    const schemas = (doc.components as { schemas: Json }).schemas;
    expect(refs.filter((r) => !(r && r in schemas))).toEqual([]);
  });

  test("every tRPC procedure has its REST twin", () => {
    const procedures = Object.keys(appRouter._def.procedures).sort();
    const twins = ops.flatMap((o) => (o.op["x-trpc-procedure"] ? [o.op["x-trpc-procedure"]] : [])).sort();
    expect(twins).toEqual(procedures);
  });

  test("every operation answers valid input as documented (status and body)", async () => {
    const figmaKey = figmaKeyFor(stack, "openapi-owner");
    const state: { keyId?: string; signedIn?: string; orgId?: string; token?: string } = {};
    const email = `u-${crypto.randomUUID()}@example.test`;
    const acct = await newUser(stack, PASSWORD);
    const NEW_PASSWORD = "a different horse battery";
    const signInAcct = async (password: string) =>
      cookieOf(await callOp("signIn", { body: { email: acct.email, password } }));
    // In this order: each step may rely on the ones before it.
    const steps: [string, () => Promise<Call>][] = [
      ["listServices", async () => ({})],
      ["getServiceHealth", async () => ({ params: { serviceType: "figma" } })],
      [
        "connectService",
        async () => ({ apiKey: ownerKey, params: { serviceType: "figma" }, body: { apiKey: figmaKey } }),
      ],
      [
        "updateCredentials",
        async () => ({
          apiKey: ownerKey,
          params: { serviceType: "figma" },
          body: { apiKey: figmaKeyFor(stack, "openapi-owner") },
        }),
      ],
      ["getInstance", async () => ({ apiKey: ownerKey, params: { serviceType: "figma" } })],
      ["listInstances", async () => ({ apiKey: ownerKey })],
      ["rotateInstance", async () => ({ apiKey: ownerKey, params: { serviceType: "figma" } })],
      [
        "updateInstanceSettings",
        async () => ({
          apiKey: ownerKey,
          params: { serviceType: "figma" },
          body: { displayName: "Docs", toolAllowlist: ["get_me"], readOnly: true, rateLimitPerMinute: 100 },
        }),
      ],
      ["connectCustom", async () => ({ apiKey: ownerKey, body: { name: "mine", url: remote.url } })],
      ["revokeInstance", async () => ({ apiKey: ownerKey, params: { serviceType: "figma" } })],
      // Revoked just above: deleting erases it all the same (no reconnect needed).
      ["deleteInstance", async () => ({ apiKey: ownerKey, params: { serviceType: "figma" } })],
      [
        "createApiKey",
        async () => ({ cookie: owner.cookie, body: { name: "from REST", scopes: ["usage:read"] } }),
      ],
      ["listApiKeys", async () => ({ cookie: owner.cookie })],
      ["revokeApiKey", async () => ({ cookie: owner.cookie, params: { id: state.keyId ?? "" } })],
      ["listAudit", async () => ({ apiKey: ownerKey, query: { limit: "5", action: "instance.connect" } })],
      [
        "getUsage",
        async () => ({
          apiKey: ownerKey,
          query: {
            from: new Date(Date.now() - 86_400_000).toISOString(),
            to: new Date().toISOString(),
            groupBy: "service",
          },
        }),
      ],
      ["createOrg", async () => ({ cookie: owner.cookie, body: { name: "Docs Inc" } })],
      ["listOrgs", async () => ({ cookie: owner.cookie })],
      [
        "inviteOrgMember",
        async () => ({
          cookie: owner.cookie,
          params: { orgId: state.orgId ?? "" },
          body: { role: "member" },
        }),
      ],
      ["listOrgInvitations", async () => ({ cookie: owner.cookie, params: { orgId: state.orgId ?? "" } })],
      [
        "acceptOrgInvitation",
        async () => ({
          cookie: acct.cookie,
          params: { orgId: state.orgId ?? "" },
          body: { token: state.token },
        }),
      ],
      ["listOrgMembers", async () => ({ cookie: owner.cookie, params: { orgId: state.orgId ?? "" } })],
      [
        "setOrgMemberRole",
        async () => ({
          cookie: owner.cookie,
          params: { orgId: state.orgId ?? "", userId: acct.userId },
          body: { role: "admin" },
        }),
      ],
      [
        "listOrgMemberInstances",
        async () => ({ cookie: owner.cookie, params: { orgId: state.orgId ?? "" } }),
      ],
      [
        "revokeOrgMemberInstance",
        async () => {
          const orgId = state.orgId ?? "";
          const { instanceId } = await connectFigma(stack, acct, figmaKeyFor(stack, "openapi-acct"), orgId);
          return { cookie: owner.cookie, params: { orgId, instanceId } };
        },
      ],
      [
        "revokeOrgInvitation",
        async () => {
          const orgId = state.orgId ?? "";
          const made = await trpc(stack, "orgs.invite", { orgId, role: "member" }, { cookie: owner.cookie });
          return {
            cookie: owner.cookie,
            params: { orgId, invitationId: data<Json>(made).invitationId as string },
          };
        },
      ],
      [
        "removeOrgMember",
        async () => {
          const orgId = state.orgId ?? "";
          const third = await newUser(stack, PASSWORD);
          const { token } = data<{ token: string }>(
            await trpc(stack, "orgs.invite", { orgId, role: "member" }, { cookie: owner.cookie }),
          );
          data(await trpc(stack, "orgs.acceptInvitation", { orgId, token }, { cookie: third.cookie }));
          return { cookie: owner.cookie, params: { orgId, userId: third.userId } };
        },
      ],
      ["leaveOrg", async () => ({ cookie: acct.cookie, params: { orgId: state.orgId ?? "" } })],
      ["signUp", async () => ({ body: { email, password: PASSWORD } })],
      ["signIn", async () => ({ body: { email, password: PASSWORD } })],
      ["getMe", async () => ({ apiKey: ownerKey })],
      ["signOut", async () => ({ cookie: state.signedIn })],
      [
        "changePassword",
        async () => ({ cookie: acct.cookie, body: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD } }),
      ],
      ["listSessions", async () => ({ cookie: await signInAcct(NEW_PASSWORD) })],
      [
        "revokeSession",
        async () => {
          const cookie = await signInAcct(NEW_PASSWORD);
          const other = await signInAcct(NEW_PASSWORD);
          const sessions = (await callOp("listSessions", { cookie: other })).body.sessions as Json[];
          const current = sessions.find((s) => s.current);
          return { cookie, params: { id: String(current?.id) } };
        },
      ],
      ["signOutEverywhere", async () => ({ cookie: await signInAcct(NEW_PASSWORD) })],
      [
        "deleteAccount",
        async () => ({ cookie: await signInAcct(NEW_PASSWORD), body: { password: NEW_PASSWORD } }),
      ],
      ["getOpenApiDocument", async () => ({})],
    ];
    expect(steps.map(([id]) => id).sort()).toEqual(ops.map((o) => o.op.operationId).sort());

    for (const [id, prepare] of steps) {
      const o = opById(id);
      const answer = await send(o.method, o.path, await prepare());
      const success = Object.keys(o.op.responses).filter((s) => s.startsWith("2"));
      expect({ id, status: answer.status, body: answer.body }).toMatchObject({
        id,
        status: Number(success[0]),
      });
      await expectDocumented(o, answer);
      if (id === "createApiKey") state.keyId = String(answer.body.id);
      if (id === "createOrg") state.orgId = String(answer.body.orgId);
      if (id === "inviteOrgMember") state.token = String(answer.body.token);
      if (id === "signIn") state.signedIn = cookieOf(answer);
    }
  });

  test("unknown REST paths answer 404 NOT_FOUND in the documented error shape", async () => {
    for (const path of ["/nope", "/services/figma/nope", "/openapi.yaml"]) {
      const answer = await send("get", path, { apiKey: ownerKey });
      expect({ path, status: answer.status, code: answer.body.code }).toEqual({
        path,
        status: 404,
        code: "NOT_FOUND",
      });
      const check = await validate(`${docUri}#/components/schemas/Error`);
      expect(check(answer.body as never).valid).toBe(true);
    }
  });
});

/** What the owner has: instances, API keys (bar their last use), sessions. */
async function snapshot(): Promise<unknown> {
  const auth = { cookie: owner.cookie };
  const keys = data<Json[]>(await trpc(stack, "apiKeys.list", undefined, auth));
  return {
    instances: data(await trpc(stack, "instances.list", undefined, auth)),
    keys: keys.map(({ lastUsedAt: _, ...k }) => k),
    sessions: data<Json[]>(await trpc(stack, "account.sessions", undefined, { ...auth, method: "GET" })).map(
      (s) => s.id,
    ),
  };
}

describe("documented errors", () => {
  test("missing or wrong credentials, missing scopes and bad input answer as documented and change nothing", async () => {
    // For each scope, a key with every other scope.
    const without = new Map<string, string>();
    for (const scope of API_KEY_SCOPES) {
      const scopes = API_KEY_SCOPES.filter((s) => s !== scope);
      const made = await trpc(
        stack,
        "apiKeys.create",
        { name: `no ${scope}`, scopes },
        { cookie: owner.cookie },
      );
      without.set(scope, data<{ key: string }>(made).key);
    }
    const orgs = data<{ orgId: string }[]>(
      await trpc(stack, "orgs.list", undefined, { cookie: owner.cookie }),
    );
    const ownOrg = orgs[0]?.orgId ?? "";
    const connected = await callOp("connectService", {
      apiKey: ownerKey,
      params: { serviceType: "figma" },
      body: { apiKey: figmaKeyFor(stack, "openapi-errors") },
    });
    expect(connected.status).toBe(200);
    const before = await snapshot();
    const params = {
      serviceType: "figma",
      id: "key_unknown",
      orgId: "org_unknown",
      userId: "usr_unknown",
      invitationId: "inv_unknown",
      instanceId: "ins_unknown",
    };
    const tooLong = Object.fromEntries(Object.keys(params).map((k) => [k, "x".repeat(129)]));
    let checked = 0;
    for (const o of ops) {
      const security = o.op.security ?? [];
      const isPublic = security.some((s) => Object.keys(s).length === 0);
      const byKey = security.find((s) => "apiKey" in s);
      const body = o.op.requestBody ? {} : undefined;
      const who: Call = byKey ? { apiKey: ownerKey } : { cookie: owner.cookie };
      const pathParams = (o.op.parameters ?? []).filter((p) => p.in === "path").map((p) => p.name);
      const checks: [string, Call, number, string][] = [
        ["a bad bearer", { params, body, authorization: "Bearer mcp_sk_notakey" }, 401, "UNAUTHORIZED"],
      ];
      if (!isPublic) checks.push(["no credentials", { params, body }, 401, "UNAUTHORIZED"]);
      if (!isPublic && !byKey)
        checks.push(["an API key", { apiKey: ownerKey, params, body }, 403, "FORBIDDEN"]);
      for (const scope of byKey?.apiKey ?? []) {
        checks.push([
          `a key without ${scope}`,
          { apiKey: without.get(scope), params, body },
          403,
          "FORBIDDEN",
        ]);
      }
      if (pathParams.length)
        checks.push(["a path parameter too long", { ...who, params: tooLong, body }, 400, "BAD_REQUEST"]);
      if ((o.op.parameters ?? []).some((p) => p.in === "query")) {
        const query = { limit: "many", from: "yesterday", to: "today", groupBy: "nope" };
        // Path parameters that exist (the owner's own organisation), so only the query is wrong.
        checks.push(["an invalid query", { ...who, params: { orgId: ownOrg }, query }, 400, "BAD_REQUEST"]);
      }
      // Nothing the route does not take is silently dropped: a misspelt query parameter, a body field named
      // like a path parameter (the path's value would win), any body on a route that takes none.
      const named: [string, Call, string][] = [
        [
          "an unknown query parameter",
          { ...who, params: { ...params, orgId: ownOrg }, query: { limt: "1" } },
          "limt",
        ],
      ];
      if (body && pathParams[0])
        named.push([
          "a path parameter in the body",
          { ...who, params, body: { [pathParams[0]]: "x" } },
          pathParams[0],
        ]);
      if (!body && o.method !== "get") {
        named.push(["a body on a route that takes none", { ...who, params, body: { foo: 1 } }, "foo"]);
        checks.push([
          "text on a route that takes no body",
          { ...who, params, raw: "rotate!" },
          400,
          "BAD_REQUEST",
        ]);
      }
      for (const [what, call, key] of named) {
        const answer = await send(o.method, o.path, call);
        const id = `${o.op.operationId}: ${what}`;
        expect({ id, status: answer.status, code: answer.body.code }).toEqual({
          id,
          status: 400,
          code: "BAD_REQUEST",
        });
        expect({ id, error: answer.body.error }).toEqual({ id, error: expect.stringContaining(`"${key}"`) });
        await expectDocumented(o, answer);
        checked++;
      }
      if (body) {
        checks.push(["a body that is not JSON", { ...who, params, raw: "{not json" }, 400, "BAD_REQUEST"]);
        checks.push(["a JSON array", { ...who, params, raw: "[]" }, 400, "BAD_REQUEST"]);
        checks.push(["an empty object", { ...who, params, body: {} }, 400, "BAD_REQUEST"]);
      }
      for (const [what, call, status, code] of checks) {
        const answer = await send(o.method, o.path, call);
        const id = `${o.op.operationId}: ${what}`;
        expect({ id, status: answer.status, code: answer.body.code }).toEqual({ id, status, code });
        await expectDocumented(o, answer);
        if (what === "a path parameter too long") {
          const named = (answer.body.issues as { path: string[] }[]).map((i) => i.path[0]);
          expect(named).toEqual(expect.arrayContaining(pathParams));
        }
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(ops.length * 2);
    expect(await snapshot()).toEqual(before);
  });
});

async function connectByRest(user: TestUser, who: string): Promise<string> {
  const answer = await callOp("connectService", {
    cookie: user.cookie,
    params: { serviceType: "figma" },
    body: { apiKey: figmaKeyFor(stack, who) },
  });
  expect(answer.status).toBe(200);
  return String(answer.body.instanceUrl);
}

describe("the REST twins", () => {
  test("GET instance and GET user/instances answer lastUsed beside lastUsedAt, the same value", async () => {
    const user = await newUser(stack);
    const url = await connectByRest(user, "last-used");
    const read = async () => {
      const one = (await callOp("getInstance", { cookie: user.cookie, params: { serviceType: "figma" } }))
        .body;
      const all = (await callOp("listInstances", { cookie: user.cookie })).body.instances as Json[];
      return { one, listed: all.find((i) => i.instanceId === one.instanceId) };
    };
    const fresh = await read();
    expect(fresh.one).toMatchObject({ lastUsed: null, lastUsedAt: null });
    expect(fresh.listed).toMatchObject({ lastUsed: null, lastUsedAt: null });
    expect(await callGetMe(url)).toBe(200);
    let used = await read();
    // The edge records the use off the request's path: wait (bounded) for the write.
    for (let i = 0; i < 200 && used.one.lastUsedAt === null; i++) {
      await Bun.sleep(25);
      used = await read();
    }
    expect(typeof used.one.lastUsedAt).toBe("string");
    expect(Number.isNaN(Date.parse(String(used.one.lastUsedAt)))).toBe(false);
    expect(used.one.lastUsed).toBe(used.one.lastUsedAt);
    expect(used.listed).toMatchObject({ lastUsed: used.one.lastUsedAt, lastUsedAt: used.one.lastUsedAt });
  });

  test("rotate: a new URL, the old one dead at once; another user's rotate is a 404 that changes nothing", async () => {
    const [alice, bob] = await Promise.all([newUser(stack), newUser(stack)]);
    const url = await connectByRest(alice, "rotate-alice");
    const bobs = await callOp("rotateInstance", { cookie: bob.cookie, params: { serviceType: "figma" } });
    expect({ status: bobs.status, code: bobs.body.code }).toEqual({ status: 404, code: "NOT_FOUND" });
    expect(await callGetMe(url)).toBe(200);
    // A client that always sends a JSON body sends `{}` to a route that takes none: accepted.
    const rotated = await callOp("rotateInstance", {
      cookie: alice.cookie,
      params: { serviceType: "figma" },
      body: {},
    });
    expect(rotated.status).toBe(200);
    expect(rotated.body).toMatchObject({ serviceType: "figma", message: expect.any(String) });
    expect(rotated.body.instanceUrl).not.toBe(url);
    await expectInstanceDead(stack, url);
    expect(await callGetMe(String(rotated.body.instanceUrl))).toBe(200);
  });

  test("API keys over REST: create (shown once), list, revoke; scoped to their owner; bad input creates nothing", async () => {
    const [alice, bob] = await Promise.all([newUser(stack), newUser(stack)]);
    const list = async (user: TestUser) =>
      (await callOp("listApiKeys", { cookie: user.cookie })).body.apiKeys as Json[];
    for (const body of [
      { name: "" },
      { name: "x".repeat(65) },
      { name: "k", scopes: ["nope"] },
      { name: "k", scopes: [] },
    ]) {
      const answer = await callOp("createApiKey", { cookie: alice.cookie, body });
      expect({ body, status: answer.status, code: answer.body.code }).toEqual({
        body,
        status: 400,
        code: "BAD_REQUEST",
      });
    }
    expect(await list(alice)).toEqual([]);
    const created = await callOp("createApiKey", { cookie: alice.cookie, body: { name: "ci" } });
    expect(created.status).toBe(201);
    const key = String(created.body.key);
    const listed = await list(alice);
    expect(listed.map((k) => k.id)).toEqual([created.body.id]);
    expect(JSON.stringify(listed)).not.toContain(key);
    const bobs = await callOp("revokeApiKey", {
      cookie: bob.cookie,
      params: { id: String(created.body.id) },
    });
    expect({ status: bobs.status, code: bobs.body.code }).toEqual({ status: 404, code: "NOT_FOUND" });
    expect((await callOp("listInstances", { apiKey: key })).status).toBe(200);
    const revoked = await callOp("revokeApiKey", {
      cookie: alice.cookie,
      params: { id: String(created.body.id) },
    });
    expect(revoked.body).toMatchObject({ id: created.body.id, message: expect.any(String) });
    const after = await callOp("listInstances", { apiKey: key });
    expect({ status: after.status, code: after.body.code }).toEqual({ status: 401, code: "UNAUTHORIZED" });
    expect(await list(alice)).toEqual([]);
  });

  test("custom MCP server over REST: an invalid URL is a 400 that creates nothing; a valid one is listed", async () => {
    const user = await newUser(stack);
    for (const url of ["ftp://127.0.0.1/mcp", "not a url", `http://${"a".repeat(2050)}.test`]) {
      const answer = await callOp("connectCustom", { cookie: user.cookie, body: { name: "mine", url } });
      expect({ url, status: answer.status, code: answer.body.code }).toEqual({
        url,
        status: 400,
        code: "BAD_REQUEST",
      });
    }
    expect((await callOp("listInstances", { cookie: user.cookie })).body.instances).toEqual([]);
    const made = await callOp("connectCustom", {
      cookie: user.cookie,
      body: { name: "mine", url: remote.url },
    });
    expect(made.body).toMatchObject({ serviceType: "custom", instanceUrl: expect.stringContaining("/mcp") });
    const listed = (await callOp("listInstances", { cookie: user.cookie })).body.instances as Json[];
    expect(listed.map((i) => [i.instanceId, i.serviceType])).toEqual([[made.body.instanceId, "custom"]]);
  });

  test("sign-up and sign-in over REST set a working session cookie; sign-out ends it; a wrong password is a 401", async () => {
    const email = `u-${crypto.randomUUID()}@example.test`;
    const up = await callOp("signUp", { body: { email, password: PASSWORD } });
    expect(up.status).toBe(201);
    const again = await callOp("signUp", { body: { email, password: PASSWORD } });
    expect({ status: again.status, code: again.body.code }).toEqual({ status: 409, code: "CONFLICT" });
    const wrong = await callOp("signIn", { body: { email, password: "not the password" } });
    expect({ status: wrong.status, code: wrong.body.code }).toEqual({ status: 401, code: "UNAUTHORIZED" });
    expect(wrong.headers.get("set-cookie")).toBeNull();
    const cookie = cookieOf(await callOp("signIn", { body: { email, password: PASSWORD } }));
    expect((await callOp("getMe", { cookie })).body.user).toMatchObject({ email, id: up.body.id });
    expect((await callOp("signOut", { cookie })).body).toEqual({ ok: true });
    expect((await callOp("getMe", { cookie })).body).toEqual({ user: null });
    expect((await callOp("getMe", { cookie: cookieOf(up) })).body.user).toMatchObject({ email });
  });
});

describe("the reference page", () => {
  test("/api/docs is self-contained HTML listing every operation", async () => {
    const res = await fetch(`${stack.controlPlaneUrl}/api/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
    expect(res.headers.get("content-security-policy")).toContain("default-src 'self'");
    const html = await res.text();
    for (const { path, method, op } of ops) {
      expect({ op: op.operationId, listed: html.includes(`id="${op.operationId}"`) }).toEqual({
        op: op.operationId,
        listed: true,
      });
      expect(html).toContain(`${method.toUpperCase()}</span> <code>/api/v1${path}</code>`);
    }
    // Nothing the CSP would block: no script at all, no inline style, nothing from another origin.
    expect(html).not.toMatch(/<script|\sstyle=|<style|https?:\/\/(?!127\.0\.0\.1)/i);
    const css = html.match(/<link rel="stylesheet" href="([^"]+)">/)?.[1];
    expect(css).toBe("/api/docs/docs.css");
    const sheet = await fetch(`${stack.controlPlaneUrl}${css}`);
    expect(sheet.status).toBe(200);
    expect(sheet.headers.get("content-type")).toContain("text/css");
    expect((await sheet.text()).length).toBeGreaterThan(100);
  });
});
