// The edge's fast path (apps/edge/src/mcp/fast-path.ts) answers canonical tools/list and tools/call without a
// per-request SDK server. It must answer exactly what the SDK's handler answers: the same requests go to the
// stack's edge (fast path on) and to a second edge on the same platform with it off, in both protocol eras,
// successes and every kind of tool error, and the answers are compared message for message. What is not
// canonical is left to the SDK (checked on the fast path itself); tools/list is compared for every service.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { ResolvedInstance } from "@mcp/core";
import { createEdge, createServiceHandler } from "@mcp/edge";
import { connectFigma, figmaKeyFor, newUser } from "./client.ts";
import { FAKE_FILE_KEY } from "./fakes/figma.ts";
import { type Stack, startStack } from "./harness.ts";

let stack: Stack;
let sdkOnly: Awaited<ReturnType<typeof createEdge>>;
let sdkServer: ReturnType<typeof Bun.serve>;
let instanceUrl: string;

beforeAll(async () => {
  stack = await startStack({ limits: { perInstancePerMinute: 0, perUserPerMinute: 0 } });
  sdkOnly = await createEdge(stack.platform.deps, {
    host: "127.0.0.1",
    fastPath: false,
    limits: { perInstancePerMinute: 0, perUserPerMinute: 0 },
  });
  sdkServer = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: sdkOnly.fetch });
  const user = await newUser(stack);
  instanceUrl = (await connectFigma(stack, user, figmaKeyFor(stack, "fast-path"))).instanceUrl;
});
afterAll(async () => {
  sdkServer?.stop(true);
  await sdkOnly?.close();
  await stack?.stop();
});

const ENVELOPE = {
  "io.modelcontextprotocol/protocolVersion": "2026-07-28",
  "io.modelcontextprotocol/clientCapabilities": { elicitation: { form: {} }, roots: { listChanged: true } },
  "io.modelcontextprotocol/clientInfo": { name: "fast-path-test", version: "1.0.0" },
};
const BOTH = "application/json, text/event-stream";

interface Case {
  headers: Record<string, string>;
  body: unknown;
}

/** A 2026-07-28 request as a client of that revision sends it. */
function modern(
  method: string,
  params: Record<string, unknown> = {},
  extra: Record<string, string> = {},
): Case {
  const name: Record<string, string> = typeof params.name === "string" ? { "mcp-name": params.name } : {};
  return {
    headers: { "mcp-protocol-version": "2026-07-28", "mcp-method": method, ...name, ...extra },
    body: { jsonrpc: "2.0", id: 7, method, params: { ...params, _meta: ENVELOPE } },
  };
}

/** A 2025-era request (stateless: no session). */
function legacy(
  method: string,
  params?: Record<string, unknown>,
  version = "2025-06-18",
  id: unknown = "r-1",
): Case {
  return {
    headers: { "mcp-protocol-version": version },
    body: { jsonrpc: "2.0", id, method, ...(params && { params }) },
  };
}

