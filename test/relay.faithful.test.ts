// What a relayed MCP server (a custom instance) says reaches the client as the server said it, and what the
// client says reaches the server, in both protocol eras: list pages, the client's `_meta`, JSON-RPC errors
// (code, message, data), cancellation; and a server whose session expires mid-use keeps serving.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Client, ProtocolError, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { Client as V1Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport as V1Transport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { data, newUser, trpc } from "./client.ts";
import { type SessionMcp, startSessionMcp } from "./fakes/session-mcp.ts";
import { type Stack, startStack } from "./harness.ts";
import { until } from "./wait.ts";

let stack: Stack;
let sse: SessionMcp; // answers in SSE streams
let json: SessionMcp; // answers in JSON bodies
/** Every instance's sealed header: it reaches the server and nothing else. */
const SECRET = `Bearer relay-${crypto.randomUUID()}`;

beforeAll(async () => {
  [stack, sse, json] = await Promise.all([
    startStack({ allowPrivateUpstreams: true }),
    startSessionMcp(),
    startSessionMcp({ json: true }),
  ]);
});
afterAll(async () => {
  await Promise.all([stack.stop(), sse.stop(), json.stop()]);
});

type Mode = "legacy" | { pin: string };
const MODES: [string, Mode][] = [
  ["2026-07-28", { pin: "2026-07-28" }],
  ["2025-era", "legacy"],
];

async function customInstance(upstream: SessionMcp): Promise<string> {
  const user = await newUser(stack);
  const res = await trpc(
    stack,
    "instances.connectCustom",
    { name: "sessions", url: upstream.url, headers: { authorization: SECRET } },
    { cookie: user.cookie },
  );
  return data<{ instanceUrl: string }>(res).instanceUrl;
}

