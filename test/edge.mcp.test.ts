// Black-box protocol tests of one instance URL: exact statuses and JSON-RPC codes over raw fetch for
// both protocol eras, flows through the real SDK clients (v2 and 1.x), upstream failures as tool
// errors, health and metrics, and the audit trail of tool calls.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Client, ProtocolError, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { Client as V1Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport as V1Transport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { McpError } from "@modelcontextprotocol/sdk/types.js";
import { connectFigma, data, figmaKeyFor, newUser, type TestUser, trpc } from "./client.ts";
import { FAKE_FILE_KEY } from "./fakes/figma.ts";
import { type Stack, startStack, TEST_METRICS_TOKEN } from "./harness.ts";

const CURRENT = "2026-07-28";
const LEGACY = ["2025-11-25", "2025-06-18", "2025-03-26"] as const;

let stack: Stack;
let slow: Stack;

beforeAll(async () => {
  [stack, slow] = await Promise.all([startStack(), startStack({ limits: { upstreamTimeoutMs: 300 } })]);
});
afterAll(async () => {
  await Promise.all([stack?.stop(), slow?.stop()]);
});

interface Connected {
  user: TestUser;
  key: string;
  url: string;
  token: string;
}

async function connected(on: Stack = stack): Promise<Connected> {
  const user = await newUser(on);
  const key = figmaKeyFor(on, user.userId);
  const { instanceUrl } = await connectFigma(on, user, key);
  return { user, key, url: instanceUrl, token: new URL(instanceUrl).pathname.split("/")[1] ?? "" };
}

interface RpcAnswer {
  status: number;
  headers: Headers;
  text: string;
  /** The JSON-RPC message, from a JSON body or the first SSE `data:` line. */
  message: {
    jsonrpc: string;
    id?: unknown;
    result?: Record<string, unknown>;
    error?: { code: number; message: string; data?: Record<string, unknown> };
  };
}

async function answerOf(res: Response): Promise<RpcAnswer> {
  const text = await res.text();
  const isSse = (res.headers.get("content-type") ?? "").includes("text/event-stream");
  const json = isSse
    ? (text
        .split("\n")
        .find((l) => l.startsWith("data:"))
        ?.slice(5) ?? "null")
    : text;
  return { status: res.status, headers: res.headers, text, message: JSON.parse(json) };
}

const meta = (version = CURRENT) => ({
  "io.modelcontextprotocol/protocolVersion": version,
  "io.modelcontextprotocol/clientCapabilities": {},
  "io.modelcontextprotocol/clientInfo": { name: "raw", version: "1" },
});

/** A 2026-07-28 request with matching headers unless `headers` overrides them. */
async function modern(
  url: string,
  method: string,
  params: Record<string, unknown> = {},
  opts: { headers?: Record<string, string>; version?: string; id?: number | string } = {},
): Promise<RpcAnswer> {
  const version = opts.version ?? CURRENT;
  const name = typeof params.name === "string" ? params.name : undefined;
  const res = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": version,
      "mcp-method": method,
      ...(name !== undefined && { "mcp-name": name }),
      ...opts.headers,
    },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: opts.id ?? 1,
      method,
      params: { ...params, _meta: meta(version) },
    }),
  });
  return answerOf(res);
}

/** A 2025-era request: no MCP headers beyond content negotiation (and the version, after initialize). */
async function legacy(url: string, body: Record<string, unknown>, version?: string): Promise<RpcAnswer> {
  const res = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      ...(version && { "mcp-protocol-version": version }),
    },
    body: JSON.stringify({ jsonrpc: "2.0", ...body }),
  });
  return answerOf(res);
}

const toolCall = (url: string, name: string, args: unknown) =>
  modern(url, "tools/call", { name, arguments: args });

type Mode = "legacy" | "auto" | { pin: string };
async function v2Client(url: string, mode: Mode = { pin: CURRENT }): Promise<Client> {
  const client = new Client({ name: "edge-mcp", version: "1.0.0" }, { versionNegotiation: { mode } });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

async function v1Client(url: string): Promise<V1Client> {
  const client = new V1Client({ name: "edge-mcp-v1", version: "1.0.0" });
  await client.connect(new V1Transport(new URL(url)));
  return client;
}

const textOf = (result: unknown): string => {
  const content = (result as { content?: { type: string; text?: string }[] }).content;
  return (content ?? []).map((c) => c.text ?? "").join("\n");
};

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to be rejected");
}

