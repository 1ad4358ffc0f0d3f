// A revocation made while the control plane cannot reach Redis (its connection cut, Redis itself up): the
// tombstone and the invalidation it could not write are made in Redis as soon as it reaches it again, so an
// edge that never lost Redis (it kept serving the instance from its memory and Redis's entry), and an edge
// started after the outage, refuse the URL — where they used to serve it for up to the entry's 5 minutes.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createEdge } from "@mcp/edge";
import { createKv, type Kv } from "@mcp/kv";
import { connectFigma, figmaKeyFor, newUser, toolCallRequest, trpc } from "./client.ts";
import { FAKE_FILE_KEY } from "./fakes/figma.ts";
import { type OwnRedis, startOwnRedis } from "./fakes/redis-server.ts";
import { startTcpProxy, type TcpProxy } from "./fakes/tcp-proxy.ts";
import { type Stack, startStack } from "./harness.ts";
import { until } from "./wait.ts";

let redis: OwnRedis;
let proxy: TcpProxy;
let stack: Stack;
const edges: { close(): Promise<void> }[] = [];
const kvs: Kv[] = [];

beforeAll(async () => {
  redis = await startOwnRedis();
  proxy = await startTcpProxy("127.0.0.1", redis.port);
  stack = await startStack({ redisUrl: `redis://127.0.0.1:${proxy.port}` });
});
afterAll(async () => {
  for (const edge of edges) await edge.close();
  for (const kv of kvs) await kv.close();
  await stack?.stop();
  await proxy?.stop();
  await redis?.stop();
});

/** An edge process of its own on Redis directly (never through the proxy): it never sees the outage. */
async function edgeOnRedis(): Promise<(url: string) => Promise<number>> {
  const kv = createKv({ REDIS_URL: redis.url }, { prefix: stack.kvPrefix });
  kvs.push(kv);
  const edge = await createEdge({ ...stack.platform.deps, kv }, { host: "127.0.0.1" });
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: edge.fetch });
  edges.push({
    async close() {
      server.stop(true);
      await edge.close();
    },
  });
  return async (url) => {
    const res = await fetch(
      `http://127.0.0.1:${server.port}${new URL(url).pathname}`,
      toolCallRequest("get_file", { file_key: FAKE_FILE_KEY }),
    );
    await res.text();
    return res.status;
  };
}

test("a revocation made while the control plane's Redis is cut reaches every edge once it is back", async () => {
  const user = await newUser(stack);
  const { instanceUrl } = await connectFigma(stack, user, figmaKeyFor(stack, "cut-revoke"));
  const steady = await edgeOnRedis();
  // Served, and cached in that edge's memory and in Redis.
  expect(await steady(instanceUrl)).toBe(200);
  await proxy.down();
  // A call that fails is what tells the kv Redis is gone.
  const { kv } = stack.platform.deps;
  await until(async () => {
    await kv.get("probe").catch(() => null);
    return kv.degraded?.() === true;
  }, "the control plane's kv to be degraded");
  const revoked = await trpc(stack, "instances.revoke", { serviceType: "figma" }, { cookie: user.cookie });
  expect(revoked.status).toBe(200);
  await proxy.up();
  await until(() => kv.degraded?.() === false, "the control plane's kv to recover");
  await until(async () => (await steady(instanceUrl)) === 401, "the steady edge to refuse the revoked URL");
  // And an edge started after the outage never serves it.
  expect(await (await edgeOnRedis())(instanceUrl)).toBe(401);
}, 90_000);
