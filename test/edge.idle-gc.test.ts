// The edge's idle-time collection (apps/edge/src/idle-gc.ts): a full GC once a window passes without a
// request after some were served, once per burst, never while requests keep coming; IDLE_GC_MS read from the
// environment (1 s unless set, 0 = off); wired into createEdge's fetch and stopped with it.
import { afterAll, describe, expect, test } from "bun:test";
import { parseEnv } from "@mcp/core";
import { edgeOptionsFromEnv } from "@mcp/edge";
import { IdleCollector } from "../apps/edge/src/idle-gc.ts";
import { waitFor } from "../packages/services/src/stdio/test-helpers.ts";
import { type Stack, startStack } from "./harness.ts";

describe("IdleCollector", () => {
  function collector(minGapMs = 0) {
    let collected = 0;
    const idle = new IdleCollector(() => collected++, minGapMs);
    return { idle, collected: () => collected };
  }

  test("nothing served: nothing collected, however long it stays idle", () => {
    const { idle, collected } = collector();
    for (let i = 0; i < 5; i++) expect(idle.tick()).toBe(false);
    expect(collected()).toBe(0);
  });

  test("a burst, then a quiet window: one collection, not one per quiet window", () => {
    const { idle, collected } = collector();
    idle.request();
    idle.request();
    // The window the requests came in: still busy.
    expect(idle.tick()).toBe(false);
    expect(idle.tick()).toBe(true);
    expect(idle.tick()).toBe(false);
    expect(idle.tick()).toBe(false);
    expect(collected()).toBe(1);
    expect(idle.collections).toBe(1);
  });

  test("requests in every window: never collected; the next quiet window after them: collected", () => {
    const { idle, collected } = collector();
    for (let i = 0; i < 10; i++) {
      idle.request();
      expect(idle.tick()).toBe(false);
    }
    expect(collected()).toBe(0);
    expect(idle.tick()).toBe(true);
    // A new burst is collected after it, once.
    idle.request();
    expect(idle.tick()).toBe(false);
    expect(idle.tick()).toBe(true);
    expect(idle.tick()).toBe(false);
    expect(collected()).toBe(2);
  });

  test("a trickle of requests: collections at least minGapMs apart, the burst in between collected later", () => {
    const { idle, collected } = collector(10_000);
    idle.request();
    expect(idle.tick(1_000)).toBe(false);
    expect(idle.tick(2_000)).toBe(true);
    // The next request comes 2 s after that collection, then a quiet window: too soon.
    idle.request();
    expect(idle.tick(3_000)).toBe(false);
    expect(idle.tick(4_000)).toBe(false);
    expect(idle.tick(11_999)).toBe(false);
    // Still quiet once the gap has passed: collected then, once.
    expect(idle.tick(12_000)).toBe(true);
    expect(idle.tick(13_000)).toBe(false);
    expect(collected()).toBe(2);
  });

  test("a window of 0 starts no timer", async () => {
    const { idle } = collector();
    idle.start(0);
    idle.request();
    await Bun.sleep(50);
    expect(idle.collections).toBe(0);
    idle.stop();
  });
});

describe("IDLE_GC_MS", () => {
  const env = (extra: Record<string, string> = {}) =>
    parseEnv({ ENCRYPTION_KEYS: "v1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", ...extra });

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

  test("requests through the edge's fetch are counted, and a quiet window after them collects", async () => {
    const IDLE_GC_MS = 1_000;
    const { edge, edgeUrl, stop } = (stack = await startStack({ idleGcMs: IDLE_GC_MS }));
    const before = edge.idle.collections;
    const res = await fetch(`${edgeUrl}/health`);
    expect(res.status).toBe(200);
    expect(await waitFor(() => edge.idle.collections > before, 20_000)).toBe(true);
    // Stopped with the edge: no more ticks after close, whatever comes.
    stopped = true;
    await stop();
    const after = edge.idle.collections;
    edge.idle.request();
    await Bun.sleep(2.5 * IDLE_GC_MS);
    expect(edge.idle.collections).toBe(after);
  });
});
