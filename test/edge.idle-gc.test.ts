// The edge's idle-time collection (apps/edge/src/idle-gc.ts): a full GC once a window passes with no MCP
// request arriving or in flight, after a burst that grew the heap; collections spaced; IDLE_GC_MS read from
// the environment (1 s unless set, 0 = off); wired into createEdge's fetch (MCP requests only) and stopped
// with it.
import { afterAll, describe, expect, test } from "bun:test";
import { parseEnv } from "@mcp/core";
import { edgeOptionsFromEnv } from "@mcp/edge";
import { IdleCollector } from "../apps/edge/src/idle-gc.ts";
import { waitFor } from "../packages/services/src/stdio/test-helpers.ts";
import { type Stack, startStack } from "./harness.ts";

const MB = 1024 * 1024;

describe("IdleCollector", () => {
  /** A collector over a heap the test sets (`heap.bytes`); a collection brings it back to `heap.floor`. */
  function collector(options: { minGapMs?: number; minGrowthBytes?: number } = {}) {
    const heap = { bytes: 50 * MB, floor: 50 * MB };
    let collected = 0;
    const idle = new IdleCollector({
      collect: () => {
        collected++;
        heap.bytes = heap.floor;
      },
      heapBytes: () => heap.bytes,
      minGapMs: 0,
      minGrowthBytes: 8 * MB,
      ...options,
    });
    /** Requests arriving and answered within one window, growing the heap by `grow` bytes. */
    const burst = (n: number, grow = 20 * MB) => {
      for (let i = 0; i < n; i++) {
        idle.request();
        idle.done();
      }
      heap.bytes += grow;
    };
    return { idle, heap, burst, collected: () => collected };
  }

  test("nothing served: nothing collected, however long it stays idle, even with a grown heap", () => {
    const { idle, heap, collected } = collector();
    heap.bytes += 100 * MB;
    for (let i = 0; i < 5; i++) expect(idle.tick(i * 1_000)).toBe(false);
    expect(collected()).toBe(0);
  });

  test("a burst, then a quiet window: one collection, not one per quiet window", () => {
    const { idle, burst, collected } = collector();
    burst(100);
    // The window the requests came in: not quiet.
    expect(idle.tick(1_000)).toBe(false);
    expect(idle.tick(2_000)).toBe(true);
    expect(idle.tick(3_000)).toBe(false);
    expect(idle.tick(4_000)).toBe(false);
    expect(collected()).toBe(1);
    expect(idle.collections).toBe(1);
  });

  test("requests arriving in every window: never collected; the first quiet window after them: collected", () => {
    const { idle, burst, collected } = collector();
    for (let i = 0; i < 10; i++) {
      burst(5);
      expect(idle.tick(i * 1_000)).toBe(false);
    }
    expect(collected()).toBe(0);
    expect(idle.tick(10_000)).toBe(true);
  });

  test("a request still being answered (a slow upstream) keeps it from collecting, arrivals or not", () => {
    const { idle, heap, collected } = collector();
    idle.request();
    heap.bytes += 20 * MB;
    expect(idle.tick(1_000)).toBe(false);
    expect(idle.tick(2_000)).toBe(false);
    expect(idle.tick(3_000)).toBe(false);
    idle.done();
    expect(idle.tick(4_000)).toBe(true);
    expect(collected()).toBe(1);
  });

  test("a few requests that leave the heap grown by less than minGrowthBytes: nothing collected", () => {
    const { idle, burst, collected } = collector();
    burst(3, 1 * MB);
    expect(idle.tick(1_000)).toBe(false);
    expect(idle.tick(2_000)).toBe(false);
    // More of them, until the heap has grown enough: collected then.
    burst(3, 8 * MB);
    expect(idle.tick(3_000)).toBe(false);
    expect(idle.tick(4_000)).toBe(true);
    expect(collected()).toBe(1);
    // Another burst after it is measured from the heap that collection left.
    burst(3, 7 * MB);
    expect(idle.tick(5_000)).toBe(false);
    expect(idle.tick(6_000)).toBe(false);
    expect(collected()).toBe(1);
  });

  test("bursts close together: collections at least minGapMs apart, the later burst collected after the gap", () => {
    const { idle, burst, collected } = collector({ minGapMs: 10_000 });
    burst(10);
    expect(idle.tick(1_000)).toBe(false);
    expect(idle.tick(2_000)).toBe(true);
    burst(10);
    expect(idle.tick(3_000)).toBe(false);
    expect(idle.tick(4_000)).toBe(false);
    expect(idle.tick(11_999)).toBe(false);
    expect(idle.tick(12_000)).toBe(true);
    expect(idle.tick(13_000)).toBe(false);
    expect(collected()).toBe(2);
  });

  test("a window of 0 starts no timer; stop() stops one", () => {
    const { idle } = collector();
    idle.start(0);
    expect(idle.running).toBe(false);
    idle.start(60_000);
    expect(idle.running).toBe(true);
    idle.stop();
    expect(idle.running).toBe(false);
  });
});

describe("IDLE_GC_MS", () => {
  const env = (extra: Record<string, string> = {}) => parseEnv(extra);

  test("an edge started from the environment collects after 1 s quiet unless told otherwise; 0 turns it off", () => {
    expect(edgeOptionsFromEnv(env()).idleGcMs).toBe(1_000);
    expect(edgeOptionsFromEnv(env({ IDLE_GC_MS: "5000" })).idleGcMs).toBe(5_000);
    expect(edgeOptionsFromEnv(env({ IDLE_GC_MS: "0" })).idleGcMs).toBe(0);
  });

  test("anything but a whole number of ms up to a minute is refused, naming the variable", () => {
    for (const bad of ["-1", "1.5", "soon", "60001"]) {
      expect(() => env({ IDLE_GC_MS: bad })).toThrow(/IDLE_GC_MS/);
    }
  });
});

describe("createEdge's idle collection", () => {
  let stack: Stack | undefined;
  let stopped = false;
  afterAll(async () => {
    if (!stopped) await stack?.stop();
  });

  test("MCP requests through the edge's fetch count (health checks do not); a quiet window after them collects; close stops it", async () => {
    // Any growth will do here (the growth rule has its own tests above): the test process's own heap moves
    // with whatever else it runs.
    stack = await startStack({ idleGcMs: 1_000, idleGcThresholds: { minGrowthBytes: 0 } });
    const { edge, edgeUrl, stop } = stack;
    expect(edge.idle.running).toBe(true);
    const before = edge.idle.collections;
    // Health checks alone are not MCP requests: three windows pass with nothing collected.
    for (let i = 0; i < 3; i++) {
      expect((await fetch(`${edgeUrl}/health`)).status).toBe(200);
      await Bun.sleep(1_000);
    }
    expect(edge.idle.collections).toBe(before);
    // One MCP request (an unknown token's 401 is one), then quiet: collected.
    const res = await fetch(`${edgeUrl}/mcp_fig_unknown/mcp`, { method: "POST", body: "{}" });
    expect(res.status).toBe(401);
    expect(await waitFor(() => edge.idle.collections > before, 20_000)).toBe(true);
    stopped = true;
    await stop();
    expect(edge.idle.running).toBe(false);
  });
});