describe("2026-07-28 over raw HTTP", () => {
  test("Mcp-Method disagreeing with the body → 400, -32020", async () => {
    const { url } = await connected();
    const a = await modern(url, "tools/list", {}, { headers: { "mcp-method": "tools/call" } });
    expect(a.status).toBe(400);
    expect(a.message.error?.code).toBe(-32020);
    expect(a.message.id).toBe(1);
    // Mcp-Name disagreeing with params.name, and missing on tools/call.
    const before = stack.figma.requests.length;
    const b = await modern(
      url,
      "tools/call",
      { name: "get_me", arguments: {} },
      { headers: { "mcp-name": "get_file" } },
    );
    expect(b.status).toBe(400);
    expect(b.message.error?.code).toBe(-32020);
    const res = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-protocol-version": CURRENT,
        "mcp-method": "tools/call",
      },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 2,
        method: "tools/call",
        params: { name: "get_me", arguments: {}, _meta: meta() },
      }),
    });
    const c = await answerOf(res);
    expect(c.status).toBe(400);
    expect(c.message.error?.code).toBe(-32020);
    expect(stack.figma.requests.length).toBe(before);
  });

  test("an unsupported MCP-Protocol-Version → 400, -32022 listing the supported versions", async () => {
    const { url } = await connected();
    const a = await modern(url, "tools/list", {}, { version: "2030-01-01" });
    expect(a.status).toBe(400);
    expect(a.message.error?.code).toBe(-32022);
    const supported = a.message.error?.data?.supported as string[];
    expect(supported).toContain(CURRENT);
    expect(supported).not.toContain("2030-01-01");
  });

  test("an unknown method → -32601", async () => {
    const { url } = await connected();
    const a = await modern(url, "tools/frobnicate", {}, { id: "x-1" });
    expect(a.status).toBe(404);
    expect(a.message.error?.code).toBe(-32601);
    expect(a.message.id).toBe("x-1");
  });

  test("server/discover and tools/list answer with resultType and the Figma tools", async () => {
    const { url } = await connected();
    const discover = await modern(url, "server/discover");
    expect(discover.status).toBe(200);
    expect(discover.message.result?.supportedVersions).toEqual([CURRENT, ...LEGACY]);
    const list = await modern(url, "tools/list");
    expect(list.status).toBe(200);
    const tools = list.message.result?.tools as { name: string; inputSchema: object }[];
    expect(tools.map((t) => t.name)).toContain("get_file");
    expect(list.message.result?.resultType).toBe("complete");
    // Every answer names its request (the fast path's and the SDK's own Responses too).
    for (const answer of [discover, list]) expect(answer.headers.get("x-request-id")).toMatch(/^req_/);
  });

  test("tools/list with a cursor (the list is one page: none was handed out) → -32602", async () => {
    const { url } = await connected();
    const a = await modern(url, "tools/list", { cursor: "bogus" }, { id: "c-1" });
    expect(a.message.error?.code).toBe(-32602);
    expect(a.message.id).toBe("c-1");
    const b = await legacy(url, { id: 5, method: "tools/list", params: { cursor: "bogus" } }, "2025-11-25");
    expect(b.message.error?.code).toBe(-32602);
  });

  test("tools/call of an unknown tool → -32602, no upstream call", async () => {
    const { url } = await connected();
    const before = stack.figma.requests.length;
    const a = await toolCall(url, "delete_everything", {});
    expect(a.message.error?.code).toBe(-32602);
    expect(a.message.error?.message).toContain("delete_everything");
    expect(stack.figma.requests.length).toBe(before);
  });

  test("arguments violating the input schema → a tool error the model can correct (BAD_REQUEST), no upstream call", async () => {
    const { url } = await connected();
    const before = stack.figma.requests.length;
    const bad: [string, unknown][] = [
      ["get_file", {}], // missing file_key
      ["get_file", { file_key: 42 }], // wrong type
      ["get_file", { file_key: "abc", depth: "deep" }],
      ["get_file", { file_key: "abc", surprise: true }], // extra property
      ["get_file", { file_key: "a".repeat(129) }], // over-long
      ["get_file", { file_key: "../../v1/me" }], // pattern
      ["get_file_nodes", { file_key: "abc" }], // missing ids
      ["post_comment", { file_key: "abc", message: "" }], // too short
      ["post_comment", { file_key: "abc", message: "x".repeat(5001) }],
      ["get_images", { file_key: "abc", ids: "1:2", format: "gif" }], // not in enum
      ["get_me", { unexpected: 1 }],
    ];
    for (const [name, args] of bad) {
      const a = await toolCall(url, name, args);
      expect(a.message.error).toBeUndefined();
      const result = a.message.result as {
        isError?: boolean;
        _meta?: { code?: string };
        content: { text: string }[];
      };
      expect({ name, isError: result.isError, code: result._meta?.code }).toEqual({
        name,
        isError: true,
        code: "BAD_REQUEST",
      });
      expect(result.content[0]?.text).toStartWith(`Invalid arguments for tool ${name}: `);
    }
    expect(stack.figma.requests.length).toBe(before);
  });

  test("Content-Type text/plain → 415", async () => {
    const { url } = await connected();
    const res = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "text/plain",
        accept: "application/json, text/event-stream",
        "mcp-protocol-version": CURRENT,
        "mcp-method": "tools/list",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: { _meta: meta() } }),
    });
    expect(res.status).toBe(415);
    await res.body?.cancel();
  });
});

