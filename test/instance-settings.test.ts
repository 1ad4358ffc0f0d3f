// Per-instance settings (instances.updateSettings and its REST twin): a tool allowlist and read-only mode
// reflected in tools/list and enforced on tools/call at the edge (fast path, SDK path, relayed servers; clients
// of both eras), a rate-limit override, changes reaching an already-cached instance on every edge at once, and
// every bad input refused with its exact status and code, nothing changed.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { auditEvents, instances } from "@mcp/db";
import { createEdge } from "@mcp/edge";
import type { RouterInputs } from "@mcp/sdk";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { and, eq } from "drizzle-orm";
import {
  type Auth,
  connectFigma,
  data,
  figmaKeyFor,
  newUser,
  rest,
  type TestUser,
  type TrpcAnswer,
  trpc,
} from "./client.ts";
import { FAKE_FILE_KEY } from "./fakes/figma.ts";
import { type RemoteMcp, type RemoteTool, startRemoteMcp } from "./fakes/remote-mcp.ts";
import { type Stack, startStack } from "./harness.ts";

let stack: Stack;
let remote: RemoteMcp;
/** A second edge on the same platform (its own resolver and caches), as another edge process would be. */
let other: Awaited<ReturnType<typeof createEdge>>;
let otherServer: ReturnType<typeof Bun.serve>;
/** Tools of the custom server that actually ran, in order. */
const ran: string[] = [];

const remoteTool = (name: string, readOnlyHint?: boolean): RemoteTool => ({
  name,
  inputSchema: { type: "object", properties: {} },
  ...(readOnlyHint !== undefined && { annotations: { readOnlyHint } }),
  run: () => {
    ran.push(name);
    return { content: [{ type: "text", text: `${name} ran` }] };
  },
});

beforeAll(async () => {
  [stack, remote] = await Promise.all([
    startStack({ allowPrivateUpstreams: true }),
    startRemoteMcp({ tools: [remoteTool("peek", true), remoteTool("danger", false), remoteTool("wipe")] }),
  ]);
  other = await createEdge(stack.platform.deps, { host: "127.0.0.1" });
  otherServer = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: other.fetch });
});
afterAll(async () => {
  otherServer?.stop(true);
  await other?.close();
  await Promise.all([stack?.stop(), remote?.stop()]);
});

const FIGMA_TOOLS = ["get_comments", "get_file", "get_file_nodes", "get_images", "get_me", "post_comment"];
const FIGMA_READ_ONLY = FIGMA_TOOLS.filter((t) => t !== "post_comment");
const REMOTE_TOOLS = ["add", "danger", "echo", "fail", "peek", "wipe"];

type Mode = "legacy" | { pin: string };
const MODES: [string, Mode][] = [
  ["2026-07-28", { pin: "2026-07-28" }],
  ["2025-era", "legacy"],
];

async function mcpClient(url: string, mode: Mode): Promise<Client> {
  const client = new Client({ name: "settings-test", version: "1.0.0" }, { versionNegotiation: { mode } });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

const names = async (client: Client) => (await client.listTools()).tools.map((t) => t.name).sort();

/** A call's JSON-RPC error as the client saw it ({ code, message }), or "ok". */
async function callOutcome(client: Client, name: string, args: Record<string, unknown> = {}) {
  try {
    const result = await client.callTool({ name, arguments: args });
    return result.isError ? { isError: true } : "ok";
  } catch (error) {
    return { code: (error as { code?: number }).code, message: (error as Error).message };
  }
}

const settings = (user: TestUser, input: Record<string, unknown>, auth: Auth = { cookie: user.cookie }) =>
  trpc(stack, "instances.updateSettings", input, auth);

function expectError(res: TrpcAnswer, status: number, code: string): void {
  expect({ status: res.status, appCode: res.body.error?.data.appCode }).toEqual({ status, appCode: code });
  expect(res.body.result).toBeUndefined();
}

/** Raw requests of the canonical shapes the edge's fast path serves (and the SDK path serves otherwise). */
const ENVELOPE = {
  "io.modelcontextprotocol/protocolVersion": "2026-07-28",
  "io.modelcontextprotocol/clientCapabilities": {},
  "io.modelcontextprotocol/clientInfo": { name: "settings-raw", version: "1.0.0" },
};
async function raw(url: string, era: "modern" | "legacy", method: string, params?: Record<string, unknown>) {
  const name: Record<string, string> = typeof params?.name === "string" ? { "mcp-name": params.name } : {};
  const headers: Record<string, string> =
    era === "modern"
      ? { "mcp-protocol-version": "2026-07-28", "mcp-method": method, ...name }
      : { "mcp-protocol-version": "2025-06-18" };
  const body =
    era === "modern"
      ? { jsonrpc: "2.0", id: 1, method, params: { ...params, _meta: ENVELOPE } }
      : { jsonrpc: "2.0", id: 1, method, ...(params && { params }) };
  const res = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      ...headers,
    },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  const json = res.headers.get("content-type")?.startsWith("text/event-stream")
    ? (/^data: (.*)$/m.exec(text)?.[1] ?? "null")
    : text;
  return { status: res.status, headers: res.headers, message: JSON.parse(json) };
}

