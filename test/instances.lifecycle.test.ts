// The life of an instance across edges: connect → use → rotate → revoke → reconnect → updateCredentials →
// updateSettings → delete, black-box, with two edges on one database and kv (the stack's own, and a second edge
// app with its own listener, resolver and — on Redis — its own kv connection, as a second edge process would
// have). Runs on the embedded backends and on PostgreSQL + Redis.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createEdge } from "@mcp/edge";
import { createKv, type Kv } from "@mcp/kv";
import { data, newUser, type TestUser, toolCallRequest, trpc } from "./client.ts";
import { FAKE_FILE_KEY } from "./fakes/figma.ts";
import { type Stack, startStack } from "./harness.ts";
import { until } from "./wait.ts";

/**
 * In front of the fake Figma: forwards everything, except that the next request `hold` picks (by its path, and
 * its key when given) waits until the test releases it (then goes on to the fake, which answers with the key as
 * it stands then).
 */
interface Gate {
  url: string;
  hold(path: RegExp, token?: string): void;
  held(): number;
  release(): void;
  stop(): void;
}

function startGate(target: () => string): Gate {
  let holdPath: RegExp | undefined;
  let holdToken: string | undefined;
  let waiting: (() => void)[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const url = new URL(req.url);
      const token = req.headers.get("x-figma-token") ?? undefined;
      if (holdPath?.test(url.pathname) && (holdToken === undefined || holdToken === token)) {
        holdPath = undefined;
        await new Promise<void>((resolve) => waiting.push(resolve));
      }
      const body = req.method === "GET" || req.method === "HEAD" ? undefined : await req.arrayBuffer();
      const headers = new Headers(req.headers);
      headers.delete("host");
      return fetch(`${target()}${url.pathname}${url.search}`, { method: req.method, headers, body });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    hold: (path, token) => {
      holdPath = path;
      holdToken = token;
    },
    held: () => waiting.length,
    release: () => {
      const now = waiting;
      waiting = [];
      for (const go of now) go();
    },
    stop: () => server.stop(true),
  };
}

let stack: Stack;
let gate: Gate;
let second: { url: string; close(): Promise<void> };
const kvs: Kv[] = [];

beforeAll(async () => {
  let figmaUrl = "";
  gate = startGate(() => figmaUrl);
  stack = await startStack({
    serviceEnv: { SERVICE_FIGMA_BASE_URL: gate.url },
    controlPlaneLimits: { connectPerUser: 1_000 },
  });
  figmaUrl = stack.figma.url;
  // A second edge on the same database and kv: on Redis with a connection of its own (its invalidations arrive
  // through Redis pub/sub like another process's); embedded, on the one in-process kv (a single process).
  let kv = stack.platform.deps.kv;
  if (process.env.REDIS_URL) {
    kv = createKv({ REDIS_URL: process.env.REDIS_URL }, { prefix: stack.kvPrefix });
    kvs.push(kv);
  }
  const edge = await createEdge({ ...stack.platform.deps, kv }, { host: "127.0.0.1" });
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: edge.fetch, idleTimeout: 60 });
  second = {
    url: `http://127.0.0.1:${server.port}`,
    async close() {
      server.stop(true);
      await edge.close();
    },
  };
});
afterAll(async () => {
  await second?.close();
  for (const kv of kvs) await kv.close();
  await stack?.stop();
  gate?.stop();
});

/** The same instance URL on the second edge. */
const onSecond = (instanceUrl: string) => `${second.url}${new URL(instanceUrl).pathname}`;

function keyFor(who: string, accountId = `fig-${who}`): string {
  const key = `figd_${crypto.randomUUID()}`;
  stack.figma.addKey(key, { id: accountId, email: `${who}@figma.test`, handle: who });
  return key;
}

interface CallAnswer {
  status: number;
  body: {
    result?: { content?: { text?: string }[]; isError?: boolean; _meta?: { code?: string } };
    error?: { code: number; message: string };
    code?: string;
  };
}

async function call(
  instanceUrl: string,
  tool: string,
  args: Record<string, unknown> = {},
): Promise<CallAnswer> {
  const res = await fetch(instanceUrl, toolCallRequest(tool, args));
  return { status: res.status, body: (await res.json()) as CallAnswer["body"] };
}

