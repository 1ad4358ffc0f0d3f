import { afterEach, describe, expect, test } from "bun:test";
import { guardedFetch } from "@mcp/services";
import { Client, SSEClientTransport, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { type RemoteMcp, startRemoteMcp } from "./remote-mcp.ts";

const started: RemoteMcp[] = [];
const clients: Client[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
  await Promise.all(started.splice(0).map((s) => s.stop()));
});

async function start(opts: Parameters<typeof startRemoteMcp>[0]): Promise<RemoteMcp> {
  const fake = await startRemoteMcp(opts);
  started.push(fake);
  return fake;
}

type Mode = "legacy" | "auto";
async function connect(
  fake: RemoteMcp,
  kind: "streamable" | "sse",
  headers: Record<string, string> = {},
  mode: Mode = "auto",
  fetch?: typeof globalThis.fetch,
): Promise<Client> {
  const url = new URL(fake.url);
  const client = new Client(
    { name: "remote-mcp-test", version: "1.0.0" },
    kind === "streamable" ? { versionNegotiation: { mode } } : {},
  );
  const transport =
    kind === "streamable"
      ? new StreamableHTTPClientTransport(url, { requestInit: { headers }, fetch })
      : new SSEClientTransport(url, { requestInit: { headers }, fetch }); // also sent on the stream's GET
  await client.connect(transport);
  clients.push(client);
  return client;
}

const textOf = (result: unknown): string =>
  ((result as { content?: { text?: string }[] }).content ?? []).map((c) => c.text ?? "").join("\n");

describe.each(["streamable", "sse"] as const)("%s fake", (kind) => {
  test("lists the tools and calls them", async () => {
    const fake = await start({ kind });
    const client = await connect(fake, kind);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(["add", "echo", "fail"]);
    expect(tools.find((t) => t.name === "add")?.inputSchema).toMatchObject({ required: ["a", "b"] });

    expect(textOf(await client.callTool({ name: "echo", arguments: { text: "hello" } }))).toBe("hello");
    expect(textOf(await client.callTool({ name: "add", arguments: { a: 2, b: 40 } }))).toBe("42");
    const failed = await client.callTool({ name: "fail", arguments: {} });
    expect(failed.isError).toBe(true);
    expect(textOf(failed)).toMatch(/always fails/);
    await expect(client.callTool({ name: "nope", arguments: {} })).rejects.toThrow(/Unknown tool/);
  });

  test("echo reports the caller's x-user-marker header; requests are recorded", async () => {
    const fake = await start({ kind, requiredHeaders: { Authorization: "Bearer ada-key" } });
    const headers = { authorization: "Bearer ada-key", "x-user-marker": "ada" };
    const client = await connect(fake, kind, headers);
    expect(textOf(await client.callTool({ name: "echo", arguments: { text: "hi" } }))).toBe(
      "hi (marker reversed: ada)",
    );
    expect(fake.requests.length).toBeGreaterThan(0);
    for (const r of fake.requests) expect(r.headers["x-user-marker"]).toBe("ada");
    if (kind === "sse") {
      expect(fake.requests[0]).toMatchObject({ method: "GET", path: "/sse" });
      expect(
        fake.requests.some((r) => r.method === "POST" && r.path.startsWith("/messages?sessionId=")),
      ).toBe(true);
    } else {
      expect(fake.requests.every((r) => r.path === "/mcp")).toBe(true);
    }
  });

  test("a missing or wrong required header is answered 401 before any MCP handling", async () => {
    const fake = await start({ kind, requiredHeaders: { "X-Api-Key": "secret-1" } });
    await expect(connect(fake, kind)).rejects.toThrow();
    await expect(connect(fake, kind, { "x-api-key": "wrong" })).rejects.toThrow();
    expect(fake.requests.length).toBeGreaterThan(0);

    const path = kind === "sse" ? "/sse" : "/mcp";
    const raw = await fetch(fake.url, {
      method: kind === "sse" ? "GET" : "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
      ...(kind === "streamable" && { body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }) }),
    });
    expect(raw.status).toBe(401);
    expect(await raw.json()).toEqual({ error: "unauthorized", missing: "X-Api-Key" });
    expect(fake.requests.at(-1)?.path).toBe(path);

    const client = await connect(fake, kind, { "x-api-key": "secret-1" });
    expect(textOf(await client.callTool({ name: "add", arguments: { a: 1, b: 2 } }))).toBe("3");
  });

  test("works through guardedFetch: the headers timeout does not cut the stream; private URLs refused", async () => {
    const fake = await start({ kind });
    const client = await connect(
      fake,
      kind,
      {},
      "auto",
      guardedFetch({ allowPrivate: true, timeoutMs: 250 }),
    );
    await Bun.sleep(600); // longer than the timeout: an SSE stream opened through it stays usable
    expect(textOf(await client.callTool({ name: "add", arguments: { a: 20, b: 22 } }))).toBe("42");

    const before = fake.requests.length;
    await expect(connect(fake, kind, {}, "auto", guardedFetch({ allowPrivate: false }))).rejects.toThrow();
    expect(fake.requests.length).toBe(before);
  });

  test("extra tools are served next to the defaults", async () => {
    const fake = await start({
      kind,
      tools: [
        {
          name: "whoami",
          inputSchema: { type: "object" },
          run: (_args, ctx) => ({
            content: [{ type: "text", text: ctx.headers["x-user-marker"] ?? "nobody" }],
          }),
        },
      ],
    });
    const client = await connect(fake, kind, { "x-user-marker": "bob" });
    expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual([
      "add",
      "echo",
      "fail",
      "whoami",
    ]);
    expect(textOf(await client.callTool({ name: "whoami", arguments: {} }))).toBe("bob");
  });
});

describe("streamable fake speaks both eras", () => {
  test("a negotiating client lands on 2026-07-28", async () => {
    const fake = await start({ kind: "streamable" });
    const client = await connect(fake, "streamable", { "x-user-marker": "modern" }, "auto");
    expect(client.getNegotiatedProtocolVersion()).toBe("2026-07-28");
    expect(textOf(await client.callTool({ name: "echo", arguments: { text: "m" } }))).toBe(
      "m (marker reversed: nredom)",
    );
  });

  test("a 2025-era client (no negotiation) initializes and calls tools", async () => {
    const fake = await start({ kind: "streamable" });
    const client = await connect(fake, "streamable", { "x-user-marker": "old" }, "legacy");
    expect(client.getNegotiatedProtocolVersion()).toBe("2025-11-25");
    expect(textOf(await client.callTool({ name: "echo", arguments: { text: "o" } }))).toBe(
      "o (marker reversed: dlo)",
    );
    expect(fake.requests.some((r) => r.headers["mcp-protocol-version"] === "2025-11-25")).toBe(true);
  });
});