async function v2(url: string, mode: Mode): Promise<Client> {
  const client = new Client({ name: "relay-faithful", version: "1" }, { versionNegotiation: { mode } });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

const text = (result: unknown): string =>
  (result as { content?: { text?: string }[] }).content?.[0]?.text ?? "";

describe.each([
  ["SSE", () => sse],
  ["JSON", () => json],
] as const)("a 2025-era server with sessions, answering in %s", (_, upstream) => {
  test.each(MODES)(
    "lists page: the server's cursors reach a %s client and go back to it",
    async (_, mode) => {
      const url = await customInstance(upstream());
      const client = await v2(url, mode);
      // The first pages over raw HTTP: an SDK client's listTools() and the like walk every page themselves.
      const first = await rawList(url, mode);
      expect(first.tools.map((t) => (t as { name: string }).name)).toContain("meta");
      expect(first.nextCursor).toBe("page-2");
      // The page's own _meta too, as for every other list and result.
      expect(first._meta?.["com.example/page"]).toBe(1);
      const second = await client.listTools({ cursor: "page-2" });
      expect(second.tools.map((t) => t.name)).toEqual(["second_page_tool"]);
      expect(second.nextCursor).toBeUndefined();
      expect(second._meta?.["com.example/page"]).toBe(2);
      expect((await rawList(url, mode, "resources/list")).nextCursor).toBe("page-2");
      expect((await client.listResources({ cursor: "page-2" })).resources.map((r) => r.uri)).toEqual([
        "memo://two",
      ]);
      expect((await rawList(url, mode, "prompts/list")).nextCursor).toBe("page-2");
      expect((await client.listPrompts({ cursor: "page-2" })).prompts.map((p) => p.name)).toEqual(["second"]);
      await client.close();
    },
  );

  test.each(MODES)(
    "a %s client's own _meta on a call reaches the server; the protocol's keys are the edge's",
    async (_, mode) => {
      const url = await customInstance(upstream());
      const client = await v2(url, mode);
      const result = await client.callTool({
        name: "meta",
        arguments: {},
        _meta: { "com.example/trace": "trace-7", progressToken: "client-token" },
      });
      const meta = JSON.parse(text(result)) as Record<string, unknown> | null;
      expect(meta?.["com.example/trace"]).toBe("trace-7");
      // The client's progress token is the relay's business (its own token goes upstream), as are the
      // protocol's reserved keys of a 2026-07-28 envelope.
      expect(meta?.progressToken).not.toBe("client-token");
      expect(Object.keys(meta ?? {}).filter((k) => k.startsWith("io.modelcontextprotocol/"))).toEqual([]);
      await client.close();
    },
  );

  test.each(MODES)("a JSON-RPC error keeps its code, message and data for a %s client", async (_, mode) => {
    const url = await customInstance(upstream());
    const client = await v2(url, mode);
    const error = await client.callTool({ name: "rpc_error", arguments: {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).code).toBe(-32050);
    expect((error as ProtocolError).message).toBe("custom failure");
    const { detail, auth } = (error as ProtocolError).data as { detail: string; auth: string };
    expect(detail).toBe("kept");
    // The server quoted the user's header: redacted on the way back.
    expect(typeof auth).toBe("string");
    expect(auth).not.toContain(SECRET.slice(7));
    await client.close();
  });

  test.each(MODES)(
    "the server's session expires mid-use: a %s client's next call is served by a new one",
    async (_, mode) => {
      const url = await customInstance(upstream());
      const client = await v2(url, mode);
      expect(text(await client.callTool({ name: "echo", arguments: { text: "before" } }))).toBe("before");
      const before = upstream().sessionsStarted();
      upstream().expireSessions();
      const after = await client.callTool({ name: "echo", arguments: { text: "after" } });
      expect(after.isError).toBeFalsy();
      expect(text(after)).toBe("after");
      expect(upstream().sessionsStarted()).toBeGreaterThan(before);
      // Lists too.
      upstream().expireSessions();
      expect((await client.listTools()).tools.length).toBeGreaterThan(0);
      await client.close();
    },
  );
});

test.each(MODES)(
  "a server listing 1,200 tools in two pages of 600: a %s client gets each page as it is",
  async (_, mode) => {
    const big = await startSessionMcp({ toolsPerPage: 600 });
    const url = await customInstance(big);
    const client = await v2(url, mode);
    const listings = () => big.methods().filter((m) => m === "tools/list").length;
    const before = listings();
    const first = await rawList(url, mode);
    expect(first.nextCursor).toBe("page-2");
    expect(first.tools).toHaveLength(605);
    const second = await client.listTools({ cursor: "page-2" });
    expect(second.tools).toHaveLength(601);
    expect(second.nextCursor).toBeUndefined();
    // Each page went upstream once, as asked: the relay does not walk the server's pages on its own.
    expect(listings() - before).toBe(2);
    await client.close();
    await big.stop();
  },
);

/** One page of a list through the edge over raw HTTP (no SDK walking the pages), in the mode's era. */
async function rawList(
  url: string,
  mode: Mode,
  method = "tools/list",
): Promise<{ tools: unknown[]; nextCursor?: string; _meta?: Record<string, unknown> }> {
  const modern = mode !== "legacy";
  const headers: Record<string, string> = {
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    "mcp-protocol-version": modern ? "2026-07-28" : "2025-11-25",
  };
  if (modern) headers["mcp-method"] = method;
  const params = modern
    ? {
        _meta: {
          "io.modelcontextprotocol/protocolVersion": "2026-07-28",
          "io.modelcontextprotocol/clientCapabilities": {},
          "io.modelcontextprotocol/clientInfo": { name: "raw", version: "1" },
        },
      }
    : {};
  const res = await fetch(url, {
    method: "POST",
    headers,
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = await res.text();
  const json = body.startsWith("{")
    ? body
    : (body.split("\n").find((l) => l.startsWith("data: ")) ?? "").slice(6);
  const parsed = JSON.parse(json) as {
    result?: { tools: unknown[]; nextCursor?: string; _meta?: Record<string, unknown> };
    error?: unknown;
  };
  if (!parsed.result) throw new Error(`${method} failed: ${body.slice(0, 300)}`);
  return parsed.result;
}

test.each(MODES)(
  "a tool declaring an output schema that answers without structured content: its result reaches a %s client as is",
  async (_, mode) => {
    const url = await customInstance(sse);
    const client = await v2(url, mode);
    await client.listTools({ cursor: "page-2" }).catch(() => {});
    // Raw: an SDK client would judge the result itself (that is its part, not the relay's).
    for (const call of [1, 2]) {
      const res = await fetch(url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          "mcp-protocol-version": "2025-11-25",
        },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: call,
          method: "tools/call",
          params: { name: "unstructured", arguments: {} },
        }),
      });
      const body = await res.text();
      expect(body).toContain("no structure");
      expect(body).not.toContain('"error"');
      // After a listing of the first page, the relay holds the tool's schemas.
      await rawList(url, mode);
    }
    await client.close();
  },
);