const handleOf = (answer: CallAnswer) =>
  (JSON.parse(answer.body.result?.content?.[0]?.text ?? "{}") as { handle?: string }).handle;

async function mutate<T>(user: TestUser, path: string, input: unknown): Promise<T> {
  return data<T>(await trpc(stack, path, input, { cookie: user.cookie }));
}

async function instanceOf(user: TestUser) {
  return mutate<{ instanceId: string; status: string; lastUsedAt: string | null }>(user, "instances.get", {
    serviceType: "figma",
  });
}

/** Answers 401 INVALID_INSTANCE on both edges, the upstream never called. */
async function expectDeadEverywhere(instanceUrl: string): Promise<void> {
  const mark = stack.figma.requests.length;
  for (const url of [instanceUrl, onSecond(instanceUrl)]) {
    const answer = await call(url, "get_file", { file_key: FAKE_FILE_KEY });
    expect(answer.status).toBe(401);
    expect(answer.body.code).toBe("INVALID_INSTANCE");
  }
  expect(stack.figma.requests.length).toBe(mark);
}

async function expectServedEverywhere(instanceUrl: string, handle: string): Promise<void> {
  for (const url of [instanceUrl, onSecond(instanceUrl)]) {
    const answer = await call(url, "get_me");
    expect(answer.status).toBe(200);
    expect(handleOf(answer)).toBe(handle);
  }
}

describe("an instance's life on two edges", () => {
  test("connect → use → rotate → revoke → reconnect → new key → settings → delete", async () => {
    const user = await newUser(stack);
    const key = keyFor("life");
    const first = await mutate<{ instanceId: string; instanceUrl: string }>(user, "instances.connect", {
      serviceType: "figma",
      apiKey: key,
    });
    // Used on both edges: cached in each one's memory (and in the shared kv).
    await expectServedEverywhere(first.instanceUrl, "life");

    const rotated = await mutate<{ instanceId: string; instanceUrl: string }>(user, "instances.rotate", {
      serviceType: "figma",
    });
    expect(rotated.instanceId).toBe(first.instanceId);
    expect(rotated.instanceUrl).not.toBe(first.instanceUrl);
    await expectDeadEverywhere(first.instanceUrl);
    await expectServedEverywhere(rotated.instanceUrl, "life");
    const used = await instanceOf(user);
    expect(used.instanceId).toBe(first.instanceId);
    await until(async () => (await instanceOf(user)).lastUsedAt !== null, "lastUsedAt to be written");

    await mutate(user, "instances.revoke", { serviceType: "figma" });
    await expectDeadEverywhere(rotated.instanceUrl);
    expect((await instanceOf(user)).status).toBe("revoked");

    // Reconnecting a revoked instance: the same instance, a new URL; the revoked ones stay dead.
    const back = await mutate<{ instanceId: string; instanceUrl: string }>(user, "instances.connect", {
      serviceType: "figma",
      apiKey: key,
    });
    expect(back.instanceId).toBe(first.instanceId);
    expect([first.instanceUrl, rotated.instanceUrl]).not.toContain(back.instanceUrl);
    await expectDeadEverywhere(rotated.instanceUrl);
    await expectServedEverywhere(back.instanceUrl, "life");

    // A new key of the same account: the URL stays, the new key is used at once on both edges.
    const newKey = keyFor("life");
    stack.figma.removeKey(key);
    const updated = await mutate<{ instanceId: string; status: string }>(
      user,
      "instances.updateCredentials",
      {
        serviceType: "figma",
        apiKey: newKey,
      },
    );
    expect(updated).toMatchObject({ instanceId: first.instanceId, status: "active" });
    const mark = stack.figma.requests.length;
    for (const url of [back.instanceUrl, onSecond(back.instanceUrl)]) {
      const answer = await call(url, "get_file", { file_key: FAKE_FILE_KEY });
      expect(answer.status).toBe(200);
      expect(answer.body.result?.isError).toBeFalsy();
    }
    const sent = stack.figma.requests.slice(mark).map((r) => r.token);
    expect(sent.length).toBeGreaterThan(0);
    expect(sent.every((token) => token === newKey)).toBe(true);

    // Settings reach both edges at once.
    await mutate(user, "instances.updateSettings", { serviceType: "figma", toolAllowlist: ["get_me"] });
    for (const url of [back.instanceUrl, onSecond(back.instanceUrl)]) {
      const refused = await call(url, "get_file", { file_key: FAKE_FILE_KEY });
      expect(refused.body.error).toMatchObject({ code: -32602, message: "Unknown tool: get_file" });
      expect(handleOf(await call(url, "get_me"))).toBe("life");
    }

    await mutate(user, "instances.delete", { serviceType: "figma" });
    await expectDeadEverywhere(back.instanceUrl);
    const gone = await trpc(stack, "instances.get", { serviceType: "figma" }, { cookie: user.cookie });
    expect(gone.status).toBe(404);
  }, 60_000);

  test("a key of another upstream account: a new URL, the old one dead on both edges, no cached read of the old account", async () => {
    const user = await newUser(stack);
    const first = await mutate<{ instanceId: string; instanceUrl: string }>(user, "instances.connect", {
      serviceType: "figma",
      apiKey: keyFor("first-account"),
    });
    // get_me is a cached read: both edges have the first account's answer cached.
    await expectServedEverywhere(first.instanceUrl, "first-account");
    const other = await mutate<{ instanceId: string; instanceUrl: string }>(user, "instances.connect", {
      serviceType: "figma",
      apiKey: keyFor("second-account"),
    });
    expect(other.instanceId).toBe(first.instanceId);
    expect(other.instanceUrl).not.toBe(first.instanceUrl);
    await expectDeadEverywhere(first.instanceUrl);
    await expectServedEverywhere(other.instanceUrl, "second-account");
    // updateCredentials with a third account's key: 409, nothing changed.
    const refused = await trpc(
      stack,
      "instances.updateCredentials",
      { serviceType: "figma", apiKey: keyFor("third-account") },
      { cookie: user.cookie },
    );
    expect(refused.status).toBe(409);
    expect(refused.body.error?.data.appCode).toBe("CONFLICT");
    await expectServedEverywhere(other.instanceUrl, "second-account");
  }, 60_000);
});

