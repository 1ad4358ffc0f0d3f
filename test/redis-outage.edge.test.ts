// Redis failure policy at the edge, against a redis-server this file starts, kills and starts again (never
// the shared Redis): tool calls keep working (no 500, no blanket 429), the response cache is bypassed,
// limits hold per process, instances resolve from memory and the database, a revocation made during the
// outage reaches an edge that cannot hear it within a bounded time, the outage is measured, and the edge
// recovers by itself when Redis returns. Then PostgreSQL down: instances the kv knows keep serving.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createDatabase } from "@mcp/db";
import { createEdge } from "@mcp/edge";
import { createKv } from "@mcp/kv";
import { connectFigma, figmaKeyFor, metricsText, newUser, type TestUser, trpc } from "./client.ts";
import { FAKE_FILE_KEY } from "./fakes/figma.ts";
import { type OwnRedis, startOwnRedis } from "./fakes/redis-server.ts";
import { type Stack, startStack } from "./harness.ts";
import { until } from "./wait.ts";

const headers = {
  "content-type": "application/json",
  accept: "application/json, text/event-stream",
  "mcp-protocol-version": "2025-03-26",
};
const getFile = (id = 1) =>
  JSON.stringify({
    jsonrpc: "2.0",
    id,
    method: "tools/call",
    params: { name: "get_file", arguments: { file_key: FAKE_FILE_KEY } },
  });

type Fetcher = (url: string, init: RequestInit) => Promise<Response>;
async function callGetFile(url: string, via: Fetcher = fetch) {
  const res = await via(url, { method: "POST", headers, body: getFile() });
  const text = await res.text();
  // A JSON answer, or the one `data:` line of an SSE answer.
  const json = text.startsWith("{") ? text : /^data: (.*)$/m.exec(text)?.[1];
  return { status: res.status, headers: res.headers, body: json ? JSON.parse(json) : undefined };
}

let redis: OwnRedis;
let stack: Stack;
/** Another edge process on the same Redis and database: it hears nothing the stack's process does. */
let other: Awaited<ReturnType<typeof createEdge>>;
let otherServer: ReturnType<typeof Bun.serve>;
/** The same instance URL, sent to another process's listener. */
const served =
  (port: number | undefined): Fetcher =>
  (url, init) =>
    fetch(`http://127.0.0.1:${port}${new URL(url).pathname}`, init);
const viaOther: Fetcher = (url, init) => served(otherServer.port)(url, init);
let user: TestUser;
let busy: TestUser;
let main: { instanceId: string; instanceUrl: string };
let revokedLater: { instanceId: string; instanceUrl: string };

beforeAll(async () => {
  redis = await startOwnRedis();
  stack = await startStack({ redisUrl: redis.url, limits: { perInstancePerMinute: 5 } });
  other = await createEdge(
    { ...stack.platform.deps, kv: createKv({ REDIS_URL: redis.url }, { prefix: stack.kvPrefix }) },
    { limits: { perInstancePerMinute: 1000 } },
  );
  otherServer = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: other.fetch });
  user = await newUser(stack);
  busy = await newUser(stack);
  main = await connectFigma(stack, user, figmaKeyFor(stack, "outage-main"));
  revokedLater = await connectFigma(stack, busy, figmaKeyFor(stack, "outage-revoked"));
});
afterAll(async () => {
  otherServer?.stop(true);
  await other?.close();
  await stack?.stop();
  await redis?.stop();
});

describe("Redis up", () => {
  test("a cacheable read is served from the cache the second time", async () => {
    const mark = stack.figma.requests.length;
    for (let i = 0; i < 2; i++) {
      const r = await callGetFile(main.instanceUrl);
      expect(r.status).toBe(200);
      expect(r.body.result.isError).toBeUndefined();
    }
    expect(stack.figma.requests.length).toBe(mark + 1);
  });

  test("the other edge serves the instance that will be revoked during the outage", async () => {
    expect((await callGetFile(revokedLater.instanceUrl, viaOther)).status).toBe(200);
  });
});

