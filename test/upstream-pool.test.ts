// Upstream connection pools (packages/services/src/pool.ts) against a real fake upstream on 127.0.0.1 that
// holds requests until the test lets them go: at most `maxConnections` requests in flight per service (50 by
// default), then a bounded FIFO queue with a wait limit, then SERVICE_UNAVAILABLE at once. Per-service pool
// limits and per-tool timeouts come from the definition; the edge's /metrics shows connections in use and
// queued calls; every slot is given back whatever the call's fate.
import { afterAll, beforeAll, describe, expect, setSystemTime, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  executeTool,
  loadRegistry,
  poolFor,
  type ServiceDefinition,
  type ServiceRegistry,
  type ToolOutcome,
  type UpstreamPool,
} from "@mcp/services";
import { metricsText, newUser } from "./client.ts";
import { type Blackhole, startBlackhole } from "./fakes/blackhole.ts";
import { type Stack, startStack } from "./harness.ts";
import { connect, mcpClient } from "./services/kit.ts";
import { waitFor } from "./wait.ts";

const KEY = "pool_test_key_0123456789";

/** A fake upstream whose `/hold` requests wait until released; it counts what arrived and what is open. */
interface GatedUpstream {
  url: string;
  /** `/hold` requests received so far. */
  arrived: number;
  /** `/hold` requests received and not answered yet. */
  open: number;
  /** The Authorization header of each `/hold` request, in the order they arrived. */
  who: string[];
  /** Answers the `n` oldest held requests. */
  release(n?: number): void;
  stop(): void;
}

function startGatedUpstream(): GatedUpstream {
  const waiting: (() => void)[] = [];
  const who: string[] = [];
  const state = {
    arrived: 0,
    open: 0,
  };
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    async fetch(req) {
      const { pathname } = new URL(req.url);
      if (pathname === "/v1/me") return Response.json({ id: "1", name: "Pool tester" });
      if (pathname !== "/hold") return Response.json({ error: "not found" }, { status: 404 });
      state.arrived++;
      state.open++;
      who.push(req.headers.get("authorization") ?? "");
      const aborted = new Promise<void>((resolve) => req.signal.addEventListener("abort", () => resolve()));
      await Promise.race([new Promise<void>((resolve) => waiting.push(resolve)), aborted]);
      state.open--;
      return Response.json({ ok: true, n: state.arrived });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    get arrived() {
      return state.arrived;
    },
    get open() {
      return state.open;
    },
    who,
    release(n = waiting.length) {
      for (const go of waiting.splice(0, n)) go();
    },
    stop: () => server.stop(true),
  };
}

function definition(type: string, prefix: string, port: number, pool?: Record<string, number>) {
  const tool = (name: string, timeoutMs?: number) => ({
    name,
    title: name,
    description: "Waits until the test releases it.",
    inputSchema: { type: "object", properties: {}, additionalProperties: false },
    request: { method: "GET", path: "/hold" },
    ...(timeoutMs !== undefined && { timeoutMs }),
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  });
  return {
    version: 1,
    type,
    name: `Pool ${type}`,
    prefix,
    port,
    description: "A fake upstream for pool tests.",
    docsUrl: "https://example.com/docs",
    keyUrl: "https://example.com/keys",
    baseUrl: "https://pool.example.com",
    auth: { type: "bearer" },
    validation: { method: "GET", path: "/v1/me" },
    ...(pool && { pool }),
    tools: [tool("hold"), tool("hold_short", 300), tool("hold_long", 5000)],
  };
}

let work: string;
let fake: GatedUpstream;
let definitions: string;
const env = (): Record<string, string> => ({
  SERVICE_PLDEFAULT_BASE_URL: fake.url,
  SERVICE_PLSMALL_BASE_URL: fake.url,
  SERVICE_PLWAIT_BASE_URL: fake.url,
  SERVICE_PLEDGE_BASE_URL: fake.url,
  SERVICE_PLFAIR_BASE_URL: fake.url,
});

