// The edge's Origin/Host guards and body reader, each on its own (as the MCP route runs them, in order).
import { describe, expect, test } from "bun:test";
import { hostSet, nextRequestId } from "@mcp/http";
import { DEFAULT_LIMITS, type EdgeDeps } from "../deps.ts";
import { json, type McpCall } from "./call.ts";
import { originAndHost, readBody } from "./guards.ts";

const logged: string[] = [];

/** A POST /x through the guard and the body reader; past both, the body as read. */
function app(over: Partial<EdgeDeps>) {
  const deps = {
    allowedOrigins: [],
    allowedHosts: hostSet([]),
    log: { debug: (msg: string) => void logged.push(msg), info() {}, warn() {}, error() {} },
    limits: { ...DEFAULT_LIMITS, maxBodyBytes: 64 },
    ...over,
  } as EdgeDeps;
  return {
    async request(path: string, init: RequestInit & { headers?: Record<string, string> }) {
      const req = new Request(new URL(path, "http://localhost"), init);
      const call: McpCall = { req, deps, server: undefined, token: "x", requestId: nextRequestId() };
      const res =
        originAndHost(call) ??
        (await readBody(call)) ??
        json({ parsed: call.parsedBody ?? null, bytes: call.bodyBytes?.byteLength }, 200);
      res.headers.set("x-request-id", call.requestId);
      return res;
    },
  };
}

describe("originAndHost", () => {
  test("a browser Origin must be allowed (403 with a JSON-RPC error without id); clients without one pass", async () => {
    const a = app({ allowedOrigins: ["https://ok.example"] });
    const refused = await a.request("/x", { method: "POST", headers: { origin: "https://evil.example" } });
    expect(refused.status).toBe(403);
    const body = (await refused.json()) as Record<string, unknown>;
    expect(body).toEqual({
      jsonrpc: "2.0",
      error: {
        code: -32000,
        message: "Forbidden: Origin not allowed",
        data: { code: "FORBIDDEN", requestId: refused.headers.get("x-request-id") },
      },
    });
    expect("id" in body).toBe(false);
    expect(
      (await a.request("/x", { method: "POST", headers: { origin: "https://ok.example" } })).status,
    ).toBe(200);
    expect((await a.request("/x", { method: "POST" })).status).toBe(200);
  });

  test("on loopback the Host must be a local or public name (IPv6 loopback in brackets included)", async () => {
    const a = app({ allowedHosts: hostSet(["127.0.0.1", "localhost", "::1", "mcp.example.com"]) });
    const at = (host: string) => a.request("http://127.0.0.1/x", { method: "POST", headers: { host } });
    for (const host of [
      "127.0.0.1:3001",
      "localhost:3001",
      "LOCALHOST",
      "[::1]:3001",
      "[::1]",
      "mcp.example.com.",
    ]) {
      expect([host, (await at(host)).status]).toEqual([host, 200]);
    }
    for (const host of [
      "attacker.example",
      "127.0.0.1.attacker.example",
      "[::2]:3001",
      "localhost@evil",
      "",
    ]) {
      const rebound = await at(host);
      expect([host, rebound.status]).toEqual([host, 403]);
      expect(await rebound.json()).toMatchObject({ error: { data: { code: "FORBIDDEN" } } });
    }
  });
});

describe("readBody", () => {
  const post = (body: BodyInit) =>
    app({}).request("/x", { method: "POST", body, headers: { "content-type": "application/json" } });
  const streamOf = (parts: string[], fail = false) =>
    new ReadableStream<Uint8Array>({
      start(controller) {
        for (const part of parts) controller.enqueue(new TextEncoder().encode(part));
        if (fail) controller.error(new Error("connection reset"));
        else controller.close();
      },
    });

  test("parses JSON once; a body that is not JSON is kept as bytes for the SDK", async () => {
    expect(await (await post('{"id":1}')).json()).toEqual({ parsed: { id: 1 }, bytes: 8 });
    expect(await (await post("not json")).json()).toEqual({ parsed: null, bytes: 8 });
  });

  test("over the limit (64 bytes here) → 413 PAYLOAD_TOO_LARGE, logged at debug only", async () => {
    logged.length = 0;
    const declared = await post(JSON.stringify({ pad: "x".repeat(100) }));
    expect(declared.status).toBe(413);
    expect(await declared.json()).toMatchObject({ code: "PAYLOAD_TOO_LARGE" });
    // Streamed without a length, in multi-byte characters: counted in bytes (50 characters, 100 bytes).
    const streamed = await post(streamOf(['{"pad":"', "é".repeat(50), '"}']));
    expect(streamed.status).toBe(413);
    // A stream the server's own cap (or the network) cuts off is the same client mistake, not a 500.
    const broken = await post(streamOf(['{"pad":"', "x".repeat(10)], true));
    expect(broken.status).toBe(413);
    expect(logged).toEqual(["request body refused", "request body refused", "request body refused"]);
  });
});
