// An edge whose Redis *subscriber* connection alone is lost (killed by Redis for a full output buffer, cut by a
// proxy's idle timeout, a network blip) while its command connection stays up: the kv is not degraded, but every
// invalidation published until the subscriber is back is lost to it. A URL revoked meanwhile must not go on being
// served from that edge's memory (it used to be, for up to its local entry's 30 s, or longer while the subscriber
// stayed away): while the edge does not hear invalidations it asks Redis, and once it hears them again it forgets
// what it cached before.
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import { createEdge } from "@mcp/edge";
import { createKv, type Kv } from "@mcp/kv";
import Redis from "ioredis";
import { connectFigma, figmaKeyFor, newUser, toolCallRequest, trpc } from "./client.ts";
import { FAKE_FILE_KEY } from "./fakes/figma.ts";
import { type OwnRedis, redisServerPath, startOwnRedis } from "./fakes/redis-server.ts";
import { startTcpProxy, type TcpProxy } from "./fakes/tcp-proxy.ts";
import { type Stack, startStack } from "./harness.ts";
import { until } from "./wait.ts";

let redis: OwnRedis;
let admin: Redis;
let proxy: TcpProxy;
let stack: Stack;
let edgeKv: Kv;
let edge: Awaited<ReturnType<typeof createEdge>>;
let edgeServer: ReturnType<typeof Bun.serve>;

beforeAll(async () => {
  if (!redisServerPath) return;
  redis = await startOwnRedis();
  admin = new Redis(redis.url);
  proxy = await startTcpProxy("127.0.0.1", redis.port);
  stack = await startStack({ redisUrl: redis.url });
  // The edge under test: on Redis through the proxy, with connections of its own.
  edgeKv = createKv({ REDIS_URL: `redis://127.0.0.1:${proxy.port}` }, { prefix: stack.kvPrefix });
  edge = await createEdge({ ...stack.platform.deps, kv: edgeKv }, { host: "127.0.0.1" });
  edgeServer = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: edge.fetch });
});
afterEach(() => {
  if (proxy) proxy.refuseNew = false;
});
afterAll(async () => {
  edgeServer?.stop(true);
  await edge?.close();
  await edgeKv?.close();
  await stack?.stop();
  await proxy?.stop();
  admin?.disconnect();
  await redis?.stop();
});

async function callOnEdge(instanceUrl: string): Promise<number> {
  const res = await fetch(
    `http://127.0.0.1:${edgeServer.port}${new URL(instanceUrl).pathname}`,
    toolCallRequest("get_file", { file_key: FAKE_FILE_KEY }),
  );
  await res.text();
  return res.status;
}

/** Redis's ids of the edge's subscriber connections (pub/sub clients that came through the proxy). */
async function edgeSubscribers(): Promise<string[]> {
  const listing = (await admin.call("CLIENT", "LIST", "TYPE", "pubsub")) as string;
  const ports = proxy.upstreamPorts();
  return listing
    .split("\n")
    .filter((line) => {
      const port = Number(/ addr=[^ ]*:(\d+) /.exec(` ${line}`)?.[1]);
      return ports.has(port);
    })
    .map((line) => /(?:^| )id=(\d+)/.exec(line)?.[1] ?? "")
    .filter((id) => id !== "");
}

test.skipIf(!redisServerPath)(
  "a revocation published while an edge's subscriber connection is away is not missed there",
  async () => {
    const user = await newUser(stack);
    const { instanceUrl } = await connectFigma(stack, user, figmaKeyFor(stack, "gap"));
    // Served by the edge, and now in its memory.
    expect(await callOnEdge(instanceUrl)).toBe(200);
    const [subscriber] = await edgeSubscribers();
    expect(subscriber).toBeDefined();

    // The subscriber connection alone is lost, and cannot come back for now; the command connection stays.
    proxy.refuseNew = true;
    await admin.call("CLIENT", "KILL", "ID", subscriber ?? "");
    await until(async () => (await edgeSubscribers()).length === 0, "the edge's subscriber to be gone");

    const revoked = await trpc(stack, "instances.revoke", { serviceType: "figma" }, { cookie: user.cookie });
    expect(revoked.status).toBe(200);
    expect(edgeKv.degraded?.()).toBe(false);
    expect(await callOnEdge(instanceUrl)).toBe(401);

    // Back: still refused.
    proxy.refuseNew = false;
    await until(async () => (await edgeSubscribers()).length === 1, "the edge's subscriber to be back");
    expect(await callOnEdge(instanceUrl)).toBe(401);
  },
  60_000,
);

test.skipIf(!redisServerPath)(
  "an entry cached before the subscriber was lost is not trusted once it is back (the rotation it missed)",
  async () => {
    const user = await newUser(stack);
    const { instanceUrl } = await connectFigma(stack, user, figmaKeyFor(stack, "gap-rotate"));
    expect(await callOnEdge(instanceUrl)).toBe(200);
    await until(async () => (await edgeSubscribers()).length === 1, "the edge's subscriber");
    const [subscriber] = await edgeSubscribers();
    proxy.refuseNew = true;
    await admin.call("CLIENT", "KILL", "ID", subscriber ?? "");
    await until(async () => (await edgeSubscribers()).length === 0, "the edge's subscriber to be gone");
    const rotated = await trpc(stack, "instances.rotate", { serviceType: "figma" }, { cookie: user.cookie });
    expect(rotated.status).toBe(200);
    proxy.refuseNew = false;
    await until(async () => (await edgeSubscribers()).length === 1, "the edge's subscriber to be back");
    expect(await callOnEdge(instanceUrl)).toBe(401);
  },
  60_000,
);
