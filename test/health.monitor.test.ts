// The health monitor through the whole stack: fake upstreams that fail, hang, go away and come back; what
// services.list and GET /api/v1/services report; and tools/call and instances.connect answering
// SERVICE_UNAVAILABLE at once for a service marked down, then working again after the next check.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type HealthHistoryEntry, HealthMonitor, readHealthHistory, type ServiceHealth } from "@mcp/core";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { connectFigma, data, figmaKeyFor, newUser, rest, trpc } from "./client.ts";
import { FAKE_FILE_KEY } from "./fakes/figma.ts";
import { type FakeUpstream, json, startFakeUpstream } from "./fakes/upstream.ts";
import { STATUSY_DEFINITION } from "./fixtures/statusy.ts";
import { type Stack, startStack } from "./harness.ts";

const PROBE_TIMEOUT_MS = 500;
const HISTORY = 3;

let work: string;
let stack: Stack;
let statusy: FakeUpstream;
/** What the fake "statusy" upstream's /status answers. */
let statusCode = 200;
let monitor: HealthMonitor;

/** A REST service whose definition names its own health request (`HEAD /status`). */
const statusyDefinition = { ...STATUSY_DEFINITION, health: { method: "HEAD", path: "/status" } };

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "health-monitor-"));
  mkdirSync(join(work, "statusy"));
  writeFileSync(join(work, "statusy", "config.json"), JSON.stringify(statusyDefinition));
  statusy = await startFakeUpstream((req) =>
    req.path === "/status" ? new Response(null, { status: statusCode }) : json({ error: "not found" }, 404),
  );
  stack = await startStack({
    // Longer than the test's own timeout: a call that reached a hanging upstream would never come back in time.
    limits: { upstreamTimeoutMs: 120_000 },
    definitionDirs: [work],
    serviceEnv: { ENABLED_SERVICES: "figma,everything,statusy", SERVICE_STATUSY_BASE_URL: statusy.url },
  });
  monitor = new HealthMonitor(stack.platform.deps, {
    intervalMs: 3_600_000,
    timeoutMs: PROBE_TIMEOUT_MS,
    historyLength: HISTORY,
    env: {},
  });
});

afterAll(async () => {
  stack.figma.delayMs = 0;
  await monitor?.stop();
  await stack?.stop();
  statusy?.stop();
  rmSync(work, { recursive: true, force: true });
});

interface Listed {
  type: string;
  healthy: boolean;
  /** As listed: the check's fields without the service's type (the entry has its own). */
  health?: Omit<ServiceHealth, "type">;
}

async function listed(type: string): Promise<Listed> {
  const all = data<Listed[]>(await trpc(stack, "services.list"));
  const found = all.find((s) => s.type === type);
  if (!found) throw new Error(`${type} not listed`);
  return found;
}

/** One monitor round, then this process's view re-read from the kv (the bus is asynchronous on Redis). */
async function check(): Promise<ServiceHealth[]> {
  const results = await monitor.runOnce();
  await stack.platform.deps.health?.refresh();
  return results;
}

const resultOf = (results: ServiceHealth[], type: string) => {
  const found = results.find((r) => r.type === type);
  if (!found) throw new Error(`${type} not checked`);
  return found;
};

async function mcpClient(instanceUrl: string): Promise<Client> {
  const client = new Client({ name: "health-test", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(instanceUrl)));
  return client;
}

const getFile = { name: "get_file", arguments: { file_key: FAKE_FILE_KEY } };