beforeAll(() => {
  fake = startGatedUpstream();
  work = mkdtempSync(join(tmpdir(), "upstream-pool-"));
  definitions = join(work, "definitions");
  const write = (def: ReturnType<typeof definition>) => {
    mkdirSync(join(definitions, def.type), { recursive: true });
    writeFileSync(join(definitions, def.type, "config.json"), JSON.stringify(def));
  };
  write(definition("pldefault", "pld", 3291));
  write(definition("plsmall", "pls", 3292, { maxConnections: 2, maxQueue: 1, queueTimeoutMs: 60_000 }));
  write(definition("plwait", "plw", 3293, { maxConnections: 1, maxQueue: 5, queueTimeoutMs: 200 }));
  write(definition("pledge", "ple", 3294, { maxConnections: 2, maxQueue: 1, queueTimeoutMs: 60_000 }));
  write(definition("plfair", "plf", 3295, { maxConnections: 2, maxQueue: 4, queueTimeoutMs: 60_000 }));
});

afterAll(() => {
  fake.release();
  fake.stop();
  rmSync(work, { recursive: true, force: true });
});

/** Polls until `check` holds (bounded); returns whether it did. */
/** A fresh registry (fresh pools and breakers) and one of its services. */
function fresh(type: string): { registry: ServiceRegistry; service: ServiceDefinition } {
  const registry = loadRegistry([definitions], env());
  const service = registry.get(type);
  if (!service) throw new Error(`${type} not loaded`);
  return { registry, service };
}

/** A call whose settling the test can observe without awaiting it. */
function track(p: Promise<ToolOutcome>) {
  const t: { settled: boolean; outcome?: ToolOutcome; done: Promise<ToolOutcome> } = {
    settled: false,
    done: p,
  };
  p.then((o) => {
    t.settled = true;
    t.outcome = o;
  });
  return t;
}

/**
 * Releases everything held, including calls that reach the fake from `pool`'s queue meanwhile, until the
 * fake has nothing open and the pool nothing in use or queued.
 */
async function drain(pool?: UpstreamPool): Promise<void> {
  expect(
    await waitFor(() => {
      fake.release();
      const idle = pool === undefined || (pool.stats().inUse === 0 && pool.stats().queued === 0);
      return fake.open === 0 && idle;
    }),
  ).toBe(true);
}