describe("needs_reauth", () => {
  test("a key the upstream rejects: a tool error, needs_reauth; a new key clears it on the same URL", async () => {
    const user = await newUser(stack);
    const key = keyFor("expiring");
    const { instanceUrl } = await mutate<{ instanceUrl: string }>(user, "instances.connect", {
      serviceType: "figma",
      apiKey: key,
    });
    stack.figma.removeKey(key);
    const refused = await call(onSecond(instanceUrl), "get_file", { file_key: FAKE_FILE_KEY });
    expect(refused.status).toBe(200);
    expect(refused.body.result).toMatchObject({ isError: true, _meta: { code: "EXPIRED_CREDENTIALS" } });
    expect((await instanceOf(user)).status).toBe("needs_reauth");
    // The URL still resolves (the owner reconnects with it unchanged); calls keep saying why they fail.
    const again = await call(instanceUrl, "get_file", { file_key: FAKE_FILE_KEY });
    expect(again.body.result?._meta?.code).toBe("EXPIRED_CREDENTIALS");

    await mutate(user, "instances.updateCredentials", { serviceType: "figma", apiKey: keyFor("expiring") });
    expect((await instanceOf(user)).status).toBe("active");
    for (const url of [instanceUrl, onSecond(instanceUrl)]) {
      const ok = await call(url, "get_file", { file_key: FAKE_FILE_KEY });
      expect(ok.body.result?.isError).toBeFalsy();
    }
  }, 60_000);

  test("a call refused with the old key after updateCredentials replaced it does not mark the new key needs_reauth", async () => {
    const user = await newUser(stack);
    const oldKey = keyFor("replaced");
    const { instanceUrl } = await mutate<{ instanceUrl: string }>(user, "instances.connect", {
      serviceType: "figma",
      apiKey: oldKey,
    });
    // A call made with the old key, held before it reaches the upstream.
    gate.hold(/^\/v1\/files\/[^/]+\/comments$/);
    const inFlight = call(onSecond(instanceUrl), "get_comments", { file_key: FAKE_FILE_KEY });
    await until(() => gate.held() === 1, "the old key's call to be held");
    // Meanwhile the old key expires upstream and the owner puts a new one in place.
    stack.figma.removeKey(oldKey);
    const newKey = keyFor("replaced");
    await mutate(user, "instances.updateCredentials", { serviceType: "figma", apiKey: newKey });
    expect((await instanceOf(user)).status).toBe("active");
    // The old key's call is refused now (and its key re-check fails): that call says so...
    gate.release();
    const refused = await inFlight;
    expect(refused.body.result?._meta?.code).toBe("EXPIRED_CREDENTIALS");
    // ...but the instance, whose key is the new, valid one, stays active.
    expect((await instanceOf(user)).status).toBe("active");
    const listed = await mutate<{ status: string }[]>(user, "instances.list", undefined);
    expect(listed.map((i) => i.status)).toEqual(["active"]);
    const ok = await call(instanceUrl, "get_file", { file_key: FAKE_FILE_KEY });
    expect(ok.body.result?.isError).toBeFalsy();
  }, 60_000);
});