async function send(base: string, c: Case) {
  const path = new URL(instanceUrl).pathname;
  const res = await fetch(`${base}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: BOTH, ...c.headers },
    body: JSON.stringify(c.body),
  });
  const text = await res.text();
  const type = res.headers.get("content-type");
  // One JSON answer, or the one `message` event of an SSE answer.
  const json = type?.startsWith("text/event-stream") ? /^data: (.*)$/m.exec(text)?.[1] : text;
  return { status: res.status, type, message: json ? JSON.parse(json) : undefined };
}

/** The same request through the fast path and through the SDK alone: the answers must be the same. */
async function expectSame(c: Case) {
  const [fast, sdk] = [await send(stack.edgeUrl, c), await send(`http://127.0.0.1:${sdkServer.port}`, c)];
  expect(fast).toEqual(sdk);
  return fast;
}

const getNodes = (ids: string) => ({ name: "get_file_nodes", arguments: { file_key: FAKE_FILE_KEY, ids } });

describe("answers exactly what the SDK answers", () => {
  test("tools/list in 2026-07-28 and every 2025 revision", async () => {
    const first = await expectSame(modern("tools/list"));
    expect(first.message.result.tools.length).toBeGreaterThan(3);
    expect(first.message.result).toMatchObject({ resultType: "complete", ttlMs: 0, cacheScope: "private" });
    for (const version of ["2025-11-25", "2025-06-18", "2025-03-26"]) {
      const answer = await expectSame(legacy("tools/list", undefined, version));
      expect(answer.type).toStartWith("text/event-stream");
      expect(answer.message.result.resultType).toBeUndefined();
    }
  });

  test("a successful tools/call, with string and numeric ids", async () => {
    const answer = await expectSame(modern("tools/call", getNodes("0:1")));
    expect(answer.message.result.isError).toBeUndefined();
    expect(answer.message.result._meta["io.modelcontextprotocol/serverInfo"].name).toBe("mcp-platform-figma");
    await expectSame(legacy("tools/call", getNodes("0:2")));
    await expectSame(legacy("tools/call", getNodes("0:3"), "2025-11-25", 42));
  });

  test("tool errors (the upstream's 404, with its _meta code) and invalid arguments", async () => {
    const missing = { name: "get_file_nodes", arguments: { file_key: "NoSuchFileKey000000000", ids: "0:1" } };
    const notFound = await expectSame(modern("tools/call", missing));
    expect(notFound.message.result.isError).toBe(true);
    expect(notFound.message.result._meta.code).toBeString();
    expect(notFound.message.result._meta["io.modelcontextprotocol/serverInfo"]).toBeDefined();
    await expectSame(legacy("tools/call", missing));
    const bad = { name: "get_file_nodes", arguments: { file_key: 42 } };
    // Arguments that fail the tool's schema are a tool error the model can correct (code BAD_REQUEST), both eras.
    const refused = (await expectSame(modern("tools/call", bad))).message.result;
    expect(refused.isError).toBe(true);
    expect(refused._meta.code).toBe("BAD_REQUEST");
    expect(refused.content[0].text).toStartWith("Invalid arguments for tool get_file_nodes: ");
    await expectSame(legacy("tools/call", bad));
    await expectSame(modern("tools/call", { name: "get_me" }));
  });

  test("what the fast path leaves to the SDK is answered the same (errors included)", async () => {
    const cases: Case[] = [
      modern("tools/call", { name: "no_such_tool", arguments: {} }),
      modern("tools/call", getNodes("0:4"), { "mcp-name": "get_me" }),
      modern("tools/list", {}, { "mcp-method": "tools/call" }),
      { ...modern("tools/list"), body: { jsonrpc: "2.0", id: 1, method: "tools/list", params: {} } },
      legacy("tools/call", { name: "no_such_tool" }),
      legacy("tools/call", { name: 5 }),
      legacy("tools/list", undefined, "1999-01-01"),
      { headers: {}, body: { jsonrpc: "2.0", id: 1, method: "tools/list" } },
      legacy("tools/call", { ...getNodes("0:5"), _meta: { progressToken: "p1" } }),
    ];
    for (const c of cases) await expectSame(c);
  });
});

describe("takes only canonical requests", () => {
  const instance = {
    instanceId: "ins_fastpath",
    userId: "usr_fastpath",
    serviceType: "figma",
    credentialId: "cred_fastpath",
    status: "active",
    sealed: { keyVersion: 1, ciphertext: "" },
    tokenHash: "0".repeat(64),
  } as unknown as ResolvedInstance;
  const auth = { instance, requestId: "req_fastpath" };

  function serve(c: Case, method = "POST") {
    const service = stack.platform.deps.registry.get("figma");
    if (!service) throw new Error("figma not loaded");
    const { fastPath } = createServiceHandler(service, sdkOnly.deps);
    const request = new Request("http://127.0.0.1/x/mcp", {
      method,
      headers: { "content-type": "application/json", accept: BOTH, ...c.headers },
      ...(method === "POST" && { body: JSON.stringify(c.body) }),
    });
    return fastPath.serve(request, c.body, auth);
  }

  test("canonical tools/list in both eras is served", async () => {
    expect(await serve(modern("tools/list"))).toBeInstanceOf(Response);
    expect(await serve(legacy("tools/list"))).toBeInstanceOf(Response);
  });

  test("anything else is left to the SDK", () => {
    const left: Case[] = [
      modern("tools/list", {}, { "mcp-session-id": "abc" }),
      modern("tools/list", {}, { "mcp-param-x": "1" }),
      modern("tools/list", {}, { "mcp-name": "get_me" }),
      modern("tools/list", {}, { "mcp-protocol-version": "2025-06-18" }),
      modern("tools/list", {}, { accept: "application/json" }),
      modern("tools/list", {}, { "content-type": "text/plain" }),
      modern("tools/list", { cursor: "x" }),
      modern("tools/call", { name: "no_such_tool" }),
      modern("tools/call", { name: "get_me", arguments: [] }),
      modern("prompts/list"),
      {
        ...modern("tools/list"),
        body: {
          jsonrpc: "2.0",
          id: 1,
          method: "tools/list",
          params: { _meta: { ...ENVELOPE, progressToken: 1 } },
        },
      },
      {
        ...modern("tools/list"),
        body: {
          jsonrpc: "2.0",
          id: 1,
          method: "tools/list",
          params: { _meta: { ...ENVELOPE, "io.modelcontextprotocol/clientInfo": { name: 5 } } },
        },
      },
      { ...modern("tools/list"), body: [modern("tools/list").body] },
      {
        ...modern("tools/list"),
        body: { jsonrpc: "2.0", id: null, method: "tools/list", params: { _meta: ENVELOPE } },
      },
      {
        ...modern("tools/list"),
        body: { jsonrpc: "2.0", method: "tools/list", params: { _meta: ENVELOPE } },
      },
      {
        ...modern("tools/list"),
        body: { jsonrpc: "2.0", id: 1.5, method: "tools/list", params: { _meta: ENVELOPE } },
      },
      {
        ...modern("tools/list"),
        body: { jsonrpc: "2.0", id: 1, method: "tools/list", params: { _meta: ENVELOPE }, x: 1 },
      },
      legacy("tools/list", undefined, "2026-07-28"),
      legacy("tools/list", { _meta: {} }),
      legacy("initialize", { protocolVersion: "2025-06-18" }),
      { headers: {}, body: legacy("tools/list").body },
    ];
    for (const c of left) expect(serve(c)).toBeUndefined();
    expect(serve(modern("tools/list"), "GET")).toBeUndefined();
  });

  test("tools/list matches the SDK's for every REST service of the registry, in both eras, and is ASCII", async () => {
    // Lists with characters past ASCII (GitHub's "…", Notion's "→"): the fast path writes them as JSON escapes,
    // so the runtime holds its answer one byte per character (see `ascii` in fast-path.ts).
    let beyondAscii = 0;
    for (const service of stack.platform.deps.registry.list()) {
      if (service.kind !== "rest") continue;
      const handler = createServiceHandler(service, sdkOnly.deps);
      for (const c of [modern("tools/list"), legacy("tools/list")]) {
        const request = () =>
          new Request("http://127.0.0.1/x/mcp", {
            method: "POST",
            headers: { "content-type": "application/json", accept: BOTH, ...c.headers },
            body: JSON.stringify(c.body),
          });
        const extra = { instance: { ...instance, serviceType: service.type }, requestId: "req_fastpath" };
        const fast = await handler.fastPath.serve(request(), c.body, extra);
        const sdk = await handler.fetch(request(), {
          authInfo: { token: "", clientId: "ins_fastpath", scopes: [], extra: { ...extra } },
          parsedBody: c.body,
        });
        const [fastText, sdkText] = [(await fast?.text()) ?? "", await sdk.text()];
        const read = (text: string) =>
          JSON.parse(text.startsWith("{") ? text : (/^data: (.*)$/m.exec(text)?.[1] ?? "null"));
        expect({ service: service.type, message: read(fastText) }).toEqual({
          service: service.type,
          message: read(sdkText),
        });
        if (/[\u0080-\uffff]/.test(sdkText)) beyondAscii++;
        expect({ service: service.type, ascii: !/[\u0080-\uffff]/.test(fastText) }).toEqual({
          service: service.type,
          ascii: true,
        });
      }
      await handler.close();
    }
    expect(beyondAscii).toBeGreaterThan(0);
  });
});