const onOther = (url: string) => url.replace(stack.edgeUrl, `http://127.0.0.1:${otherServer.port}`);

async function figmaUser(who: string) {
  const user = await newUser(stack);
  const issued = await connectFigma(stack, user, figmaKeyFor(stack, who));
  return { user, ...issued };
}

async function instanceRow(instanceId: string) {
  const [row] = await stack.platform.deps.db.select().from(instances).where(eq(instances.id, instanceId));
  return row;
}

describe("tool allowlist and read-only mode on a REST service", () => {
  for (const [label, mode] of MODES) {
    test(`${label} client: lists only the allowed tools; a call of another is an unknown tool, never sent upstream`, async () => {
      const { user, instanceUrl } = await figmaUser(`allow-${label}`);
      const set = await settings(user, { serviceType: "figma", toolAllowlist: ["post_comment", "get_me"] });
      expect(data(set)).toMatchObject({ toolAllowlist: ["get_me", "post_comment"], readOnly: false });
      const client = await mcpClient(instanceUrl, mode);
      expect(await names(client)).toEqual(["get_me", "post_comment"]);
      expect(await callOutcome(client, "get_me")).toBe("ok");
      const mark = stack.figma.requests.length;
      const refused = await callOutcome(client, "get_file", { file_key: FAKE_FILE_KEY });
      const missing = await callOutcome(client, "no_such_tool", { file_key: FAKE_FILE_KEY });
      expect(refused).toEqual({ code: -32602, message: expect.stringContaining("Unknown tool: get_file") });
      expect(missing).toEqual({
        code: -32602,
        message: expect.stringContaining("Unknown tool: no_such_tool"),
      });
      expect(JSON.stringify(refused).replace("get_file", "X")).toBe(
        JSON.stringify(missing).replace("no_such_tool", "X"),
      );
      expect(stack.figma.requests.length).toBe(mark);

      // Read-only on top of the allowlist: the intersection.
      data(await settings(user, { serviceType: "figma", readOnly: true }));
      expect(await names(client)).toEqual(["get_me"]);
      expect(await callOutcome(client, "post_comment", { file_key: FAKE_FILE_KEY, message: "no" })).toEqual({
        code: -32602,
        message: expect.stringContaining("Unknown tool: post_comment"),
      });
      expect(stack.figma.requests.length).toBe(mark);

      // Read-only alone: every tool annotated readOnlyHint, none other.
      data(await settings(user, { serviceType: "figma", toolAllowlist: null }));
      expect(await names(client)).toEqual(FIGMA_READ_ONLY);
      expect(await callOutcome(client, "get_file", { file_key: FAKE_FILE_KEY })).toBe("ok");

      // Back to the defaults: everything again.
      data(await settings(user, { serviceType: "figma", readOnly: false }));
      expect(await names(client)).toEqual(FIGMA_TOOLS);
      expect(await callOutcome(client, "post_comment", { file_key: FAKE_FILE_KEY, message: "yes" })).toBe(
        "ok",
      );
      await client.close();
    });
  }

  test("the fast path's canonical requests, both eras: the same list and the same unknown-tool answer", async () => {
    const { user, instanceUrl } = await figmaUser("fast");
    data(
      await settings(user, {
        serviceType: "figma",
        toolAllowlist: ["get_me", "post_comment"],
        readOnly: true,
      }),
    );
    for (const era of ["modern", "legacy"] as const) {
      const mark = stack.figma.requests.length;
      const listed = await raw(instanceUrl, era, "tools/list");
      expect(listed.status).toBe(200);
      expect(listed.message.result.tools.map((t: { name: string }) => t.name)).toEqual(["get_me"]);
      const call = (name: string) => raw(instanceUrl, era, "tools/call", { name, arguments: {} });
      const [refused, missing] = [await call("post_comment"), await call("no_such_tool")];
      expect(refused.status).toBe(200);
      expect(refused.message.error).toEqual({ code: -32602, message: "Unknown tool: post_comment" });
      expect(missing.message.error).toEqual({ code: -32602, message: "Unknown tool: no_such_tool" });
      expect(stack.figma.requests.length).toBe(mark);
      expect((await call("get_me")).message.result.isError).toBeUndefined();
    }
    // An instance without settings still gets the service's shared list, every tool.
    const plain = await figmaUser("fast-plain");
    const listed = await raw(plain.instanceUrl, "modern", "tools/list");
    expect(listed.message.result.tools.map((t: { name: string }) => t.name).sort()).toEqual(FIGMA_TOOLS);
  });
});

