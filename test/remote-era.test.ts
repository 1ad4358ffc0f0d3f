// A remote server's protocol era is negotiated once (`server/discover`, else `initialize`) and remembered:
// the next connection to it skips the probe; a verdict that no longer holds is forgotten and probed again.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connectRemoteMcp } from "@mcp/services";
import { type ConformanceUpstream, startConformanceUpstream } from "./conformance/upstream.ts";

let upstream: ConformanceUpstream;
let proxy: ReturnType<typeof Bun.serve>;
const methods: string[] = [];
/** When set, the proxy answers `server/discover` as a 2025-era server would (an unknown method). */
let legacyOnly = false;

beforeAll(async () => {
  upstream = await startConformanceUpstream();
  // Counts the JSON-RPC methods on their way to the upstream.
  proxy = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const body = req.method === "POST" ? await req.text() : undefined;
      const method = body ? (JSON.parse(body) as { method?: string }).method : undefined;
      if (method) methods.push(method);
      if (method === "server/discover" && legacyOnly) {
        const { id } = JSON.parse(body ?? "{}") as { id: number };
        return Response.json({ jsonrpc: "2.0", id, error: { code: -32601, message: "Method not found" } });
      }
      const headers = new Headers(req.headers);
      headers.delete("host");
      return fetch(upstream.url, { method: req.method, headers, ...(body !== undefined && { body }) });
    },
  });
});
afterAll(async () => {
  proxy?.stop(true);
  await upstream?.stop();
});

test("the second connection to a server skips the server/discover probe", async () => {
  const url = `http://127.0.0.1:${proxy.port}/mcp?era-test=${crypto.randomUUID()}`;
  const connectOnce = async () => {
    const conn = await connectRemoteMcp(
      { name: "era", url },
      { allowPrivate: true, timeoutMs: 5000, rememberEra: true },
    );
    if (!conn.ok) throw new Error(conn.message);
    expect(conn.client.getNegotiatedProtocolVersion()).toBe("2026-07-28");
    await conn.client.listTools();
    await conn.client.close();
  };
  methods.length = 0;
  await connectOnce();
  expect(methods.filter((m) => m === "server/discover")).toHaveLength(1);
  methods.length = 0;
  await connectOnce();
  expect(methods.filter((m) => m === "server/discover")).toHaveLength(0);
  expect(methods).toContain("tools/list");
});

test("a key check (rememberEra unset) always probes", async () => {
  const url = `http://127.0.0.1:${proxy.port}/mcp?era-test=${crypto.randomUUID()}`;
  for (let i = 0; i < 2; i++) {
    methods.length = 0;
    const conn = await connectRemoteMcp({ name: "era", url }, { allowPrivate: true, timeoutMs: 5000 });
    if (!conn.ok) throw new Error(conn.message);
    await conn.client.close();
    expect(methods).toContain("server/discover");
  }
});

test("a server remembered as legacy speaks 2025 without a probe", async () => {
  const url = `http://127.0.0.1:${proxy.port}/mcp?era-test=${crypto.randomUUID()}`;
  legacyOnly = true;
  try {
    methods.length = 0;
    const first = await connectRemoteMcp(
      { name: "era", url },
      { allowPrivate: true, timeoutMs: 5000, rememberEra: true },
    );
    if (!first.ok) throw new Error(first.message);
    expect(first.client.getNegotiatedProtocolVersion()?.startsWith("2025")).toBe(true);
    await first.client.close();
    expect(methods).toEqual(expect.arrayContaining(["server/discover", "initialize"]));
    methods.length = 0;
    const second = await connectRemoteMcp(
      { name: "era", url },
      { allowPrivate: true, timeoutMs: 5000, rememberEra: true },
    );
    if (!second.ok) throw new Error(second.message);
    await second.client.close();
    expect(methods).not.toContain("server/discover");
    expect(methods).toContain("initialize");
  } finally {
    legacyOnly = false;
  }
});
