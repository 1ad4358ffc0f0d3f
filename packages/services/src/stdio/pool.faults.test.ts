import { expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { createStdioPool } from "./pool.ts";
import {
  alive,
  childPids,
  eventLog,
  fixtureConfig,
  memoryConfig,
  memoryLogger,
  request,
  waitFor,
} from "./test-helpers.ts";
import type { StdioPoolOptions } from "./types.ts";

const logger = memoryLogger();
const fast = { baseDelayMs: 50, maxDelayMs: 200, coolDownMs: 60_000, maxAttempts: 3 };

async function withPool(
  opts: Partial<StdioPoolOptions>,
  fn: (pool: ReturnType<typeof createStdioPool>) => Promise<void>,
) {
  const pool = createStdioPool({ logger, startTimeoutMs: 3000, restart: fast, ...opts });
  try {
    await fn(pool);
  } finally {
    await pool.close();
  }
  // Nothing of this pool is left running.
  expect(await waitFor(() => childPids().length === 0, 5000)).toBe(true);
}

test("a crashed server (SIGKILL) is restarted after a backoff and serves again", async () => {
  const { events, onEvent } = eventLog();
  await withPool({ onEvent }, async (pool) => {
    const req = request(memoryConfig());
    const first = await pool.use(req, (c) => c.ping());
    expect(first.ok).toBe(true);
    const pid = pool.processes()[0]?.pid ?? 0;
    process.kill(pid, "SIGKILL");
    expect(await waitFor(() => events.some((e) => e.type === "crashed" && e.pid === pid))).toBe(true);
    const restarting = events.find((e) => e.type === "restarting");
    expect(restarting?.type === "restarting" && restarting.delayMs > 0).toBe(true);
    expect(await waitFor(() => (pool.processes()[0]?.pid ?? pid) !== pid)).toBe(true);
    const again = await pool.use(req, (c) => c.ping());
    expect(again.ok).toBe(true);
    expect(alive(pid)).toBe(false);
  });
});

test("a server that keeps crashing cools down with a typed error", async () => {
  const { events, onEvent } = eventLog();
  await withPool({ onEvent }, async (pool) => {
    const req = request(memoryConfig());
    for (let crash = 0; crash < fast.maxAttempts; crash++) {
      const got = await pool.acquire(req);
      if (!got.ok) throw new Error(got.error.message);
      got.value.release();
      process.kill(got.value.pid, "SIGKILL");
      expect(await waitFor(() => events.filter((e) => e.type === "crashed").length === crash + 1)).toBe(true);
    }
    expect(events.some((e) => e.type === "cooling")).toBe(true);
    const refused = await pool.acquire(req);
    expect(refused.ok).toBe(false);
    if (!refused.ok) {
      expect(refused.error.code).toBe("COOLING_DOWN");
      expect(refused.error.retryAfterMs).toBeGreaterThan(0);
    }
  });
});

test("after the cool-down the server may be started again", async () => {
  await withPool({ restart: { ...fast, coolDownMs: 300, maxAttempts: 1 } }, async (pool) => {
    const req = request(fixtureConfig("exit"));
    const first = await pool.acquire(req);
    expect(!first.ok && first.error.code).toBe("EXITED");
    const cooling = await pool.acquire(req);
    expect(!cooling.ok && cooling.error.code).toBe("COOLING_DOWN");
    await Bun.sleep(400);
    const tried = await pool.acquire(req);
    expect(!tried.ok && tried.error.code).toBe("EXITED");
  });
});

test("a command that exits at once: EXITED, with its exit code, nothing left", async () => {
  await withPool({}, async (pool) => {
    const got = await pool.acquire(request(fixtureConfig("exit")));
    expect(got.ok).toBe(false);
    if (!got.ok) {
      expect(got.error.code).toBe("EXITED");
      expect(got.error.message).toContain("code 3");
    }
    expect(pool.processes()).toHaveLength(0);
  });
});

test("a server printing garbage on stdout: BAD_OUTPUT, killed", async () => {
  await withPool({}, async (pool) => {
    const got = await pool.acquire(request(fixtureConfig("garbage")));
    expect(!got.ok && got.error.code).toBe("BAD_OUTPUT");
    expect(!got.ok && got.error.message).toContain("not JSON-RPC");
  });
});

test("a server that never answers initialize: START_TIMEOUT within the bound, killed", async () => {
  await withPool({ startTimeoutMs: 500 }, async (pool) => {
    const started = Date.now();
    const got = await pool.acquire(request(fixtureConfig("silent")));
    expect(!got.ok && got.error.code).toBe("START_TIMEOUT");
    // Generous: the bound is the start timeout plus a kill, far below the test timeout.
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

test("a missing additional field fails as BAD_CONFIG before anything is spawned", async () => {
  await withPool({}, async (pool) => {
    const got = await pool.acquire(request(fixtureConfig("serve", { TEAM: "{additional.team}" })));
    expect(!got.ok && got.error.code).toBe("BAD_CONFIG");
    expect(!got.ok && got.error.message).toContain('"team"');
  });
});

test("close() kills every child, busy or idle or starting, and removes their homes", async () => {
  const tmpDir = `${process.env.TMPDIR ?? "/tmp"}/stdio-close-${crypto.randomUUID()}`;
  await Bun.write(`${tmpDir}/.keep`, "");
  const pool = createStdioPool({ logger, tmpDir, killGraceMs: 300 });
  const busy = await pool.acquire(request(memoryConfig()));
  const idle = await pool.use(request(memoryConfig()), (c) => c.ping());
  expect(busy.ok && idle.ok).toBe(true);
  const starting = pool.acquire(request(fixtureConfig("silent")));
  await Bun.sleep(100);
  const pids = childPids();
  expect(pids.length).toBeGreaterThanOrEqual(2);
  await pool.close();
  for (const pid of pids) expect(alive(pid)).toBe(false);
  expect(childPids()).toHaveLength(0);
  const late = await starting;
  expect(late.ok).toBe(false);
  expect(
    await waitFor(() => readdirSync(tmpDir).filter((f) => f.startsWith("mcp-stdio-")).length === 0),
  ).toBe(true);
  const after = await pool.acquire(request(memoryConfig()));
  expect(!after.ok && after.error.code).toBe("CLOSED");
});

test("a message over the size bound kills the server; the call fails, nothing hangs", async () => {
  const { events, onEvent } = eventLog();
  await withPool({ onEvent, maxMessageBytes: 4096 }, async (pool) => {
    const req = request(fixtureConfig("serve"));
    const got = await pool.acquire(req);
    if (!got.ok) throw new Error(got.error.message);
    const outcome = await got.value.client
      .callTool({ name: "echo", arguments: { blob: "x".repeat(10_000) } }, { timeout: 10_000 })
      .then(
        () => "answered",
        (error: Error) => error.message,
      );
    got.value.release();
    expect(outcome).not.toBe("answered");
    expect(await waitFor(() => events.some((e) => e.type === "crashed" && e.pid === got.value.pid))).toBe(
      true,
    );
  });
});

test("a helper process the server forked dies with it", async () => {
  const pool = createStdioPool({ logger, startTimeoutMs: 3000 });
  const req = request(fixtureConfig("fork"));
  expect((await pool.use(req, (c) => c.ping())).ok).toBe(true);
  const line = () =>
    logger.lines.find(
      (l) => l.fields?.slot === `test/${req.credentialId}` && /helper pid/.test(String(l.fields?.line)),
    );
  expect(await waitFor(() => line() !== undefined)).toBe(true);
  const helper = Number(/helper pid (\d+)/.exec(String(line()?.fields?.line))?.[1]);
  expect(alive(helper)).toBe(true);
  await pool.close();
  expect(await waitFor(() => !alive(helper), 5000)).toBe(true);
});