describe("every service up", () => {
  test("services.list and GET /api/v1/services report each check's fields", async () => {
    const before = stack.figma.requests.length;
    await check();
    // The upstream check is one unauthenticated GET of the base URL (Figma's 404 there still means reachable).
    expect(stack.figma.requests.slice(before).map((r) => [r.method, r.path, r.token])).toEqual([
      ["GET", "/", null],
    ]);
    const figma = await listed("figma");
    expect(figma.healthy).toBe(true);
    const health = figma.health as Omit<ServiceHealth, "type">;
    expect(health).toMatchObject({
      healthy: true,
      lastError: null,
      edge: { url: stack.edgeUrl, healthy: true },
      upstream: { healthy: true, check: "http" },
    });
    expect(health.error).toBeUndefined();
    expect(health.lastCheck).toBe(health.lastCheckedAt);
    expect(health.since).toBe(health.lastCheckedAt);
    expect(new Date(health.lastCheckedAt).toISOString()).toBe(health.lastCheckedAt);
    expect(health.responseTimeMs).toBe(health.upstream.responseTimeMs);
    expect(health.responseTimeMs).toBeGreaterThanOrEqual(0);

    // A stdio server is local: healthy when its command resolves, nothing is spawned.
    expect((await listed("everything")).health).toMatchObject({
      healthy: true,
      responseTimeMs: 0,
      upstream: { healthy: true, check: "local", responseTimeMs: 0 },
    });
    // The definition's own health request, as written (HEAD /status).
    expect(statusy.requests.map((r) => [r.method, r.path])).toEqual([["HEAD", "/status"]]);
    expect((await listed("statusy")).health?.healthy).toBe(true);

    const rested = await rest(stack, "GET", "/services");
    expect(rested.status).toBe(200);
    const restFigma = (rested.body.services as Listed[]).find((s) => s.type === "figma");
    expect(restFigma?.health).toEqual(health);
  });

  test("since holds while the state holds; the history keeps the last N checks", async () => {
    const first = (await listed("figma")).health as Omit<ServiceHealth, "type">;
    await check();
    await check();
    await check();
    const now = (await listed("figma")).health as Omit<ServiceHealth, "type">;
    expect(now.since).toBe(first.since);
    expect(now.lastCheckedAt >= first.lastCheckedAt).toBe(true);
    const history = await readHealthHistory(stack.platform.deps.kv, "figma");
    expect(history).toHaveLength(HISTORY);
    expect(history.map((h) => h.healthy)).toEqual([true, true, true]);
    expect(history.at(-1)?.at).toBe(now.lastCheckedAt);
  });

  test("services.health and GET /api/v1/services/:type/health serve the last check and the history", async () => {
    await check();
    const viaTrpc = data<{ serviceType: string; current: ServiceHealth; history: HealthHistoryEntry[] }>(
      await trpc(stack, "services.health", { serviceType: "figma" }),
    );
    expect(viaTrpc.serviceType).toBe("figma");
    expect(viaTrpc.history).toHaveLength(HISTORY);
    expect(viaTrpc.history.at(-1)).toEqual({
      at: viaTrpc.current.lastCheckedAt,
      healthy: true,
      responseTimeMs: viaTrpc.current.responseTimeMs,
    });
    expect(viaTrpc.current).toEqual((await listed("figma")).health as ServiceHealth);
    const viaRest = await rest(stack, "GET", "/services/figma/health");
    expect(viaRest.status).toBe(200);
    expect(viaRest.body).toEqual(viaTrpc);
  });

  test("the health of an unknown service is 404 NOT_FOUND; a malformed type is 400", async () => {
    const unknown = await trpc(stack, "services.health", { serviceType: "no-such-service" });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error?.data.appCode).toBe("NOT_FOUND");
    const viaRest = await rest(stack, "GET", "/services/no-such-service/health");
    expect(viaRest.status).toBe(404);
    expect(viaRest.body.code).toBe("NOT_FOUND");
    const long = await trpc(stack, "services.health", { serviceType: "x".repeat(65) });
    expect(long.status).toBe(400);
    expect(long.body.error?.data.appCode).toBe("BAD_REQUEST");
  });
});