describe("two tabs", () => {
  test("updateCredentials racing a connect of another account's key: 409, the new account's URL keeps working", async () => {
    const user = await newUser(stack);
    await mutate(user, "instances.connect", { serviceType: "figma", apiKey: keyFor("tab-x", "fig-tab-x") });
    // Tab 1: a new key of the same account, its upstream check held.
    const sameAccountKey = keyFor("tab-x", "fig-tab-x");
    gate.hold(/^\/v1\/me$/, sameAccountKey);
    const update = trpc(
      stack,
      "instances.updateCredentials",
      { serviceType: "figma", apiKey: sameAccountKey },
      { cookie: user.cookie },
    );
    await until(() => gate.held() === 1, "tab 1's key check to be held");
    // Tab 2: another account's key, through connect, which issues a new URL.
    const other = await mutate<{ instanceUrl: string }>(user, "instances.connect", {
      serviceType: "figma",
      apiKey: keyFor("tab-y", "fig-tab-y"),
    });
    gate.release();
    const answer = await update;
    // The key belongs to another account than the instance's now: refused as documented, nothing changed.
    expect(answer.status).toBe(409);
    expect(answer.body.error?.data.appCode).toBe("CONFLICT");
    await expectServedEverywhere(other.instanceUrl, "tab-y");
    const listed = await mutate<{ account: { id?: string } | null; status: string }[]>(
      user,
      "instances.list",
      undefined,
    );
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ status: "active", account: { id: "fig-tab-y" } });
  }, 60_000);
});

describe("what other users see", () => {
  test("another user's rotate, revoke, delete, updateCredentials and updateSettings: 404, the owner's URL untouched", async () => {
    const [owner, other] = await Promise.all([newUser(stack), newUser(stack)]);
    const { instanceUrl } = await mutate<{ instanceUrl: string }>(owner, "instances.connect", {
      serviceType: "figma",
      apiKey: keyFor("owner"),
    });
    for (const [path, input] of [
      ["instances.rotate", { serviceType: "figma" }],
      ["instances.revoke", { serviceType: "figma" }],
      ["instances.delete", { serviceType: "figma" }],
      ["instances.updateCredentials", { serviceType: "figma", apiKey: keyFor("other") }],
      ["instances.updateSettings", { serviceType: "figma", readOnly: true }],
    ] as const) {
      const answer = await trpc(stack, path, input, { cookie: other.cookie });
      expect(answer.status).toBe(404);
      expect(answer.body.error?.data.appCode).toBe("NOT_FOUND");
    }
    expect(data<unknown[]>(await trpc(stack, "instances.list", undefined, { cookie: other.cookie }))).toEqual(
      [],
    );
    await expectServedEverywhere(instanceUrl, "owner");
    expect((await instanceOf(owner)).status).toBe("active");
  }, 60_000);
});