describe("the pool of a service", () => {
  test("50 connections by default: the 51st call waits in the queue until one comes free, then runs", async () => {
    const { service } = fresh("pldefault");
    const pool = poolFor(service);
    const start = fake.arrived;
    const calls = Array.from({ length: 50 }, () => track(executeTool(service, "hold", {}, KEY)));
    expect(await waitFor(() => fake.arrived - start === 50)).toBe(true);
    expect(pool.stats()).toEqual({ inUse: 50, queued: 0, max: 50 });

    const fiftyFirst = track(executeTool(service, "hold", {}, KEY));
    expect(await waitFor(() => pool.stats().queued === 1)).toBe(true);
    // Queued, not sent: the upstream still has exactly 50.
    expect(fake.arrived - start).toBe(50);
    expect(fake.open).toBe(50);
    expect(fiftyFirst.settled).toBe(false);

    fake.release(1);
    expect(await waitFor(() => fake.arrived - start === 51)).toBe(true);
    expect(pool.stats()).toEqual({ inUse: 50, queued: 0, max: 50 });
    expect(fiftyFirst.settled).toBe(false);

    await drain(pool);
    const outcomes = await Promise.all([...calls, fiftyFirst].map((c) => c.done));
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(pool.stats()).toEqual({ inUse: 0, queued: 0, max: 50 });
  });

  test("beyond the queue's bound a call fails at once with SERVICE_UNAVAILABLE and is never sent", async () => {
    const { service } = fresh("plsmall");
    const pool = poolFor(service);
    const start = fake.arrived;
    const inFlight = [
      track(executeTool(service, "hold", {}, KEY)),
      track(executeTool(service, "hold", {}, KEY)),
    ];
    expect(await waitFor(() => fake.arrived - start === 2)).toBe(true);
    const queued = track(executeTool(service, "hold", {}, KEY));
    expect(await waitFor(() => pool.stats().queued === 1)).toBe(true);

    // Answered while every held request is still held: it did not wait for a slot.
    const refused = await executeTool(service, "hold", {}, KEY);
    expect(refused).toEqual({
      ok: false,
      error: "SERVICE_UNAVAILABLE",
      message: "Pool plsmall is busy: connections in use 2/2, calls queued 1/1",
    });
    expect(fake.open).toBe(2);
    expect(fake.arrived - start).toBe(2);
    expect(queued.settled).toBe(false);

    await drain(pool);
    for (const c of [...inFlight, queued]) expect((await c.done).ok).toBe(true);
    expect(fake.arrived - start).toBe(3);
    expect(pool.stats()).toEqual({ inUse: 0, queued: 0, max: 2 });
  });

  test("a refused call does not open the service's circuit: after many, calls still go through", async () => {
    const { service } = fresh("plsmall");
    const pool = poolFor(service);
    const held = [
      track(executeTool(service, "hold", {}, KEY)),
      track(executeTool(service, "hold", {}, KEY)),
      track(executeTool(service, "hold", {}, KEY)),
    ];
    expect(await waitFor(() => pool.stats().inUse === 2 && pool.stats().queued === 1)).toBe(true);
    for (let i = 0; i < 10; i++) {
      expect(await executeTool(service, "hold", {}, KEY)).toMatchObject({ error: "SERVICE_UNAVAILABLE" });
    }
    await drain(pool);
    for (const c of held) expect((await c.done).ok).toBe(true);
    const after = track(executeTool(service, "hold", {}, KEY));
    expect(await waitFor(() => fake.open === 1)).toBe(true);
    fake.release();
    expect((await after.done).ok).toBe(true);
  });

  test("a credential's breaker trial that finds no free connection decides nothing: the next call is the trial", async () => {
    const { service } = fresh("plsmall");
    const pool = poolFor(service);
    const ada = "pool_ada_key_0123456789";
    const bob = "pool_bob_key_0123456789";
    try {
      // Ada's own breaker opens: five calls outlive hold_short's 300 ms deadline.
      for (let i = 0; i < 5; i++) {
        expect(await executeTool(service, "hold_short", {}, ada)).toMatchObject({
          error: "SERVICE_UNAVAILABLE",
        });
      }
      await drain(pool);
      let arrived = fake.arrived;
      expect(await executeTool(service, "hold", {}, ada)).toMatchObject({ error: "SERVICE_UNAVAILABLE" });
      expect(fake.arrived).toBe(arrived);
      // Her breaker would let a trial through now, but Bob holds both connections and the queue's one place.
      setSystemTime(Date.now() + 11_000);
      const held = [0, 1, 2].map(() => track(executeTool(service, "hold", {}, bob)));
      expect(await waitFor(() => pool.stats().inUse === 2 && pool.stats().queued === 1)).toBe(true);
      arrived = fake.arrived;
      const busy = await executeTool(service, "hold", {}, ada);
      expect(busy.ok ? "" : busy.message).toMatch(/is busy/);
      expect(fake.arrived).toBe(arrived);
      await drain(pool);
      for (const c of held) expect((await c.done).ok).toBe(true);
      // Her next call is the trial: it reaches the upstream, and closes her breaker.
      const trial = track(executeTool(service, "hold", {}, ada));
      expect(await waitFor(() => fake.open === 1)).toBe(true);
      fake.release();
      expect((await trial.done).ok).toBe(true);
    } finally {
      setSystemTime();
    }
  });

  test("a queued call gives up after the definition's queueTimeoutMs with SERVICE_UNAVAILABLE", async () => {
    const { service } = fresh("plwait");
    const pool = poolFor(service);
    const start = fake.arrived;
    const first = track(executeTool(service, "hold", {}, KEY));
    expect(await waitFor(() => fake.arrived - start === 1)).toBe(true);
    const waited = await executeTool(service, "hold", {}, KEY);
    expect(waited).toEqual({
      ok: false,
      error: "SERVICE_UNAVAILABLE",
      message: "Pool plwait is busy: no connection came free within 200 ms",
    });
    // The first call is still held; the second never reached the upstream and left the queue.
    expect(first.settled).toBe(false);
    expect(fake.arrived - start).toBe(1);
    expect(pool.stats()).toEqual({ inUse: 1, queued: 0, max: 1 });
    await drain(pool);
    expect((await first.done).ok).toBe(true);
    expect(pool.stats()).toEqual({ inUse: 0, queued: 0, max: 1 });
  });

  test("a caller hanging up while queued leaves the queue; in flight, it gives its connection back", async () => {
    const { service } = fresh("plwait");
    const pool = poolFor(service);
    const first = new AbortController();
    const second = new AbortController();
    const running = track(executeTool(service, "hold", {}, KEY, { signal: first.signal }));
    expect(await waitFor(() => pool.stats().inUse === 1 && fake.open === 1)).toBe(true);
    const queued = track(executeTool(service, "hold", {}, KEY, { signal: second.signal }));
    expect(await waitFor(() => pool.stats().queued === 1)).toBe(true);

    second.abort();
    expect(await queued.done).toEqual({
      ok: false,
      error: "SERVICE_UNAVAILABLE",
      message: "The request was cancelled.",
    });
    expect(pool.stats()).toEqual({ inUse: 1, queued: 0, max: 1 });

    first.abort();
    expect(await running.done).toMatchObject({ ok: false, message: "The request was cancelled." });
    expect(pool.stats()).toEqual({ inUse: 0, queued: 0, max: 1 });
    expect(await waitFor(() => fake.open === 0)).toBe(true);
  });

  test("fair between credentials: one holding every connection fills at most half the queue, and a freed connection goes to another's call first", async () => {
    const { service } = fresh("plfair");
    const pool = poolFor(service);
    const start = fake.arrived;
    const OTHER = "pool_other_key_0123456789";
    const mine = [1, 2].map(() => track(executeTool(service, "hold", {}, KEY)));
    expect(await waitFor(() => fake.arrived - start === 2)).toBe(true);
    const myQueued = [1, 2].map(() => track(executeTool(service, "hold", {}, KEY)));
    expect(await waitFor(() => pool.stats().queued === 2)).toBe(true);
    // Half the queue (2 of 4) is one credential's most: its next call is refused at once, the queue not full.
    expect(await executeTool(service, "hold", {}, KEY)).toEqual({
      ok: false,
      error: "SERVICE_UNAVAILABLE",
      message:
        "Pool plfair is busy: connections in use 2/2, and this key's calls already fill 2 of the 4 queued places (the most one key may take)",
    });
    expect(pool.stats().queued).toBe(2);
    // Another credential's call waits behind them, and is the one sent when a connection comes free.
    const theirs = track(executeTool(service, "hold", {}, OTHER));
    expect(await waitFor(() => pool.stats().queued === 3)).toBe(true);
    // (Everything held is let go, a stale hold of an earlier test's cancelled call too: what counts is the order
    // in which the queued calls then reach the upstream.)
    await drain(pool);
    expect(fake.who.slice(start + 2, start + 5)).toEqual([
      `Bearer ${OTHER}`,
      `Bearer ${KEY}`,
      `Bearer ${KEY}`,
    ]);
    for (const c of [...mine, ...myQueued, theirs]) expect((await c.done).ok).toBe(true);
    expect(fake.arrived - start).toBe(5);
  });

  test("a service's maxConnections from its definition is the number in flight (2, the third waits)", async () => {
    const { service } = fresh("plsmall");
    const pool = poolFor(service);
    const start = fake.arrived;
    const calls = [1, 2, 3].map(() => track(executeTool(service, "hold", {}, KEY)));
    expect(await waitFor(() => pool.stats().queued === 1 && fake.arrived - start === 2)).toBe(true);
    expect(fake.open).toBe(2);
    expect(pool.stats()).toEqual({ inUse: 2, queued: 1, max: 2 });
    await drain(pool);
    for (const c of calls) expect((await c.done).ok).toBe(true);
  });
});

