// ioredis traces a command only while someone listens: under Bun that needs our TracingChannel getter.
import { describe, expect, test } from "bun:test";
import { subscribe, tracingChannel, unsubscribe } from "node:diagnostics_channel";
import { createRedisKv } from "./redis.ts";
import { ensureTracingHasSubscribers } from "./tracing.ts";

const redisUrl = process.env.REDIS_URL;

describe("TracingChannel#hasSubscribers", () => {
  test("false with no subscriber, true while one listens to any sub-channel, false again after", () => {
    ensureTracingHasSubscribers();
    const channel = tracingChannel(`mcp:test:${crypto.randomUUID()}`);
    expect(channel.hasSubscribers).toBe(false);
    const handlers = { asyncEnd() {} };
    channel.subscribe(handlers);
    expect(channel.hasSubscribers).toBe(true);
    channel.unsubscribe(handlers);
    expect(channel.hasSubscribers).toBe(false);
  });

  test.skipIf(!redisUrl)("ioredis still traces commands for a subscriber (Redis)", async () => {
    const kv = createRedisKv(redisUrl as string, { prefix: `mcp:test:tracing:${crypto.randomUUID()}:` });
    const seen: string[] = [];
    const onStart = (message: unknown) => void seen.push((message as { command: string }).command);
    subscribe("tracing:ioredis:command:start", onStart);
    try {
      await kv.get("nothing");
      expect(seen).toContain("get");
      seen.length = 0;
      unsubscribe("tracing:ioredis:command:start", onStart);
      await kv.get("nothing");
      expect(seen).toEqual([]);
    } finally {
      unsubscribe("tracing:ioredis:command:start", onStart);
      await kv.close();
    }
  });
});
