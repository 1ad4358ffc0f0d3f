// The edge's answers to malformed and unusual MCP requests, as a spec-reading client or a fuzzer sends them, held
// to the spec and to what the official SDK answers the same request with:
// - the fast path answers a tools/call whose arguments carry an own `__proto__` key as the SDK does (both eras);
// - the route's own JSON-RPC errors to a single request carry its id (nesting too deep, a 2026-07-28 POST's 406, a
//   429), so an SDK client gets the JSON-RPC error of its call, not a bare HTTP failure; a posted response's 429
//   carries none;
// - a relayed instance's 2025-era session checks what the SDK's transport checks on the requests the session layer
//   answers itself (its GET stream, DELETE, and POSTs of notifications or answers): an unsupported
//   MCP-Protocol-Version is 400 (the spec's MUST), a POST's Accept 406 and Content-Type 415, each answered as a
//   bare sessionful SDK server answers it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createEdge } from "@mcp/edge";
import { Client, ProtocolError, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { Server, WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/server";
import { connectFigma, data, figmaKeyFor, newUser, trpc } from "./client.ts";
import { FAKE_FILE_KEY } from "./fakes/figma.ts";
import { type RemoteMcp, startRemoteMcp } from "./fakes/remote-mcp.ts";
import { type Stack, startStack } from "./harness.ts";

const NO_LIMITS = { perInstancePerMinute: 0, perUserPerMinute: 0 };
const BOTH = "application/json, text/event-stream";
const ENVELOPE = {
  "io.modelcontextprotocol/protocolVersion": "2026-07-28",
  "io.modelcontextprotocol/clientCapabilities": {},
  "io.modelcontextprotocol/clientInfo": { name: "protocol-errors", version: "1.0.0" },
};

let stack: Stack;
/** An edge on the same platform with the fast path off: what the SDK answers. */
let sdkOnly: Awaited<ReturnType<typeof createEdge>>;
let sdkServer: ReturnType<typeof Bun.serve>;
/** An edge on the same platform whose instances may make one call a minute. */
let limited: Awaited<ReturnType<typeof createEdge>>;
let limitedServer: ReturnType<typeof Bun.serve>;
let remote: RemoteMcp;
let instanceUrl: string;

beforeAll(async () => {
  stack = await startStack({ allowPrivateUpstreams: true, limits: NO_LIMITS });
  sdkOnly = await createEdge(stack.platform.deps, { host: "127.0.0.1", fastPath: false, limits: NO_LIMITS });
  sdkServer = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: sdkOnly.fetch });
  limited = await createEdge(stack.platform.deps, {
    host: "127.0.0.1",
    limits: { perInstancePerMinute: 1, perUserPerMinute: 0 },
  });
  limitedServer = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: limited.fetch });
  remote = await startRemoteMcp({ kind: "streamable" });
  const user = await newUser(stack);
  instanceUrl = (await connectFigma(stack, user, figmaKeyFor(stack, "protocol-errors"))).instanceUrl;
});
afterAll(async () => {
  sdkServer?.stop(true);
  limitedServer?.stop(true);
  await Promise.all([sdkOnly?.close(), limited?.close(), remote?.stop()]);
  await stack?.stop();
});

interface Answer {
  status: number;
  type: string | null;
  /** The JSON-RPC message: a JSON body, or the first `data:` of an SSE one. */
  message: {
    id?: unknown;
    result?: Record<string, unknown>;
    error?: { code: number; message: string };
  } | null;
}

async function post(url: string, headers: Record<string, string>, body: string): Promise<Answer> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: BOTH, ...headers },
    body,
  });
  return answer(res);
}

async function answer(res: Response): Promise<Answer> {
  const text = await res.text();
  const type = res.headers.get("content-type");
  const json = type?.startsWith("text/event-stream") ? /^data: (.*)$/m.exec(text)?.[1] : text;
  return { status: res.status, type, message: json ? JSON.parse(json) : null };
}

/** The same URL path on another server. */
const on = (server: ReturnType<typeof Bun.serve>, url: string) =>
  `http://127.0.0.1:${server.port}${new URL(url).pathname}`;