describe("per-tool timeouts", () => {
  test("a tool's timeoutMs replaces a longer caller deadline: the call ends as timed out, its slot freed", async () => {
    const { service } = fresh("pldefault");
    const outcome = await executeTool(service, "hold_short", {}, KEY, { timeoutMs: 60_000 });
    expect(outcome).toEqual({
      ok: false,
      error: "SERVICE_UNAVAILABLE",
      message: "Pool pldefault did not answer in time.",
    });
    expect(poolFor(service).stats()).toEqual({ inUse: 0, queued: 0, max: 50 });
    expect(await waitFor(() => fake.open === 0)).toBe(true);
  });

  test("a tool's longer timeoutMs outlasts a short caller deadline that a tool without one obeys", async () => {
    const { service } = fresh("pldefault");
    const plain = await executeTool(service, "hold", {}, KEY, { timeoutMs: 150 });
    expect(plain).toMatchObject({ ok: false, message: "Pool pldefault did not answer in time." });
    expect(await waitFor(() => fake.open === 0)).toBe(true);

    const long = track(executeTool(service, "hold_long", {}, KEY, { timeoutMs: 150 }));
    expect(await waitFor(() => fake.open === 1)).toBe(true);
    // Well past the caller's 150 ms, still waiting on its own 5 s.
    await Bun.sleep(400);
    expect(long.settled).toBe(false);
    fake.release();
    expect(await long.done).toMatchObject({ ok: true, data: { ok: true } });
  });
});