test("connectCustom to a server whose tool pages never end: one page is asked for (one request, one timeout), and it connects", async () => {
  const endless = await startSessionMcp({ endlessPages: true });
  const user = await newUser(stack);
  const res = await trpc(
    stack,
    "instances.connectCustom",
    { name: "endless", url: endless.url },
    { cookie: user.cookie },
  );
  expect(res.status).toBe(200);
  expect(endless.methods().filter((m) => m === "tools/list")).toHaveLength(1);
  await endless.stop();
});

test("the relay's connection promises no roots list-change notifications it never sends (it serves many clients)", async () => {
  const url = await customInstance(sse);
  const client = await v2(url, "legacy");
  const caps = JSON.parse(text(await client.callTool({ name: "client_caps", arguments: {} }))) as {
    roots?: { listChanged?: boolean };
    sampling?: object;
  };
  expect(caps.sampling).toBeDefined();
  expect(caps.roots).toBeDefined();
  expect(caps.roots?.listChanged).not.toBe(true);
  await client.close();
});

/** A 2026-07-28 request over raw HTTP; its JSON-RPC answer. */
async function raw2026(url: string, method: string, params: Record<string, unknown>, name?: string) {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    "mcp-protocol-version": "2026-07-28",
    "mcp-method": method,
  };
  if (name) headers["mcp-name"] = name;
  const meta = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": { elicitation: { form: {}, url: {} } },
    "io.modelcontextprotocol/clientInfo": { name: "raw", version: "1" },
  };
  const res = await fetch(url, {
    method: "POST",
    headers,
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params: { ...params, _meta: meta } }),
  });
  const body = await res.text();
  const json = body.startsWith("{")
    ? body
    : (body.split("\n").find((l) => l.startsWith("data: ")) ?? "").slice(6);
  return JSON.parse(json) as { result?: Record<string, unknown>; error?: { code: number; message: string } };
}

test("a 2025-era server's URL elicitation (-32042) reaches a 2026-07-28 client as input_required; the retry calls again", async () => {
  const url = await customInstance(sse);
  const first = await raw2026(url, "tools/call", { name: "sign_in", arguments: {} }, "sign_in");
  expect(first.error).toBeUndefined();
  expect(first.result?.resultType).toBe("input_required");
  const requests = first.result?.inputRequests as Record<
    string,
    { method: string; params: Record<string, unknown> }
  >;
  const asked = Object.entries(requests);
  expect(asked).toHaveLength(1);
  const [key, request] = asked[0] ?? ["", { method: "", params: {} }];
  expect(request.method).toBe("elicitation/create");
  expect(request.params).toMatchObject({
    mode: "url",
    url: "https://example.com/sign-in",
    message: "Sign in",
  });
  const requestState = first.result?.requestState;
  expect(typeof requestState).toBe("string");
  const retry = await raw2026(
    url,
    "tools/call",
    { name: "sign_in", arguments: {}, requestState, inputResponses: { [key]: { action: "accept" } } },
    "sign_in",
  );
  expect(retry.error).toBeUndefined();
  expect(JSON.stringify(retry.result?.content)).toContain("signed in");
  // A 2025-era client gets the server's own error, as the server sent it.
  const legacy = await v2(await customInstance(sse), "legacy");
  const error = await legacy.callTool({ name: "sign_in", arguments: {} }).catch((e: unknown) => e);
  expect((error as { code?: number }).code).toBe(-32042);
  await legacy.close();
});