describe("Redis killed mid-traffic", () => {
  beforeAll(async () => {
    await redis.stop();
  });

  test("tool calls keep working (200, a result), the response cache is bypassed", async () => {
    const mark = stack.figma.requests.length;
    const first = await callGetFile(main.instanceUrl);
    const second = await callGetFile(main.instanceUrl);
    for (const r of [first, second]) {
      expect(r.status).toBe(200);
      expect(r.body.result.isError).toBeUndefined();
    }
    expect(stack.platform.deps.kv.degraded?.()).toBe(true);
    // Both reached the upstream: nothing was served from (or stored in) a cache.
    expect(stack.figma.requests.length).toBe(mark + 2);
  });

  test("limits fall back to this process: exactly the per-instance limit passes, then 429 (never a 500)", async () => {
    const fresh = await connectFigma(stack, await newUser(stack), figmaKeyFor(stack, "outage-limit"));
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await callGetFile(fresh.instanceUrl)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
  });

  test("an instance connected during the outage resolves from the database", async () => {
    const late = await connectFigma(stack, await newUser(stack), figmaKeyFor(stack, "outage-late"));
    const r = await callGetFile(late.instanceUrl, viaOther);
    expect(r.status).toBe(200);
    expect(r.body.result.isError).toBeUndefined();
  });

  test("a revocation made during the outage reaches an edge serving the instance from memory", async () => {
    // The other edge still serves it (from memory, while it cannot hear invalidations)...
    expect((await callGetFile(revokedLater.instanceUrl, viaOther)).status).toBe(200);
    expect(other.deps.kv.degraded?.()).toBe(true);
    const revoked = await trpc(stack, "instances.revoke", { serviceType: "figma" }, { cookie: busy.cookie });
    expect(revoked.status).toBe(200);
    // ...and stops within DEGRADED_RECHECK_MS, once it re-checks the database.
    await until(
      async () => (await callGetFile(revokedLater.instanceUrl, viaOther)).status === 401,
      "the revoked instance to be refused",
    );
    const last = await callGetFile(revokedLater.instanceUrl, viaOther);
    expect(last.status).toBe(401);
    expect(last.body).toMatchObject({ code: "INVALID_INSTANCE" });
  });

  test("the outage is measured: mcp_edge_kv_degraded 1, degraded seconds counted", async () => {
    const text = await metricsText(stack);
    expect(text).toMatch(/^mcp_edge_kv_degraded 1$/m);
    const seconds = Number(/^mcp_edge_kv_degraded_seconds_total (\S+)$/m.exec(text)?.[1]);
    expect(seconds).toBeGreaterThan(0);
  });

  describe("Redis back", () => {
    beforeAll(async () => {
      await redis.start();
      await until(
        () => stack.platform.deps.kv.degraded?.() === false && other.deps.kv.degraded?.() === false,
        "both edges to recover",
      );
    });

    test("without a restart: the cache is used again and the metric says not degraded", async () => {
      await callGetFile(main.instanceUrl);
      const mark = stack.figma.requests.length;
      expect((await callGetFile(main.instanceUrl)).status).toBe(200);
      expect(stack.figma.requests.length).toBe(mark);
      const text = await metricsText(stack);
      expect(text).toMatch(/^mcp_edge_kv_degraded 0$/m);
      expect(Number(/^mcp_edge_kv_degraded_seconds_total (\S+)$/m.exec(text)?.[1])).toBeGreaterThan(0);
    });

    test("the other edge is subscribed again: a revocation now reaches it through pub/sub", async () => {
      const heard: string[] = [];
      other.deps.resolver.onInvalidate((hash) => heard.push(hash));
      const owner = await newUser(stack);
      const inst = await connectFigma(stack, owner, figmaKeyFor(stack, "after-outage"));
      expect((await callGetFile(inst.instanceUrl, viaOther)).status).toBe(200);
      // Its kv ended the outage only once it had re-subscribed: the one invalidation a revocation publishes is heard.
      const revoked = await trpc(
        stack,
        "instances.revoke",
        { serviceType: "figma" },
        { cookie: owner.cookie },
      );
      expect(revoked.status).toBe(200);
      await until(() => heard.length > 0, "the invalidation to reach the other edge");
      expect((await callGetFile(inst.instanceUrl, viaOther)).status).toBe(401);
    });
  });
});

describe("PostgreSQL down (Redis up)", () => {
  test("an instance the kv knows keeps serving; an unknown token is 503, not 500", async () => {
    const owner = await newUser(stack);
    const inst = await connectFigma(stack, owner, figmaKeyFor(stack, "pg-down"));
    // Served once, so the shared kv holds the instance.
    expect((await callGetFile(inst.instanceUrl)).status).toBe(200);
    const database = createDatabase({ memory: true });
    await database.close();
    const kv = createKv({ REDIS_URL: redis.url }, { prefix: stack.kvPrefix });
    // Connected first: a fresh connection's first call can miss the 100 ms deadline on a loaded host, and a
    // kv call that misses it is answered by the database, which is down here.
    await until(() => kv.ping(), "the new kv to reach Redis");
    const cut = await createEdge({ ...stack.platform.deps, db: database.db, kv });
    const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: cut.fetch });
    try {
      const via = served(server.port);
      const answered = await callGetFile(inst.instanceUrl, via);
      expect(answered.status).toBe(200);
      expect(answered.body.result.isError).toBeUndefined();
      const unknown = `${new URL(inst.instanceUrl).origin}/mcp_fig_${"A".repeat(43)}/mcp`;
      const refused = await callGetFile(unknown, via);
      expect(refused.status).toBe(503);
      expect(refused.body).toMatchObject({ code: "SERVICE_UNAVAILABLE" });
    } finally {
      server.stop(true);
      await cut.close().catch(() => {});
      await kv.close();
    }
  });
});