describe("the fast path answers as the SDK does", () => {
  // JSON.parse makes an own `__proto__` property of the key; the SDK's request schema drops it (the call is served
  // as if it had not been sent), where the tool's own validator refuses it as an unknown argument.
  const withProto = (id: number, envelope: boolean) =>
    `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"get_file_nodes","arguments":` +
    `{"__proto__":{"file_key":"elsewhere"},"file_key":"${FAKE_FILE_KEY}","ids":"0:1"}` +
    `${envelope ? `,"_meta":${JSON.stringify(ENVELOPE)}` : ""}}}`;

  test("a tools/call whose arguments carry an own __proto__ key, in 2026-07-28 and the 2025 era", async () => {
    const cases: [Record<string, string>, string][] = [
      [
        { "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "get_file_nodes" },
        withProto(11, true),
      ],
      [{ "mcp-protocol-version": "2025-06-18" }, withProto(12, false)],
    ];
    for (const [headers, body] of cases) {
      const fast = await post(instanceUrl, headers, body);
      const sdk = await post(on(sdkServer, instanceUrl), headers, body);
      expect(fast).toEqual(sdk);
      expect(fast.status).toBe(200);
    }
  });
});

describe("the route's own JSON-RPC errors carry the request's id", () => {
  const deep = (levels: number) => JSON.parse(`${"[".repeat(levels)}${"]".repeat(levels)}`);

  test("nesting deeper than 64 levels: 400 -32600 with the id, which an SDK client reads as its call's error", async () => {
    const body = JSON.stringify({
      jsonrpc: "2.0",
      id: 21,
      method: "tools/call",
      params: { name: "get_file_nodes", arguments: { file_key: deep(70) }, _meta: ENVELOPE },
    });
    const headers = {
      "mcp-protocol-version": "2026-07-28",
      "mcp-method": "tools/call",
      "mcp-name": "get_file_nodes",
    };
    const refused = await post(instanceUrl, headers, body);
    expect(refused.status).toBe(400);
    expect(refused.message).toMatchObject({ jsonrpc: "2.0", id: 21, error: { code: -32600 } });
    // A batch has no one id to echo.
    const batch = await post(
      instanceUrl,
      {},
      JSON.stringify([{ jsonrpc: "2.0", id: 1, method: "x", params: { a: deep(70) } }]),
    );
    expect(batch.message).toMatchObject({ id: null, error: { code: -32600 } });

    // The SDK client matches a 400's JSON-RPC error to its request by id: the call fails with the protocol error.
    const client = new Client(
      { name: "protocol-errors", version: "1" },
      { versionNegotiation: { mode: { pin: "2026-07-28" } } },
    );
    await client.connect(new StreamableHTTPClientTransport(new URL(instanceUrl)));
    try {
      const error = await client.callTool({ name: "get_file_nodes", arguments: { file_key: deep(70) } }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ProtocolError);
      expect((error as ProtocolError).code).toBe(-32600);
    } finally {
      await client.close();
    }
  });

  test("a 2026-07-28 POST not accepting both media types: 406 with the id", async () => {
    const body = JSON.stringify({
      jsonrpc: "2.0",
      id: "list-1",
      method: "tools/list",
      params: { _meta: ENVELOPE },
    });
    const refused = await post(
      instanceUrl,
      { "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/list", accept: "application/json" },
      body,
    );
    expect(refused.status).toBe(406);
    expect(refused.message).toMatchObject({ jsonrpc: "2.0", id: "list-1", error: { code: -32000 } });
  });

  test("a 429 carries a request's id, and none for a posted response (it answers no request of the client)", async () => {
    const user = await newUser(stack);
    const { instanceUrl: url } = await connectFigma(stack, user, figmaKeyFor(stack, "protocol-errors-429"));
    const list = (id: number) => JSON.stringify({ jsonrpc: "2.0", id, method: "tools/list" });
    const headers = { "mcp-protocol-version": "2025-06-18" };
    expect((await post(on(limitedServer, url), headers, list(1))).status).toBe(200);
    const request = await post(on(limitedServer, url), headers, list(31));
    expect(request.status).toBe(429);
    expect(request.message).toMatchObject({ id: 31, error: { code: -32000 } });
    const response = await post(
      on(limitedServer, url),
      headers,
      JSON.stringify({ jsonrpc: "2.0", id: 32, result: {} }),
    );
    expect(response.status).toBe(429);
    expect(response.message).toMatchObject({ id: null, error: { code: -32000 } });
  });
});

describe("a relayed instance's 2025-era session checks what the SDK's transport checks", () => {
  /** A bare sessionful SDK server (one transport, one session): the reference answers. */
  let reference: ReturnType<typeof Bun.serve>;
  let referenceTransport: WebStandardStreamableHTTPServerTransport;
  beforeAll(async () => {
    // The revisions every instance URL serves, as the edge's servers list them.
    const server = new Server(
      { name: "reference", version: "1" },
      {
        capabilities: { tools: {} },
        supportedProtocolVersions: ["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"],
      },
    );
    referenceTransport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => crypto.randomUUID(),
    });
    await server.connect(referenceTransport);
    reference = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (req) => referenceTransport.handleRequest(req),
    });
  });
  afterAll(async () => {
    reference?.stop(true);
    await referenceTransport?.close();
  });

  const initialize = JSON.stringify({
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: {
      protocolVersion: "2025-06-18",
      capabilities: {},
      clientInfo: { name: "protocol-errors", version: "1" },
    },
  });

  /** Initialises a session at `url`; returns its id. */
  async function session(url: string): Promise<string> {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: BOTH },
      body: initialize,
    });
    await res.text();
    const id = res.headers.get("mcp-session-id");
    if (!id) throw new Error(`no session: ${res.status}`);
    return id;
  }

  /** A request's status and JSON-RPC error, without waiting for a stream that stays open. */
  async function send(url: string, method: string, headers: Record<string, string>, body?: string) {
    const ac = new AbortController();
    const res = await fetch(url, { method, headers, ...(body !== undefined && { body }), signal: ac.signal });
    const json = (res.headers.get("content-type") ?? "").includes("application/json");
    const error = json ? ((await res.json()) as { error?: unknown }).error : undefined;
    ac.abort();
    return { status: res.status, error };
  }

  test("an unsupported MCP-Protocol-Version (400), a POST's Accept (406) and Content-Type (415)", async () => {
    const user = await newUser(stack);
    const relayed = data<{ instanceUrl: string }>(
      await trpc(
        stack,
        "instances.connectCustom",
        { name: "relayed", url: remote.url },
        { cookie: user.cookie },
      ),
    ).instanceUrl;
    const ids = {
      edge: await session(relayed),
      sdk: await session(`http://127.0.0.1:${reference.port}/mcp`),
    };
    const urls = { edge: relayed, sdk: `http://127.0.0.1:${reference.port}/mcp` };
    const notification = JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" });
    const answerToUs = JSON.stringify({ jsonrpc: "2.0", id: "no-such-request", result: {} });
    const base = { "content-type": "application/json", accept: BOTH, "mcp-protocol-version": "2025-06-18" };
    const cases: [string, string, Record<string, string>, string?][] = [
      ["POST", "version", { ...base, "mcp-protocol-version": "1999-01-01" }, notification],
      ["POST", "version", { ...base, "mcp-protocol-version": "2025-06-18, 2025-06-18" }, answerToUs],
      ["POST", "accept", { ...base, accept: "application/json" }, notification],
      ["POST", "accept", { ...base, accept: "text/event-stream" }, answerToUs],
      ["POST", "content-type", { ...base, "content-type": "text/plain" }, notification],
      ["GET", "version", { accept: "text/event-stream", "mcp-protocol-version": "1999-01-01" }],
      // Last: a DELETE that is not refused ends the session.
      ["DELETE", "version", { "mcp-protocol-version": "1999-01-01" }],
    ];
    const answers = { edge: [] as unknown[], sdk: [] as unknown[] };
    for (const [method, what, headers, body] of cases) {
      for (const who of ["edge", "sdk"] as const) {
        const got = await send(urls[who], method, { ...headers, "mcp-session-id": ids[who] }, body);
        answers[who].push({ method, what, ...got });
      }
    }
    expect(answers.edge).toEqual(answers.sdk);
    for (const refused of answers.sdk)
      expect((refused as { status: number }).status).toBeGreaterThanOrEqual(400);
    // The refused DELETE ended nothing: the session still serves, and what is well-formed is still accepted.
    const ok = await send(relayed, "POST", { ...base, "mcp-session-id": ids.edge }, notification);
    expect(ok.status).toBe(202);
    const listed = await post(
      relayed,
      { "mcp-protocol-version": "2025-06-18", "mcp-session-id": ids.edge },
      JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }),
    );
    expect(listed.status).toBe(200);
    expect(listed.message?.result?.tools).toBeArray();
    const ended = await send(relayed, "DELETE", {
      "mcp-protocol-version": "2025-06-18",
      "mcp-session-id": ids.edge,
    });
    expect(ended.status).toBe(200);
  });
});