describe("a relayed server (custom)", () => {
  async function customUser() {
    const user = await newUser(stack);
    const res = await trpc(
      stack,
      "instances.connectCustom",
      { name: "mine", url: remote.url },
      { cookie: user.cookie },
    );
    return { user, ...data<{ instanceId: string; instanceUrl: string }>(res) };
  }

  for (const [label, mode] of MODES) {
    test(`${label} client: the server's own readOnlyHint and the allowlist decide; refused calls never reach it`, async () => {
      const { user, instanceUrl } = await customUser();
      const client = await mcpClient(instanceUrl, mode);
      expect(await names(client)).toEqual(REMOTE_TOOLS);

      data(await settings(user, { serviceType: "custom", toolAllowlist: ["echo", "danger", "peek"] }));
      expect(await names(client)).toEqual(["danger", "echo", "peek"]);
      ran.length = 0;
      expect(await callOutcome(client, "wipe")).toEqual({
        code: -32602,
        message: expect.stringContaining("Unknown tool: wipe"),
      });
      expect(await callOutcome(client, "danger")).toBe("ok");
      expect(ran).toEqual(["danger"]);

      data(await settings(user, { serviceType: "custom", readOnly: true }));
      expect(await names(client)).toEqual(["peek"]);
      ran.length = 0;
      const requests = remote.requests.length;
      for (const name of ["danger", "echo", "wipe"]) {
        expect(await callOutcome(client, name, { text: "x" })).toEqual({
          code: -32602,
          message: expect.stringContaining(`Unknown tool: ${name}`),
        });
      }
      expect(ran).toEqual([]);
      // Decided from the listing the edge already holds: nothing at all went to the server.
      expect(remote.requests.length).toBe(requests);
      expect(await callOutcome(client, "peek")).toBe("ok");
      expect(ran).toEqual(["peek"]);
      await client.close();
    });
  }

  test("read-only on an edge that never listed the tools: it asks the server's list, never the call", async () => {
    const { user, instanceUrl } = await customUser();
    data(await settings(user, { serviceType: "custom", readOnly: true }));
    ran.length = 0;
    const url = onOther(instanceUrl);
    for (const era of ["modern", "legacy"] as const) {
      const refused = await raw(url, era, "tools/call", { name: "danger", arguments: {} });
      expect(refused.message.error).toEqual({ code: -32602, message: "Unknown tool: danger" });
      const allowed = await raw(url, era, "tools/call", { name: "peek", arguments: {} });
      expect(allowed.message.result.content[0].text).toBe("peek ran");
    }
    expect(ran).toEqual(["peek", "peek"]);
  });

  test("any well-formed tool name is accepted for a relayed server; a malformed one → 400", async () => {
    const { user, instanceId } = await customUser();
    const ok = await settings(user, {
      serviceType: "custom",
      toolAllowlist: ["not_listed.yet", "ns/tool:v2"],
    });
    expect(data(ok)).toMatchObject({ toolAllowlist: ["not_listed.yet", "ns/tool:v2"] });
    const before = await instanceRow(instanceId);
    const bad = await settings(user, { serviceType: "custom", toolAllowlist: ["echo", "bad name!"] });
    expectError(bad, 400, "BAD_REQUEST");
    expect(bad.body.error?.message).toContain("bad name!");
    expect(await instanceRow(instanceId)).toEqual(before);
  });
});