describe("connect timeout", () => {
  let hole: Blackhole;
  beforeAll(async () => {
    hole = await startBlackhole();
  });
  afterAll(() => hole?.stop());

  test("a host that never accepts the connection fails the call as unreachable after connectTimeoutMs, not the tool's 60 s", async () => {
    const dir = mkdtempSync(join(work, "hole-"));
    mkdirSync(join(dir, "plhole"));
    const def = definition("plhole", "plh", 3296, { connectTimeoutMs: 300 });
    writeFileSync(join(dir, "plhole", "config.json"), JSON.stringify(def));
    const service = loadRegistry([dir], { SERVICE_PLHOLE_BASE_URL: hole.url }).get("plhole");
    if (!service) throw new Error("plhole not loaded");
    const call = track(executeTool(service, "hold", {}, KEY, { timeoutMs: 60_000 }));
    // Both the call and the GET's one retry are bounded by the connect check; the call's deadline is a minute.
    expect(await waitFor(() => call.settled, 15_000)).toBe(true);
    expect(call.outcome).toEqual({
      ok: false,
      error: "SERVICE_UNAVAILABLE",
      message: "Could not reach Pool plhole.",
    });
    expect(poolFor(service).stats()).toEqual({ inUse: 0, queued: 0, max: 50 });
  });

  test("a warm pool (it heard from its upstream) sends without a connect check", async () => {
    const { service } = fresh("pldefault");
    const pool = poolFor(service);
    fake.release();
    const first = track(executeTool(service, "hold", {}, KEY, { timeoutMs: 10_000 }));
    expect(await waitFor(() => fake.open === 1)).toBe(true);
    fake.release();
    expect(await first.done).toMatchObject({ ok: true });
    // Warm: the check would still pass here, so only its absence is observable through reach() itself.
    expect(await pool.reach("http://192.0.2.1:9")).toBe("ok");
  });
});

