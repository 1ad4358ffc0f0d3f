import { afterAll, describe, expect, test } from "bun:test";
import { createStdioPool } from "./pool.ts";
import {
  alive,
  childPids,
  EVERYTHING_ENTRY,
  eventLog,
  memoryConfig,
  memoryLogger,
  request,
  schema,
  text,
  waitFor,
} from "./test-helpers.ts";

const logger = memoryLogger();
const pool = createStdioPool({ logger, idleMs: 60_000 });
afterAll(() => pool.close());

describe("the memory server, one process per credential", () => {
  const alice = request(memoryConfig("bun"), { userId: "alice", credentialId: "alice-key" });
  const bob = request(memoryConfig("node"), { userId: "bob", credentialId: "bob-key" });

  test("two credentials never see each other's entities", async () => {
    const created = await pool.use(alice, (c) =>
      c.callTool({
        name: "create_entities",
        arguments: {
          entities: [{ name: "alice-secret-project", entityType: "project", observations: ["x"] }],
        },
      }),
    );
    expect(created.ok).toBe(true);
    const mine = await pool.use(alice, (c) => c.callTool({ name: "read_graph", arguments: {} }));
    const theirs = await pool.use(bob, (c) => c.callTool({ name: "read_graph", arguments: {} }));
    expect(mine.ok && text(mine.value)).toContain("alice-secret-project");
    expect(theirs.ok && text(theirs.value)).not.toContain("alice-secret-project");
    const search = await pool.use(bob, (c) =>
      c.callTool({ name: "search_nodes", arguments: { query: "alice" } }),
    );
    expect(search.ok && text(search.value)).not.toContain("alice-secret-project");
  });

  test("each credential has exactly one process, shared by its concurrent calls", async () => {
    const calls = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        pool.acquire(i % 2 === 0 ? alice : bob).then(async (got) => {
          if (!got.ok) throw new Error(got.error.message);
          await got.value.client.callTool({ name: "read_graph", arguments: {} });
          got.value.release();
          return got.value.pid;
        }),
      ),
    );
    const alicePids = new Set(calls.filter((_, i) => i % 2 === 0));
    const bobPids = new Set(calls.filter((_, i) => i % 2 === 1));
    expect(alicePids.size).toBe(1);
    expect(bobPids.size).toBe(1);
    expect([...alicePids][0]).not.toBe([...bobPids][0]);
    const listed = pool.processes();
    expect(listed.map((p) => p.credentialId).sort()).toEqual(["alice-key", "bob-key"]);
    // What really runs: two children of this process, the same two.
    expect(childPids().sort()).toEqual(listed.map((p) => p.pid).sort());
  });
});

test("concurrent first requests for a new credential share one start", async () => {
  const carol = request(memoryConfig(), { credentialId: "carol-key" });
  const { events, onEvent } = eventLog();
  const own = createStdioPool({ logger, onEvent });
  try {
    const leases = await Promise.all(Array.from({ length: 5 }, () => own.acquire(carol)));
    const pids = new Set(leases.map((l) => (l.ok ? l.value.pid : 0)));
    expect(pids.size).toBe(1);
    expect(events.filter((e) => e.type === "started")).toHaveLength(1);
    expect(own.processes()[0]?.inFlight).toBe(5);
    for (const l of leases) if (l.ok) l.value.release();
    expect(own.processes()[0]?.inFlight).toBe(0);
  } finally {
    await own.close();
  }
});

test("an idle process is reaped, a busy one is not, and the next call starts a fresh one", async () => {
  const { events, onEvent } = eventLog();
  const own = createStdioPool({ logger, idleMs: 200, onEvent });
  try {
    const dave = request(memoryConfig(), { credentialId: "dave-key" });
    const held = await own.acquire(dave);
    if (!held.ok) throw new Error(held.error.message);
    const pid = held.value.pid;
    await Bun.sleep(500);
    // In flight: still there.
    expect(alive(pid)).toBe(true);
    expect(own.processes()).toHaveLength(1);
    held.value.release();
    expect(await waitFor(() => events.some((e) => e.type === "stopped" && e.reason === "idle"))).toBe(true);
    expect(await waitFor(() => !alive(pid))).toBe(true);
    expect(own.processes()).toHaveLength(0);
    const again = await own.use(dave, (c) => c.ping());
    expect(again.ok).toBe(true);
    expect(own.processes()[0]?.pid).not.toBe(pid);
  } finally {
    await own.close();
  }
});

test("the everything server runs under node with its tools", async () => {
  const config = schema.parse({ command: "node", args: [EVERYTHING_ENTRY, "stdio"] });
  const result = await pool.use(request(config), async (c) => {
    const { tools } = await c.listTools();
    const echo = await c.callTool({ name: "echo", arguments: { message: "hello" } });
    return { names: tools.map((t) => t.name), echo: text(echo) };
  });
  if (!result.ok) throw new Error(result.error.message);
  expect(result.value.names).toContain("get-env");
  expect(result.value.echo).toContain("hello");
});