describe("changes reach every edge at once", () => {
  test("an instance both edges cached before the change: the very next request sees it, then sees it undone", async () => {
    const { user, instanceUrl } = await figmaUser("cached");
    const clients = [
      await mcpClient(instanceUrl, { pin: "2026-07-28" }),
      await mcpClient(onOther(instanceUrl), "legacy"),
    ];
    for (const client of clients) expect(await names(client)).toEqual(FIGMA_TOOLS);
    data(await settings(user, { serviceType: "figma", toolAllowlist: ["get_me"] }));
    for (const client of clients) {
      expect(await names(client)).toEqual(["get_me"]);
      expect(await callOutcome(client, "get_file", { file_key: FAKE_FILE_KEY })).toMatchObject({
        code: -32602,
      });
    }
    for (const era of ["modern", "legacy"] as const) {
      for (const url of [instanceUrl, onOther(instanceUrl)]) {
        const listed = await raw(url, era, "tools/list");
        expect(listed.message.result.tools.map((t: { name: string }) => t.name)).toEqual(["get_me"]);
      }
    }
    data(await settings(user, { serviceType: "figma", toolAllowlist: null }));
    for (const client of clients) expect(await names(client)).toEqual(FIGMA_TOOLS);
    await Promise.all(clients.map((c) => c.close()));
  });
});

describe("rate-limit override", () => {
  const post = (url: string, id: number) =>
    fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-protocol-version": "2025-06-18",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id, method: "tools/list" }),
    });

  const status = async (url: string, id: number) => {
    const res = await post(url, id);
    await res.arrayBuffer();
    return res.status;
  };

  test("2 a minute: the third request → the edge's 429, nothing sent upstream; null → the platform's limit again", async () => {
    const { user, instanceUrl } = await figmaUser("limited");
    data(await settings(user, { serviceType: "figma", rateLimitPerMinute: 2 }));
    expect([await status(instanceUrl, 1), await status(instanceUrl, 2)]).toEqual([200, 200]);
    const mark = stack.figma.requests.length;
    const third = await post(instanceUrl, 3);
    expect(third.status).toBe(429);
    expect(third.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(third.headers.get("ratelimit-policy")).toBe('"instance";q=2;w=60');
    expect(await third.json()).toEqual({
      jsonrpc: "2.0",
      id: 3,
      error: {
        code: -32000,
        message: "Rate limit exceeded",
        data: { code: "RATE_LIMIT_EXCEEDED", retryAfterMs: expect.any(Number) },
      },
    });
    expect(stack.figma.requests.length).toBe(mark);
    // Without an override an instance has the platform's limit (600 a minute in tests): three in a row pass.
    const plain = await figmaUser("unlimited");
    const plainStatuses = [];
    for (let i = 1; i <= 3; i++) plainStatuses.push(await status(plain.instanceUrl, i));
    expect(plainStatuses).toEqual([200, 200, 200]);
    // Back to the default: the same instance is no longer held at 2.
    data(await settings(user, { serviceType: "figma", rateLimitPerMinute: null }));
    expect(await status(instanceUrl, 4)).toBe(200);
  });

  test("an override reaches an instance the edge had cached, lowered and raised", async () => {
    const { user, instanceUrl } = await figmaUser("limited-cached");
    expect(await status(instanceUrl, 0)).toBe(200); // cached by the edge before the change
    data(await settings(user, { serviceType: "figma", rateLimitPerMinute: 1 }));
    expect(await status(instanceUrl, 1)).toBe(429);
    data(await settings(user, { serviceType: "figma", rateLimitPerMinute: 5 }));
    expect(await status(instanceUrl, 2)).toBe(200);
  });
});

