// An edge's graceful stop (SIGTERM in apps/edge/src/main.ts and `bun run dev`: `stopEdge`): /ready turns 503 at
// once, a call in flight gets its answer, and a 2025-era session's open GET stream — which never ends by itself
// and used to hold the listener's stop forever (PM2 then killed the process, losing the buffered audit events)
// — is ended, so the stop completes.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createEdge, stopEdge } from "@mcp/edge";
import { createKv } from "@mcp/kv";
import { data, newUser, trpc } from "./client.ts";
import { type ConformanceUpstream, startConformanceUpstream } from "./conformance/upstream.ts";
import { type Stack, startStack } from "./harness.ts";

let stack: Stack;
let upstream: ConformanceUpstream;

beforeAll(async () => {
  upstream = await startConformanceUpstream();
  stack = await startStack({ allowPrivateUpstreams: true });
});
afterAll(async () => {
  await stack?.stop();
  await upstream?.stop();
});

const LEGACY = "2025-11-25";
const headers = (extra: Record<string, string> = {}) => ({
  "content-type": "application/json",
  accept: "application/json, text/event-stream",
  "mcp-protocol-version": LEGACY,
  ...extra,
});

test("SIGTERM's stop: /ready 503 at once, the call in flight answered, the open GET stream ended, the stop done", async () => {
  const user = await newUser(stack);
  const connected = await trpc(
    stack,
    "instances.connectCustom",
    { name: "shutdown", url: upstream.url },
    { cookie: user.cookie },
  );
  const path = new URL(data<{ instanceUrl: string }>(connected).instanceUrl).pathname;
  // An edge of its own (its own listener), on the stack's backends, as a process of its own would be.
  const kv = process.env.REDIS_URL
    ? createKv({ REDIS_URL: process.env.REDIS_URL }, { prefix: stack.kvPrefix })
    : stack.platform.deps.kv;
  const edge = await createEdge({ ...stack.platform.deps, kv }, { host: "127.0.0.1" });
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, idleTimeout: 60, fetch: edge.fetch });
  const url = `http://127.0.0.1:${server.port}${path}`;
  try {
    const init = await fetch(url, {
      method: "POST",
      headers: headers(),
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: { protocolVersion: LEGACY, capabilities: {}, clientInfo: { name: "raw", version: "1" } },
      }),
    });
    const session = init.headers.get("mcp-session-id") ?? "";
    await init.text();
    expect(session).not.toBe("");
    const stream = await fetch(url, {
      headers: { accept: "text/event-stream", "mcp-protocol-version": LEGACY, "mcp-session-id": session },
    });
    expect(stream.status).toBe(200);
    // A call that takes a while (its server logs three times, 50 ms apart), in flight when the stop begins.
    const inFlight = await fetch(url, {
      method: "POST",
      headers: headers({ "mcp-session-id": session }),
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 2,
        method: "tools/call",
        params: { name: "test_tool_with_logging", arguments: {} },
      }),
    });
    const stopped = stopEdge(edge, [server], 1_500);
    const ready = await edge.app.request("/ready");
    expect({ status: ready.status, body: await ready.json() }).toMatchObject({
      status: 503,
      body: { ready: false, closing: true },
    });
    expect(await inFlight.text()).toContain("Tool with logging executed successfully");
    // The stream ends (it held the stop before), and the stop completes.
    await stream.text().catch(() => "");
    await stopped;
  } finally {
    server.stop(true);
    await edge.close();
    if (kv !== stack.platform.deps.kv) await kv.close();
  }
}, 30_000);