describe("a service marked down", () => {
  test("upstream 503 → down; tools/call and connect answer SERVICE_UNAVAILABLE at once; the next good check restores it", async () => {
    const user = await newUser(stack);
    const { instanceUrl } = await connectFigma(stack, user, figmaKeyFor(stack, user.userId));
    const client = await mcpClient(instanceUrl);
    expect((await client.callTool(getFile)).isError).toBeFalsy();

    stack.figma.failNext(503);
    const down = resultOf(await check(), "figma");
    expect(down).toMatchObject({
      healthy: false,
      lastError: "upstream: HTTP 503",
      error: "upstream: HTTP 503",
    });
    expect(down.since).toBe(down.lastCheckedAt);
    expect(down.upstream).toEqual({
      healthy: false,
      responseTimeMs: down.upstream.responseTimeMs,
      check: "http",
      error: "HTTP 503",
    });
    const shown = await listed("figma");
    expect(shown.healthy).toBe(false);
    const { type: _type, ...reported } = down;
    expect(shown.health).toEqual(reported);
    expect(stack.platform.deps.health?.isServiceAvailable("figma")).toBe(false);
    expect(stack.platform.deps.health?.isServiceAvailable("statusy")).toBe(true);

    const mark = stack.figma.requests.length;
    const refused = await client.callTool(getFile);
    expect(refused.isError).toBe(true);
    expect(refused._meta).toMatchObject({ code: "SERVICE_UNAVAILABLE" });
    // Connecting a second user: refused before the key is sent anywhere.
    const other = await newUser(stack);
    const key = figmaKeyFor(stack, other.userId);
    const viaTrpc = await trpc(
      stack,
      "instances.connect",
      { serviceType: "figma", apiKey: key },
      { cookie: other.cookie },
    );
    expect(viaTrpc.status).toBe(503);
    expect(viaTrpc.body.error?.data.appCode).toBe("SERVICE_UNAVAILABLE");
    // When to come back: the next time this process reads the monitor's verdicts (a client's retry before that
    // would meet the same verdict), as Retry-After and as data.retryAfterMs.
    const recheckMs = stack.platform.deps.health?.recheckMs ?? 0;
    expect(recheckMs).toBeGreaterThan(0);
    expect(viaTrpc.headers.get("retry-after")).toBe(String(Math.ceil(recheckMs / 1000)));
    expect((viaTrpc.body.error?.data as { retryAfterMs?: number } | undefined)?.retryAfterMs).toBe(recheckMs);
    const viaRest = await rest(stack, "POST", "/services/figma/authenticate", {
      body: { apiKey: key },
      auth: { cookie: other.cookie },
    });
    expect(viaRest.status).toBe(503);
    expect(viaRest.body.code).toBe("SERVICE_UNAVAILABLE");
    expect(viaRest.headers.get("retry-after")).toBe(String(Math.ceil(recheckMs / 1000)));
    expect(stack.figma.requests.length).toBe(mark);

    const up = resultOf(await check(), "figma");
    expect(up).toMatchObject({ healthy: true, lastError: null, since: up.lastCheckedAt });
    expect((await listed("figma")).healthy).toBe(true);
    expect((await client.callTool(getFile)).isError).toBeFalsy();
    await connectFigma(stack, other, key);
    await client.close();
  });

  test("an upstream that hangs is down after the probe's deadline, and calls do not wait for it", async () => {
    const user = await newUser(stack);
    const { instanceUrl } = await connectFigma(stack, user, figmaKeyFor(stack, user.userId));
    const client = await mcpClient(instanceUrl);
    stack.figma.delayMs = 30_000;
    try {
      const down = resultOf(await check(), "figma");
      expect(down.healthy).toBe(false);
      expect(down.lastError).toBe(`upstream: timed out after ${PROBE_TIMEOUT_MS} ms`);
      const mark = stack.figma.requests.length;
      // Without the monitor's verdict this call would wait for the hanging upstream (120 s > the test's timeout).
      const refused = await client.callTool(getFile);
      expect(refused._meta).toMatchObject({ code: "SERVICE_UNAVAILABLE" });
      expect(stack.figma.requests.length).toBe(mark);
    } finally {
      stack.figma.delayMs = 0;
    }
    expect(resultOf(await check(), "figma").healthy).toBe(true);
    expect((await client.callTool(getFile)).isError).toBeFalsy();
    await client.close();
  });

  test("an upstream that refuses connections is down (unreachable) until it listens again", async () => {
    stack.figma.down();
    try {
      const down = resultOf(await check(), "figma");
      expect(down.healthy).toBe(false);
      expect(down.lastError).toStartWith("upstream: unreachable (");
    } finally {
      stack.figma.up();
    }
    expect(resultOf(await check(), "figma").healthy).toBe(true);
  });

  test("a definition's health request must answer 2xx (a 404 there is down, unlike a base URL's)", async () => {
    for (const [code, healthy, error] of [
      [404, false, "upstream: HTTP 404"],
      [503, false, "upstream: HTTP 503"],
      [204, true, null],
    ] as const) {
      statusCode = code;
      const result = resultOf(await check(), "statusy");
      expect([result.healthy, result.lastError]).toEqual([healthy, error]);
      expect(stack.platform.deps.health?.isServiceAvailable("statusy")).toBe(healthy);
    }
    statusCode = 200;
    const history = await readHealthHistory(stack.platform.deps.kv, "statusy");
    expect(history.slice(-3).map((h) => [h.healthy, h.error ?? null])).toEqual([
      [false, "upstream: HTTP 404"],
      [false, "upstream: HTTP 503"],
      [true, null],
    ]);
  });

  test("the edge serving a service (SERVICE_<TYPE>_PUBLIC_URL) unreachable → that service is down", async () => {
    const gone = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
    const closedUrl = `http://127.0.0.1:${gone.port}`;
    gone.stop(true);
    const apart = new HealthMonitor(stack.platform.deps, {
      intervalMs: 3_600_000,
      timeoutMs: PROBE_TIMEOUT_MS,
      historyLength: HISTORY,
      env: { SERVICE_FIGMA_PUBLIC_URL: `${closedUrl}/` },
    });
    const results = await apart.runOnce();
    const figma = resultOf(results, "figma");
    expect(figma.healthy).toBe(false);
    expect(figma.edge.url).toBe(closedUrl);
    expect(figma.edge.healthy).toBe(false);
    expect(figma.upstream.healthy).toBe(true);
    expect(figma.lastError).toStartWith("edge: unreachable (");
    expect(resultOf(results, "statusy").edge).toMatchObject({ url: stack.edgeUrl, healthy: true });
    expect(resultOf(await check(), "figma").healthy).toBe(true);
  });
});
