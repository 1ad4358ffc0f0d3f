// A process stopping while its health monitor probes an upstream that hangs. `stop()` used to wait for the round
// in flight, so SIGTERM held the process until the probe's own deadline (HEALTH_CHECK_TIMEOUT_MS, up to 60 s):
// past PM2's 15 s kill_timeout, a SIGKILL instead of a clean exit, and on the way out a "service down" verdict
// recorded for a service whose only fault was the stop. Now the probes in flight are aborted, nothing of the cut
// round is recorded, and the process exits 0 at once.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { resolve } from "node:path";
import { createLogger, HealthMonitor, readServiceHealth } from "@mcp/core";
import { createKv, type Kv } from "@mcp/kv";
import { loadRegistry } from "@mcp/services";
import { type OwnRedis, startOwnRedis } from "./fakes/redis-server.ts";
import { until } from "./wait.ts";

// The edge as its own process needs PostgreSQL (and Redis: a redis-server of this file's own, so that no
// other process's monitor holds the deployment's lease).
const DATABASE_URL = process.env.DATABASE_URL;
/** Far past the test's own timeout: a stop that waited for the probe would fail the test. */
const PROBE_TIMEOUT_MS = 60_000;

/** An upstream that accepts every request and never answers; counts them, and the ones its client gave up. */
let hanging: ReturnType<typeof Bun.serve>;
let received = 0;
let abandoned = 0;
/** An edge whose /health answers 200. */
let edge: ReturnType<typeof Bun.serve>;

beforeAll(() => {
  hanging = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    fetch(req) {
      received++;
      req.signal.addEventListener("abort", () => abandoned++);
      return new Promise<Response>(() => {});
    },
  });
  edge = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => Response.json({ status: "ok" }) });
});
afterAll(() => {
  hanging?.stop(true);
  edge?.stop(true);
});

test("stop() during a round: the hanging probe is aborted, stop returns, nothing of the round is recorded", async () => {
  const lines: string[] = [];
  const kv: Kv = createKv(
    { REDIS_URL: process.env.REDIS_URL },
    { prefix: `test:health-stop:${crypto.randomUUID()}:` },
  );
  const registry = loadRegistry(undefined, {
    ENABLED_SERVICES: "figma",
    SERVICE_FIGMA_BASE_URL: `http://127.0.0.1:${hanging.port}`,
  });
  const monitor = new HealthMonitor(
    {
      kv,
      registry,
      log: createLogger({ level: "debug", write: (line) => lines.push(line) }),
      publicEdgeUrl: `http://127.0.0.1:${edge.port}`,
    },
    { intervalMs: 3_600_000, timeoutMs: PROBE_TIMEOUT_MS, historyLength: 5, env: {} },
  );
  try {
    const before = received;
    const round = monitor.tick();
    await until(() => received > before, "the upstream probe in flight");
    await monitor.stop();
    expect(await round).toBe(true);
    await until(() => abandoned >= received, "the probe's request abandoned");
    expect(await readServiceHealth(kv, "figma")).toBeUndefined();
    expect(lines.filter((l) => l.includes("service down"))).toEqual([]);
  } finally {
    await kv.close();
  }
}, 30_000);

test.skipIf(!DATABASE_URL)(
  "SIGTERM to an edge process whose monitor probes a hanging upstream: exit 0 without waiting for the probe's deadline",
  async () => {
    const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = listener.port;
    listener.stop(true);
    const redis: OwnRedis = await startOwnRedis();
    const before = received;
    const proc = Bun.spawn([process.execPath, resolve(import.meta.dir, "../apps/edge/src/main.ts")], {
      env: {
        PATH: process.env.PATH ?? "",
        MCP_TYPE: "figma",
        PORT: String(port),
        DATABASE_URL: DATABASE_URL ?? "",
        REDIS_URL: redis.url,
        ENCRYPTION_KEYS: "v1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        ENABLED_SERVICES: "figma",
        SERVICE_FIGMA_BASE_URL: `http://127.0.0.1:${hanging.port}`,
        SERVICE_FIGMA_PUBLIC_URL: `http://127.0.0.1:${port}`,
        HEALTH_CHECK_INTERVAL_MS: "1000",
        HEALTH_CHECK_TIMEOUT_MS: String(PROBE_TIMEOUT_MS),
        LOG_LEVEL: "info",
      },
      stdout: "pipe",
      stderr: "pipe",
    });
    let stopped = false;
    try {
      // Some monitor of the deployment (this process, once it leads) probes the hanging upstream.
      await until(() => received > before, "a probe of the hanging upstream", {
        timeoutMs: 20_000,
        everyMs: 50,
      });
      proc.kill("SIGTERM");
      stopped = true;
      expect(await proc.exited).toBe(0);
    } finally {
      if (!stopped) proc.kill("SIGKILL");
      await redis.stop();
    }
    const stderr = await new Response(proc.stderr).text();
    expect(stderr).not.toContain('"level":"error"');
    expect(stderr).not.toContain("service down");
  },
  40_000,
);