test("the sealed header reached the servers, and nothing else: no log line, no kv entry", () => {
  const calls = [...sse.messages, ...json.messages].filter((m) => m.method === "tools/call");
  expect(calls.length).toBeGreaterThan(0);
  for (const call of calls) expect(call.authorization).toBe(SECRET);
  const secret = SECRET.slice(7);
  expect(stack.logs.join("\n")).not.toContain(secret);
  expect(stack.kvWrites.join("\n")).not.toContain(secret);
});

test("a 1.x SDK client (2025-era session) cancels a call: the server gets notifications/cancelled for it", async () => {
  const url = await customInstance(sse);
  const client = new V1Client({ name: "v1", version: "1" });
  await client.connect(new V1Transport(new URL(url)));
  const abort = new AbortController();
  const call = client.callTool({ name: "hang", arguments: {} }, undefined, { signal: abort.signal });
  await until(
    () => sse.messages.some((m) => m.method === "tools/call" && m.params?.name === "hang"),
    "the call upstream",
  );
  const upstreamCall = sse.messages.findLast((m) => m.method === "tools/call" && m.params?.name === "hang");
  abort.abort("changed my mind");
  await call.catch(() => {});
  await until(
    () =>
      sse.messages.some((m) => m.method === "notifications/cancelled" && m.session === upstreamCall?.session),
    "notifications/cancelled upstream",
  );
  await client.close();
});

/**
 * A hand-written 2025-era server (stateless, JSON answers) whose answers to calls are wrong on purpose: `wrong_id`
 * answers another request's id, `html` a web page, `bad_shape` a result that is no tool result.
 */
function startJunkServer() {
  const calls: string[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      if (req.method !== "POST") return new Response(null, { status: 405 });
      const msg = (await req.json()) as { id?: number | string; method: string; params?: { name?: string } };
      const answer = (result: unknown, id = msg.id) => Response.json({ jsonrpc: "2.0", id, result });
      if (msg.id === undefined) return new Response(null, { status: 202 });
      if (msg.method === "initialize") {
        return answer({
          protocolVersion: "2025-06-18",
          capabilities: { tools: {} },
          serverInfo: { name: "junk", version: "1" },
        });
      }
      if (msg.method === "tools/list") {
        const tool = (name: string) => ({ name, inputSchema: { type: "object" } });
        return answer({ tools: ["wrong_id", "html", "bad_shape"].map(tool) });
      }
      if (msg.method === "tools/call") {
        const name = msg.params?.name ?? "";
        calls.push(name);
        if (name === "wrong_id") return answer({ content: [{ type: "text", text: "lost" }] }, 987654);
        if (name === "html")
          return new Response("<html>oops</html>", { headers: { "content-type": "text/html" } });
        return answer({ content: "not a list" });
      }
      return Response.json(
        { jsonrpc: "2.0", id: msg.id, error: { code: -32601, message: "Method not found" } },
        { status: 400 },
      );
    },
  });
  return { url: `http://127.0.0.1:${server.port}/mcp`, calls, stop: () => server.stop(true) };
}

test.each(MODES)(
  "a server answering junk or another request's id: a %s client gets a tool error, within the upstream timeout",
  async (_, mode) => {
    const quick = await startStack({ allowPrivateUpstreams: true, limits: { upstreamTimeoutMs: 2_000 } });
    const junk = startJunkServer();
    try {
      const user = await newUser(quick);
      const res = await trpc(
        quick,
        "instances.connectCustom",
        { name: "junk", url: junk.url },
        { cookie: user.cookie },
      );
      const { instanceUrl } = data<{ instanceUrl: string }>(res);
      const client = await v2(instanceUrl, mode);
      for (const name of ["wrong_id", "html", "bad_shape"]) {
        const result = await client.callTool({ name, arguments: {} });
        expect(result.isError).toBe(true);
        expect((result._meta as { code?: string } | undefined)?.code).toBe("SERVICE_UNAVAILABLE");
        expect(text(result)).not.toContain("oops");
        expect(text(result)).not.toContain("lost");
      }
      expect(junk.calls).toEqual(["wrong_id", "html", "bad_shape"]);
      await client.close();
    } finally {
      await junk.stop();
      await quick.stop();
    }
  },
);