describe("instances.updateSettings: answers and bad input", () => {
  test("the answer, instances.get and instances.list carry the settings; null puts each back", async () => {
    const { user, instanceId } = await figmaUser("answers");
    const fresh = data<Record<string, unknown>>(
      await trpc(stack, "instances.get", { serviceType: "figma" }, { cookie: user.cookie }),
    );
    expect(fresh).toMatchObject({
      displayName: null,
      toolAllowlist: null,
      readOnly: false,
      rateLimitPerMinute: null,
    });
    const set = data(
      await settings(user, {
        serviceType: "figma",
        displayName: "  Design team  ",
        toolAllowlist: ["get_me"],
        readOnly: true,
        rateLimitPerMinute: 10_000,
      }),
    );
    const expected = {
      instanceId,
      serviceType: "figma",
      status: "active",
      displayName: "Design team",
      toolAllowlist: ["get_me"],
      readOnly: true,
      rateLimitPerMinute: 10_000,
    };
    expect(set).toMatchObject(expected);
    expect(
      data(await trpc(stack, "instances.get", { serviceType: "figma" }, { cookie: user.cookie })),
    ).toMatchObject(expected);
    expect(data(await trpc(stack, "instances.list", undefined, { cookie: user.cookie }))).toEqual([
      expect.objectContaining(expected),
    ]);
    // Omitted fields are unchanged.
    expect(data(await settings(user, { serviceType: "figma", readOnly: false }))).toMatchObject({
      ...expected,
      readOnly: false,
    });
    const reset = data(
      await settings(user, {
        serviceType: "figma",
        displayName: null,
        toolAllowlist: null,
        rateLimitPerMinute: null,
      }),
    );
    expect(reset).toMatchObject({
      displayName: null,
      toolAllowlist: null,
      readOnly: false,
      rateLimitPerMinute: null,
    });
  });

  test("readOnly: null puts read-only mode back to its default (false), over tRPC and REST", async () => {
    const { user, instanceId } = await figmaUser("read-only-null");
    const auth = { cookie: user.cookie };
    const path = "/services/figma/instance/settings";
    data(await settings(user, { serviceType: "figma", displayName: "Kept", rateLimitPerMinute: 40 }));
    const kept = { instanceId, displayName: "Kept", rateLimitPerMinute: 40 };
    expect(data(await settings(user, { serviceType: "figma", readOnly: true }))).toMatchObject({
      ...kept,
      readOnly: true,
    });
    // The typed SDK takes it too (checked by tsc).
    const reset: RouterInputs["instances"]["updateSettings"] = { serviceType: "figma", readOnly: null };
    const viaTrpc = await settings(user, reset);
    expect(viaTrpc.status).toBe(200);
    expect(data(viaTrpc)).toMatchObject({ ...kept, readOnly: false });
    expect((await instanceRow(instanceId))?.readOnly).toBe(false);

    const on = await rest(stack, "PATCH", path, { body: { readOnly: true }, auth });
    expect({ status: on.status, readOnly: on.body.readOnly }).toEqual({ status: 200, readOnly: true });
    const viaRest = await rest(stack, "PATCH", path, { body: { readOnly: null }, auth });
    expect(viaRest.status).toBe(200);
    expect(viaRest.body).toMatchObject({ ...kept, readOnly: false });
    const got = await rest(stack, "GET", "/services/figma/instance", { auth });
    expect(got.body).toMatchObject({ ...kept, readOnly: false });
    // Audited like any reset: the setting changed, with its new value.
    const listed = data<{ items: { detail: unknown }[] }>(
      await trpc(stack, "audit.list", { filters: { action: "instance.settings" }, limit: 1 }, auth),
    ).items;
    expect(listed.map((i) => i.detail)).toEqual([{ changed: ["readOnly"], readOnly: false }]);
    // The OpenAPI document says so too.
    const doc = await rest(stack, "GET", "/openapi.json");
    const schemas = (
      doc.body.components as { schemas: Record<string, { properties: Record<string, unknown> }> }
    ).schemas;
    expect(schemas.UpdateInstanceSettingsRequest?.properties.readOnly).toEqual({ type: ["boolean", "null"] });
  });

  test("audited as instance.settings: the settings changed, the new values of the configuration, never the name", async () => {
    const { user, instanceId } = await figmaUser("audited");
    data(await settings(user, { serviceType: "figma", displayName: "Secretive name 7f3a" }));
    data(
      await settings(user, {
        serviceType: "figma",
        displayName: "Another secretive name",
        readOnly: true,
        rateLimitPerMinute: 30,
        toolAllowlist: ["get_me", "get_file"],
      }),
    );
    data(await settings(user, { serviceType: "figma", toolAllowlist: null, rateLimitPerMinute: null }));
    const events = await stack.platform.deps.db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.userId, user.userId), eq(auditEvents.action, "instance.settings")));
    expect(events).toHaveLength(3);
    for (const event of events) {
      expect(event).toMatchObject({ status: "ok", target: instanceId, instanceId, serviceType: "figma" });
    }
    expect(JSON.stringify(events)).not.toContain("ecretive");
    // As audit.list shows them, newest first.
    const listed = data<{ items: { detail: unknown }[] }>(
      await trpc(stack, "audit.list", { filters: { action: "instance.settings" } }, { cookie: user.cookie }),
    ).items;
    expect(listed.map((i) => i.detail)).toEqual([
      { changed: ["toolAllowlist", "rateLimitPerMinute"], toolAllowlist: null, rateLimitPerMinute: null },
      {
        changed: ["displayName", "toolAllowlist", "readOnly", "rateLimitPerMinute"],
        readOnly: true,
        rateLimitPerMinute: 30,
        toolAllowlist: ["get_file", "get_me"],
      },
      { changed: ["displayName"] },
    ]);
  });

  test("each bad input: exact status and code, the instance unchanged", async () => {
    const { user, instanceId } = await figmaUser("bad");
    data(await settings(user, { serviceType: "figma", displayName: "Kept", rateLimitPerMinute: 50 }));
    const before = await instanceRow(instanceId);
    const cases: [string, Record<string, unknown>, string?][] = [
      ["unknown tool", { toolAllowlist: ["get_me", "no_such_tool"] }, "no_such_tool"],
      ["rate 0", { rateLimitPerMinute: 0 }],
      ["rate 10001", { rateLimitPerMinute: 10_001 }],
      ["rate not whole", { rateLimitPerMinute: 1.5 }],
      ["rate as text", { rateLimitPerMinute: "5" }],
      ["name of 81", { displayName: "x".repeat(81) }],
      ["blank name", { displayName: "   " }],
      ["empty input", {}],
      ["only unknown fields", { colour: "red" }],
      ["duplicate tools", { toolAllowlist: ["get_me", "get_me"] }],
      ["201 tools", { toolAllowlist: Array.from({ length: 201 }, (_, i) => `t${i}`) }],
      ["tool of 129", { toolAllowlist: ["x".repeat(129)] }],
      ["empty tool name", { toolAllowlist: [""] }],
      ["readOnly as text", { readOnly: "yes" }],
    ];
    for (const [label, input, named] of cases) {
      const res = await settings(user, { serviceType: "figma", ...input });
      expect({ label, status: res.status, code: res.body.error?.data.appCode }).toEqual({
        label,
        status: 400,
        code: "BAD_REQUEST",
      });
      if (named) expect(res.body.error?.message).toContain(named);
    }
    expect(await instanceRow(instanceId)).toEqual(before);
  });

  test("revoked, missing, unknown service, another user's, no scope, anonymous: nothing changes", async () => {
    const a = await figmaUser("owner-a");
    const b = await newUser(stack);
    data(await settings(a.user, { serviceType: "figma", displayName: "A's" }));
    const before = await instanceRow(a.instanceId);
    // B has no figma instance of their own: A's is out of reach (404), and stays as it was.
    expectError(await settings(b, { serviceType: "figma", readOnly: true }), 404, "NOT_FOUND");
    expectError(await settings(b, { serviceType: "figma", toolAllowlist: ["get_me"] }), 404, "NOT_FOUND");
    expectError(await settings(a.user, { serviceType: "github", readOnly: true }), 404, "NOT_FOUND");
    expectError(await settings(a.user, { serviceType: "custom", readOnly: true }), 404, "NOT_FOUND");
    expectError(await settings(a.user, { serviceType: "no-such-service", readOnly: true }), 404, "NOT_FOUND");
    const readOnlyKey = data<{ key: string }>(
      await trpc(
        stack,
        "apiKeys.create",
        { name: "ro", scopes: ["instances:read"] },
        { cookie: a.user.cookie },
      ),
    );
    expectError(
      await settings(a.user, { serviceType: "figma", readOnly: true }, { apiKey: readOnlyKey.key }),
      403,
      "FORBIDDEN",
    );
    expectError(await settings(a.user, { serviceType: "figma", readOnly: true }, {}), 401, "UNAUTHORIZED");
    expect(await instanceRow(a.instanceId)).toEqual(before);

    const writeKey = data<{ key: string }>(
      await trpc(
        stack,
        "apiKeys.create",
        { name: "rw", scopes: ["instances:write"] },
        { cookie: a.user.cookie },
      ),
    );
    expect(
      data(await settings(a.user, { serviceType: "figma", readOnly: true }, { apiKey: writeKey.key })),
    ).toMatchObject({
      readOnly: true,
    });

    data(await trpc(stack, "instances.revoke", { serviceType: "figma" }, { cookie: a.user.cookie }));
    const revoked = await instanceRow(a.instanceId);
    expectError(await settings(a.user, { serviceType: "figma", readOnly: false }), 404, "NOT_FOUND");
    expect(await instanceRow(a.instanceId)).toEqual(revoked);
  });
});

