// One health monitor per deployment: monitors in several processes share one kv (Redis when REDIS_URL is
// set: each monitor on its own connection), and only the holder of the lease checks.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createLogger, HealthMonitor, type HealthMonitorOptions } from "@mcp/core";
import { createKv, type Kv } from "@mcp/kv";
import { loadRegistry, type ServiceRegistry } from "@mcp/services";
import { type FakeUpstream, json, startFakeUpstream } from "./fakes/upstream.ts";

const prefix = `test:health-leader:${crypto.randomUUID()}:`;
const env = { REDIS_URL: process.env.REDIS_URL };
const log = createLogger({ level: "error", write: () => {} });
const options: HealthMonitorOptions = { intervalMs: 100, timeoutMs: 1_000, historyLength: 10, env: {} };

let upstream: FakeUpstream;
let edge: ReturnType<typeof Bun.serve>;
let registry: ServiceRegistry;
const kvs: Kv[] = [];
const monitors: HealthMonitor[] = [];

/** A monitor in "another process": its own kv connection (the in-process kv is one shared store). */
function anotherProcess(): HealthMonitor {
  const kv = env.REDIS_URL || kvs.length === 0 ? createKv(env, { prefix }) : (kvs[0] as Kv);
  if (!kvs.includes(kv)) kvs.push(kv);
  const monitor = new HealthMonitor(
    { kv, registry, log, publicEdgeUrl: `http://127.0.0.1:${edge.port}` },
    options,
  );
  monitors.push(monitor);
  return monitor;
}

/** The upstream checks made so far (each round of a leading monitor makes exactly one). */
const checks = () => upstream.requests.filter((r) => r.path === "/").length;

beforeAll(async () => {
  upstream = await startFakeUpstream(() => json({ ok: true }));
  edge = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => json({ status: "ok" }) });
  registry = loadRegistry(undefined, { ENABLED_SERVICES: "figma", SERVICE_FIGMA_BASE_URL: upstream.url });
});

afterAll(async () => {
  for (const m of monitors) await m.stop();
  for (const kv of kvs) await kv.close();
  upstream?.stop();
  edge?.stop(true);
});

test("two monitors on one kv: only the lease holder checks, round after round; stopping hands over", async () => {
  const a = anotherProcess();
  const b = anotherProcess();
  expect([await a.tick(), await b.tick()]).toEqual([true, false]);
  expect(checks()).toBe(1);
  expect([await b.tick(), await a.tick(), await b.tick()]).toEqual([false, true, false]);
  expect(checks()).toBe(2);
  // Rounds at the same moment still check once.
  expect(await Promise.all([a.tick(), b.tick()])).toEqual([true, false]);
  expect(checks()).toBe(3);

  await a.stop();
  expect(await a.tick()).toBe(false);
  expect(await b.tick()).toBe(true);
  expect(checks()).toBe(4);
});

test("a leader that dies without giving the lease up is replaced once its lease lapses", async () => {
  const c = anotherProcess();
  const d = anotherProcess();
  // b (from the test above) still leads; it dies here without renewing or releasing its lease.
  expect(await c.tick()).toBe(false);
  const mark = checks();
  let took = false;
  for (let i = 0; i < 200 && !took; i++) {
    took = await c.tick();
    if (!took) await Bun.sleep(25);
  }
  expect(took).toBe(true);
  expect(checks()).toBe(mark + 1);
  expect(await d.tick()).toBe(false);
});

test("a kv that fails makes a round a no-op (false), never a throw", async () => {
  const kv = createKv(env, { prefix: `${prefix}broken:` });
  await kv.close();
  const broken = new HealthMonitor(
    { kv, registry, log, publicEdgeUrl: `http://127.0.0.1:${edge.port}` },
    options,
  );
  const mark = checks();
  expect(await broken.tick()).toBe(false);
  expect(checks()).toBe(mark);
  await broken.stop();
});
