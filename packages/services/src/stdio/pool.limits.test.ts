import { expect, test } from "bun:test";
import { createStdioPool } from "./pool.ts";
import {
  alive,
  eventLog,
  fixtureConfig,
  memoryConfig,
  memoryLogger,
  request,
  waitFor,
} from "./test-helpers.ts";

const logger = memoryLogger();

test("per-user cap: the user's least recently used idle process makes room; all busy → USER_LIMIT", async () => {
  const { events, onEvent } = eventLog();
  const pool = createStdioPool({ logger, maxPerUser: 2, maxProcesses: 10, onEvent });
  try {
    const a = request(memoryConfig(), { userId: "erin" });
    const b = request(memoryConfig(), { userId: "erin" });
    const c = request(memoryConfig(), { userId: "erin" });
    const other = request(memoryConfig(), { userId: "frank" });
    expect((await pool.use(a, (x) => x.ping())).ok).toBe(true);
    expect((await pool.use(b, (x) => x.ping())).ok).toBe(true);
    expect((await pool.use(other, (x) => x.ping())).ok).toBe(true);
    const pidA = pool.processes().find((p) => p.credentialId === a.credentialId)?.pid ?? 0;
    // a is the least recently used of erin's: it goes, frank's stays.
    const heldC = await pool.acquire(c);
    expect(heldC.ok).toBe(true);
    expect(events.some((e) => e.type === "stopped" && e.reason === "capacity" && e.pid === pidA)).toBe(true);
    expect(await waitFor(() => !alive(pidA))).toBe(true);
    expect(
      pool
        .processes()
        .map((p) => p.credentialId)
        .sort(),
    ).toEqual([b.credentialId, c.credentialId, other.credentialId].sort());
    // Now both of erin's are busy.
    const heldB = await pool.acquire(b);
    const refused = await pool.acquire(a);
    expect(!refused.ok && refused.error.code).toBe("USER_LIMIT");
    if (heldB.ok) heldB.value.release();
    if (heldC.ok) heldC.value.release();
  } finally {
    await pool.close();
  }
});

test("total cap: the least recently used idle process of anyone makes room; all busy → POOL_FULL", async () => {
  const pool = createStdioPool({ logger, maxPerUser: 5, maxProcesses: 2 });
  try {
    const a = request(memoryConfig());
    const b = request(memoryConfig());
    const c = request(memoryConfig());
    expect((await pool.use(a, (x) => x.ping())).ok).toBe(true);
    const heldB = await pool.acquire(b);
    const heldC = await pool.acquire(c);
    expect(heldB.ok && heldC.ok).toBe(true);
    expect(
      pool
        .processes()
        .map((p) => p.credentialId)
        .sort(),
    ).toEqual([b.credentialId, c.credentialId].sort());
    const refused = await pool.acquire(a);
    expect(!refused.ok && refused.error.code).toBe("POOL_FULL");
    expect(pool.processes()).toHaveLength(2);
  } finally {
    await pool.close();
  }
});

test("a process over its memory limit is killed by the watchdog and restarted", async () => {
  const { events, onEvent } = eventLog();
  const pool = createStdioPool({
    logger,
    onEvent,
    memoryLimitBytes: 160 * 1024 * 1024,
    memoryCheckMs: 100,
    restart: { baseDelayMs: 50 },
  });
  try {
    const req = request(fixtureConfig("serve"));
    const got = await pool.acquire(req);
    if (!got.ok) throw new Error(got.error.message);
    const pid = got.value.pid;
    const call = await got.value.client.callTool({ name: "grow", arguments: {} }).then(
      () => "answered",
      () => "failed",
    );
    got.value.release();
    expect(await waitFor(() => events.some((e) => e.type === "crashed" && e.reason === "memory"))).toBe(true);
    expect(await waitFor(() => !alive(pid))).toBe(true);
    expect(["answered", "failed"]).toContain(call);
    expect(logger.lines.some((l) => l.msg.includes("memory limit"))).toBe(true);
    expect(await waitFor(() => pool.processes().length === 1 && pool.processes()[0]?.pid !== pid)).toBe(true);
  } finally {
    await pool.close();
  }
});