describe("REST twin: PATCH /api/v1/services/:serviceType/instance/settings", () => {
  const path = "/services/figma/instance/settings";

  test("changes the settings; GET answers them; in the OpenAPI document", async () => {
    const { user, instanceId, instanceUrl } = await figmaUser("rest");
    const auth = { cookie: user.cookie };
    const res = await rest(stack, "PATCH", path, {
      body: { displayName: "REST", toolAllowlist: ["get_me"] },
      auth,
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      instanceId,
      displayName: "REST",
      toolAllowlist: ["get_me"],
      readOnly: false,
    });
    const got = await rest(stack, "GET", "/services/figma/instance", { auth });
    expect(got.body).toMatchObject({
      displayName: "REST",
      toolAllowlist: ["get_me"],
      rateLimitPerMinute: null,
    });
    const listed = await raw(instanceUrl, "modern", "tools/list");
    expect(listed.message.result.tools.map((t: { name: string }) => t.name)).toEqual(["get_me"]);
    const doc = await rest(stack, "GET", "/openapi.json");
    const paths = doc.body.paths as Record<string, Record<string, { operationId?: string }>>;
    expect(paths["/services/{serviceType}/instance/settings"]?.patch?.operationId).toBe(
      "updateInstanceSettings",
    );
  });

  test("bad input and missing instances: exact status and code, nothing changed", async () => {
    const { user, instanceId } = await figmaUser("rest-bad");
    const auth = { cookie: user.cookie };
    const before = await instanceRow(instanceId);
    for (const body of [
      {},
      { rateLimitPerMinute: 0 },
      { toolAllowlist: ["nope"] },
      { displayName: "y".repeat(81) },
    ]) {
      const res = await rest(stack, "PATCH", path, { body, auth });
      expect({ status: res.status, code: res.body.code }).toEqual({ status: 400, code: "BAD_REQUEST" });
      expect(res.body.requestId).toBeString();
    }
    const notJson = await rest(stack, "PATCH", path, { raw: "nope", auth });
    expect({ status: notJson.status, code: notJson.body.code }).toEqual({ status: 400, code: "BAD_REQUEST" });
    const missing = await rest(stack, "PATCH", "/services/github/instance/settings", {
      body: { readOnly: true },
      auth,
    });
    expect({ status: missing.status, code: missing.body.code }).toEqual({ status: 404, code: "NOT_FOUND" });
    const stranger = await newUser(stack);
    const foreign = await rest(stack, "PATCH", path, {
      body: { readOnly: true },
      auth: { cookie: stranger.cookie },
    });
    expect({ status: foreign.status, code: foreign.body.code }).toEqual({ status: 404, code: "NOT_FOUND" });
    const anonymous = await rest(stack, "PATCH", path, { body: { readOnly: true } });
    expect({ status: anonymous.status, code: anonymous.body.code }).toEqual({
      status: 401,
      code: "UNAUTHORIZED",
    });
    expect(await instanceRow(instanceId)).toEqual(before);
  });
});