describe("definition limits", () => {
  const load = (mutate: (def: Record<string, unknown>) => void) => {
    const dir = mkdtempSync(join(work, "bad-"));
    const def = definition("plbad", "plb", 3295) as Record<string, unknown>;
    mutate(def);
    mkdirSync(join(dir, "plbad"));
    writeFileSync(join(dir, "plbad", "config.json"), JSON.stringify(def));
    return () => loadRegistry([dir], {});
  };

  test("a pool of 0 connections, an unknown pool field and a tool timeout under 100 ms are refused", () => {
    expect(load((d) => Object.assign(d, { pool: { maxConnections: 0 } }))).toThrow(/pool\.maxConnections/);
    expect(load((d) => Object.assign(d, { pool: { size: 5 } }))).toThrow(/pool/);
    expect(load((d) => Object.assign(d, { pool: { maxQueue: -1 } }))).toThrow(/pool\.maxQueue/);
    expect(
      load((d) => {
        (d.tools as Record<string, unknown>[])[0] = { ...(d.tools as object[])[0], timeoutMs: 50 };
      }),
    ).toThrow(/tools\.0\.timeoutMs/);
  });

  test("a connect timeout under 100 ms or over a minute is refused", () => {
    expect(load((d) => Object.assign(d, { pool: { connectTimeoutMs: 50 } }))).toThrow(
      /pool\.connectTimeoutMs/,
    );
    expect(load((d) => Object.assign(d, { pool: { connectTimeoutMs: 60_001 } }))).toThrow(
      /pool\.connectTimeoutMs/,
    );
  });

  test("omitted pool fields take the defaults (50 connections, 100 queued, 10 s wait, 5 s connect)", () => {
    expect(poolFor(fresh("pldefault").service).limits).toEqual({
      maxConnections: 50,
      maxQueue: 100,
      queueTimeoutMs: 10_000,
      connectTimeoutMs: 5_000,
    });
  });
});

describe("through the edge", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      definitionDirs: [definitions],
      serviceEnv: { ENABLED_SERVICES: "figma,pledge", ...env() },
    });
  });
  afterAll(async () => {
    await drain();
    await stack?.stop();
  });

  const gauge = (text: string, name: string): number | undefined => {
    const line = text.split("\n").find((l) => l.startsWith(`${name}{service="pledge"} `));
    return line === undefined ? undefined : Number(line.split(" ")[1]);
  };

  test("/metrics shows connections in use and queued calls; the call beyond the queue gets the exact tool error", async () => {
    const user = await newUser(stack);
    const { instanceUrl } = await connect(stack, user, "pledge", KEY);
    const client = await mcpClient(instanceUrl);
    const service = stack.platform.deps.registry.get("pledge");
    if (!service) throw new Error("pledge not loaded");
    const pool = poolFor(service);

    const before = await metricsText(stack);
    expect(gauge(before, "mcp_edge_upstream_pool_in_use")).toBe(0);
    expect(gauge(before, "mcp_edge_upstream_pool_queued")).toBe(0);
    expect(gauge(before, "mcp_edge_upstream_pool_max")).toBe(2);

    const held = [1, 2, 3].map(() => client.callTool({ name: "hold", arguments: {} }));
    expect(await waitFor(() => pool.stats().inUse === 2 && pool.stats().queued === 1)).toBe(true);
    const during = await metricsText(stack);
    expect(gauge(during, "mcp_edge_upstream_pool_in_use")).toBe(2);
    expect(gauge(during, "mcp_edge_upstream_pool_queued")).toBe(1);

    const refused = await client.callTool({ name: "hold", arguments: {} });
    expect(refused.isError).toBe(true);
    expect(refused.content).toEqual([
      {
        type: "text",
        text: "Pool pledge is unavailable right now (Pool pledge is busy: connections in use 2/2, calls queued 1/1). Try again shortly.",
      },
    ]);

    await drain(pool);
    for (const result of await Promise.all(held)) expect(result.isError).toBeFalsy();
    const after = await metricsText(stack);
    expect(gauge(after, "mcp_edge_upstream_pool_in_use")).toBe(0);
    expect(gauge(after, "mcp_edge_upstream_pool_queued")).toBe(0);
    await client.close();
  });
});