describe("2025 era over raw HTTP", () => {
  for (const version of LEGACY) {
    test(`initialize with ${version} → the server answers with ${version}`, async () => {
      const { url } = await connected();
      const a = await legacy(url, {
        id: 1,
        method: "initialize",
        params: { protocolVersion: version, capabilities: {}, clientInfo: { name: "raw", version: "1" } },
      });
      expect(a.status).toBe(200);
      expect(a.message.result?.protocolVersion).toBe(version);
      expect(a.message.result?.capabilities).toMatchObject({ tools: {} });
      // Stateless: no session id is minted.
      expect(a.headers.get("mcp-session-id")).toBeNull();
      const list = await legacy(url, { id: 2, method: "tools/list", params: {} }, version);
      expect(list.status).toBe(200);
      expect(list.message.result?.tools).toHaveLength(6);
    });
  }

  test("initialize with an unknown version → the server counter-offers one it serves", async () => {
    const { url } = await connected();
    const a = await legacy(url, {
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2024-01-01", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
    });
    expect(a.status).toBe(200);
    expect(LEGACY).toContain(a.message.result?.protocolVersion as (typeof LEGACY)[number]);
  });

  test("an unknown method → -32601; an unknown tool → -32602", async () => {
    const { url } = await connected();
    const a = await legacy(url, { id: 3, method: "tools/frobnicate", params: {} }, "2025-11-25");
    expect(a.message.error?.code).toBe(-32601);
    expect(a.message.id).toBe(3);
    const b = await legacy(
      url,
      { id: 4, method: "tools/call", params: { name: "nope", arguments: {} } },
      "2025-11-25",
    );
    expect(b.message.error?.code).toBe(-32602);
  });

  test("GET and DELETE on a valid URL (2025 session operations) → 405 for a stateless server", async () => {
    const { url } = await connected();
    for (const method of ["GET", "DELETE"]) {
      const res = await fetch(url, {
        method,
        headers: { accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-11-25" },
      });
      expect(res.status).toBe(405);
      await res.body?.cancel();
    }
  });
});

describe("SDK clients", () => {
  test("v2 and 1.x clients get schema violations as tool errors and unknown tools as -32602, no upstream call", async () => {
    const { url } = await connected();
    const v2 = await v2Client(url);
    const v2legacy = await v2Client(url, "legacy");
    const v1 = await v1Client(url);
    const before = stack.figma.requests.length;
    const refusedArguments = (result: unknown) =>
      expect(result).toMatchObject({ isError: true, _meta: { code: "BAD_REQUEST" } });
    for (const client of [v2, v2legacy]) {
      refusedArguments(await client.callTool({ name: "get_file", arguments: {} }));
      refusedArguments(await client.callTool({ name: "get_file", arguments: { file_key: 1 } }));
      const error = await rejection(client.callTool({ name: "no_such_tool", arguments: {} }));
      expect(error).toBeInstanceOf(ProtocolError);
      expect((error as ProtocolError).code).toBe(-32602);
    }
    refusedArguments(await v1.callTool({ name: "get_file", arguments: { file_key: "abc", extra: 1 } }));
    const error = await rejection(v1.callTool({ name: "no_such_tool", arguments: {} }));
    expect(error).toBeInstanceOf(McpError);
    expect((error as McpError).code).toBe(-32602);
    expect(stack.figma.requests.length).toBe(before);
    await Promise.all([v2.close(), v2legacy.close(), v1.close()]);
  });

  test("the 1.x client negotiates a 2025 version and calls a tool", async () => {
    const { url, key } = await connected();
    const client = await v1Client(url);
    const transport = client.transport as V1Transport | undefined;
    expect(LEGACY).toContain(transport?.protocolVersion as (typeof LEGACY)[number]);
    const result = await client.callTool({
      name: "get_file",
      arguments: { file_key: FAKE_FILE_KEY, depth: 1 },
    });
    expect(result.isError).toBeFalsy();
    expect(JSON.parse(textOf(result)).name).toBeString();
    expect(textOf(result)).not.toContain(key);
    await client.close();
  });
});

describe("upstream failures are tool errors", () => {
  test("403 for a key the upstream no longer accepts → isError asking to reconnect; needs_reauth", async () => {
    const { url, user, key, token } = await connected();
    const client = await v2Client(url);
    // Revoked upstream: the call and the re-validation both get 403 (a one-off 403 for a key that still
    // validates is an access refusal, not expired credentials; see edge.upstream.test.ts).
    stack.figma.removeKey(key);
    const result = await client.callTool({ name: "get_me", arguments: {} });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/reconnect/i);
    expect(textOf(result)).not.toContain(key);
    expect(textOf(result)).not.toContain(token);
    await client.close();

    const list = await trpc(stack, "instances.list", undefined, { cookie: user.cookie });
    expect(data<{ status: string; isActive: boolean }[]>(list)).toEqual([
      expect.objectContaining({ status: "needs_reauth", isActive: true }),
    ]);
    // Reconnecting with a working key makes the instance active again.
    const fresh = figmaKeyFor(stack, `${user.userId}-again`);
    const { instanceUrl } = await connectFigma(stack, user, fresh);
    const again = await toolCall(instanceUrl, "get_me", {});
    expect(again.message.result?.isError).toBeFalsy();
    const after = await trpc(stack, "instances.list", undefined, { cookie: user.cookie });
    expect(data<{ status: string }[]>(after)[0]?.status).toBe("active");
  });

  test("500 from the upstream → isError (service unavailable), through the 1.x client too", async () => {
    const { url, key } = await connected();
    const client = await v2Client(url, "legacy");
    stack.figma.failNext(500, { status: 500, err: "Internal" });
    const result = await client.callTool({ name: "get_comments", arguments: { file_key: FAKE_FILE_KEY } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/unavailable/i);
    expect(textOf(result)).not.toContain(key);
    await client.close();

    const v1 = await v1Client(url);
    stack.figma.failNext(502, { status: 502, err: "Bad gateway" });
    const r1 = await v1.callTool({ name: "get_comments", arguments: { file_key: FAKE_FILE_KEY } });
    expect(r1.isError).toBe(true);
    expect(textOf(r1)).toMatch(/unavailable/i);
    await v1.close();
    // A failure is not cached: the next read reaches the upstream and succeeds.
    const ok = await toolCall(url, "get_comments", { file_key: FAKE_FILE_KEY });
    expect(ok.message.result?.isError).toBeFalsy();
  });

  test("404 for an unknown file → isError with Figma's message", async () => {
    const { url, key } = await connected();
    const client = await v2Client(url);
    const result = await client.callTool({ name: "get_file", arguments: { file_key: "NoSuchFile123" } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain("404");
    expect(textOf(result)).toContain("Not found");
    expect(textOf(result)).not.toContain(key);
    await client.close();
  });

  test("an upstream slower than the tool timeout → isError, answered without waiting for it", async () => {
    const { url, key } = await connected(slow);
    slow.figma.delayMs = 1000;
    try {
      const client = await v2Client(url);
      const result = await client.callTool({ name: "get_me", arguments: {} });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/did not answer in time/i);
      expect(textOf(result)).not.toContain(key);
      await client.close();
    } finally {
      slow.figma.delayMs = 0;
    }
  });

  test("tool results never contain the API key or the instance token", async () => {
    const { url, key, token } = await connected();
    const client = await v2Client(url, "auto");
    const results = [
      await client.callTool({ name: "get_me", arguments: {} }),
      await client.callTool({ name: "get_file", arguments: { file_key: FAKE_FILE_KEY } }),
      await client.callTool({ name: "get_comments", arguments: { file_key: FAKE_FILE_KEY } }),
      await client.callTool({ name: "post_comment", arguments: { file_key: FAKE_FILE_KEY, message: "hi" } }),
    ];
    stack.figma.failNext(400, { status: 400, err: `bad request for token ${key}` });
    results.push(await client.callTool({ name: "get_images", arguments: { file_key: "abc", ids: "1:2" } }));
    for (const r of results) {
      const text = JSON.stringify(r);
      expect(text).not.toContain(key);
      expect(text).not.toContain(token);
    }
    expect(results.at(-1)?.isError).toBe(true);
    expect(textOf(results.at(-1))).toContain("[redacted]");
    await client.close();
  });
});

describe("operations", () => {
  test("/health → 200 { status: ok }", async () => {
    const res = await fetch(`${stack.edgeUrl}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "ok" });
  });

  test("/metrics (with METRICS_TOKEN) → Prometheus text with tool-call counters after a call", async () => {
    const { url } = await connected();
    const call = await toolCall(url, "get_me", {});
    expect(call.message.result?.isError).toBeFalsy();
    const res = await fetch(`${stack.edgeUrl}/metrics`, {
      headers: { authorization: `Bearer ${TEST_METRICS_TOKEN}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const text = await res.text();
    expect(text).toContain("# TYPE mcp_edge_tool_calls_total counter");
    expect(text).toMatch(/mcp_edge_tool_calls_total\{[^}]*tool="get_me"[^}]*\} \d+/);
    expect(text).toContain("mcp_edge_requests_total");
  });

  test("tool calls leave audit events with tool, status and latency, and no secret", async () => {
    const { url, user, key, token } = await connected();
    await toolCall(url, "get_me", {});
    stack.figma.failNext(500, { status: 500, err: "Internal" });
    await toolCall(url, "get_file", { file_key: FAKE_FILE_KEY });
    await stack.edge.deps.audit.flush();
    const rows = await stack.platform.deps.db.query.auditEvents.findMany({
      where: (t, { eq }) => eq(t.userId, user.userId),
    });
    const calls = rows.filter((r) => r.action === "tool.call");
    expect(calls).toHaveLength(2);
    const byTool = new Map(calls.map((r) => [r.tool, r]));
    expect(byTool.get("get_me")).toMatchObject({ status: "ok" });
    expect(byTool.get("get_file")).toMatchObject({ status: "SERVICE_UNAVAILABLE" });
    for (const row of calls) {
      expect(row.latencyMs).toBeNumber();
      expect(row.latencyMs).toBeGreaterThanOrEqual(0);
      expect(row.instanceId).toBeString();
      expect(row.requestId).toStartWith("req_");
      // A real time survives the batch statement (sent as text, cast to timestamptz).
      expect(Math.abs(row.createdAt.getTime() - Date.now())).toBeLessThan(10 * 60_000);
    }
    const dump = JSON.stringify(rows);
    expect(dump).not.toContain(key);
    expect(dump).not.toContain(token);
  });
});
