// With rate limits on, a cached read's cache slot is read in the same kv step as the limit's charge (one Redis
// round trip for both: `kv.rateLimitChain` with a read), and handed to whoever serves the call: the fast path,
// or the SDK handler for a call the fast path leaves to it. A refused call reads nothing; a write still moves
// the user's generation on; with every limit lifted the call reads its slot itself, as before.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createEdge } from "@mcp/edge";
import type { Kv } from "@mcp/kv";
import { cachedRead, readCacheSlot } from "../apps/edge/src/mcp/read-cache.ts";
import { connectFigma, figmaKeyFor, newUser, toolCallRequest } from "./client.ts";
import { FAKE_FILE_KEY } from "./fakes/figma.ts";
import { type Stack, startStack } from "./harness.ts";

/** Each instance may make this many calls a minute; the user's budget is wider. */
const PER_INSTANCE = 3;

let stack: Stack;
let unlimited: Awaited<ReturnType<typeof createEdge>>;
let unlimitedServer: ReturnType<typeof Bun.serve>;
/** The kv steps of the MCP calls, as `kv` saw them (control-plane traffic left out). */
const steps: string[] = [];

/** Records the edge's cache reads: a chained charge with a read (and what it found), or a read on its own. */
function watch(kv: Kv): void {
  const chain = kv.rateLimitChain;
  const through = kv.getThrough;
  kv.rateLimitChain = async (buckets, cost, then) => {
    const result = await chain(buckets, cost, then);
    if (then) {
      const found = result.read ? (result.read.value === null ? "miss" : "hit") : "nothing read";
      steps.push(`charge+read: ${found}`);
    } else if (buckets.some((b) => b.key.startsWith("rl:instance:"))) {
      steps.push("charge");
    }
    return result;
  };
  kv.getThrough = async (...args) => {
    steps.push("read");
    return through(...args);
  };
}

beforeAll(async () => {
  // Figma's own service-wide budget lifted (SERVICE_FIGMA_RATE_LIMIT=0), so the second edge below counts nothing.
  stack = await startStack({
    limits: { perInstancePerMinute: PER_INSTANCE },
    serviceEnv: { SERVICE_FIGMA_RATE_LIMIT: "0" },
  });
  watch(stack.edge.deps.kv);
  // A second edge on the same platform, every limit lifted.
  unlimited = await createEdge(stack.platform.deps, {
    host: "127.0.0.1",
    limits: { perInstancePerMinute: 0, perUserPerMinute: 0 },
  });
  unlimitedServer = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: unlimited.fetch });
});
afterAll(async () => {
  unlimitedServer?.stop(true);
  await unlimited?.close();
  await stack?.stop();
});

/** A tools/call as a 2026-07-28 client sends it (the fast path's shape), or `extraMeta` added (the SDK's). */
async function call(url: string, name: string, args: Record<string, unknown>, extraMeta = {}) {
  const res = await fetch(url, toolCallRequest(name, args, extraMeta, "read-ahead-test"));
  const text = await res.text();
  const json = res.headers.get("content-type")?.startsWith("text/event-stream")
    ? /^data: (.*)$/m.exec(text)?.[1]
    : text;
  return { status: res.status, message: JSON.parse(json ?? "null") };
}

async function newInstance(who: string) {
  const user = await newUser(stack);
  const key = figmaKeyFor(stack, who);
  return { key, url: (await connectFigma(stack, user, key)).instanceUrl };
}

/** The steps recorded while `run` ran, and the upstream requests it caused. */
async function observe<T>(run: () => Promise<T>) {
  const [from, upstreamFrom] = [steps.length, stack.figma.requests.length];
  const result = await run();
  return { result, steps: steps.slice(from), upstream: stack.figma.requests.length - upstreamFrom };
}

describe("a cached read with rate limits on", () => {
  test("one kv step per call: the charge reads the slot; a hit never reaches the upstream", async () => {
    const { url } = await newInstance("ahead");
    const first = await observe(() => call(url, "get_me", {}));
    expect(first.result.message.result.content[0].text).toContain('"handle":"ahead"');
    expect(first.steps).toEqual(["charge+read: miss"]);
    expect(first.upstream).toBe(1);

    const second = await observe(() => call(url, "get_me", {}));
    expect(second.steps).toEqual(["charge+read: hit"]);
    expect(second.upstream).toBe(0);
    // The cached answer is the answer.
    expect(second.result).toEqual(first.result);

    // A call the fast path leaves to the SDK (a progress token): the SDK's handler uses the slot read ahead too.
    const viaSdk = await observe(() => call(url, "get_me", {}, { progressToken: "p-1" }));
    expect(viaSdk.steps).toEqual(["charge+read: hit"]);
    expect(viaSdk.upstream).toBe(0);
    expect(viaSdk.result.message.result.content).toEqual(first.result.message.result.content);

    // Over the instance's limit: 429 with its JSON-RPC error, nothing read and nothing sent upstream.
    const refused = await observe(() => call(url, "get_me", {}));
    expect(refused.result.status).toBe(429);
    expect(refused.result.message.error.data.code).toBe("RATE_LIMIT_EXCEEDED");
    expect(refused.steps).toEqual(["charge+read: nothing read"]);
    expect(refused.upstream).toBe(0);
  });

  test("a write moves the user's generation on: the next read misses and goes upstream", async () => {
    const { url } = await newInstance("writer");
    const read = { file_key: FAKE_FILE_KEY };
    expect((await observe(() => call(url, "get_comments", read))).steps).toEqual(["charge+read: miss"]);
    const write = await observe(() => call(url, "post_comment", { ...read, message: "ahead of time" }));
    // Not a read: charged without one.
    expect(write.steps).toEqual(["charge"]);
    expect(write.upstream).toBe(1);
    const after = await observe(() => call(url, "get_comments", read));
    expect(after.steps).toEqual(["charge+read: miss"]);
    expect(after.upstream).toBe(1);
    expect(after.result.message.result.content[0].text).toContain("ahead of time");
  });

  test("arguments are part of the slot: another call of the same tool is not served from it", async () => {
    const { url } = await newInstance("args");
    const a = await observe(() => call(url, "get_file_nodes", { file_key: FAKE_FILE_KEY, ids: "0:1" }));
    const b = await observe(() => call(url, "get_file_nodes", { file_key: FAKE_FILE_KEY, ids: "0:2" }));
    expect([a.steps, b.steps]).toEqual([["charge+read: miss"], ["charge+read: miss"]]);
    expect([a.upstream, b.upstream]).toEqual([1, 1]);
  });

  test("with every limit lifted nothing is charged: the call reads its slot itself", async () => {
    const { url } = await newInstance("lifted");
    const path = new URL(url).pathname;
    const base = `http://127.0.0.1:${unlimitedServer.port}${path}`;
    // The second edge's kv is the platform's, which `watch` wraps too (the stack shares one kv).
    const first = await observe(() => call(base, "get_me", {}));
    const second = await observe(() => call(base, "get_me", {}));
    expect([first.steps, second.steps]).toEqual([["read"], ["read"]]);
    expect([first.upstream, second.upstream]).toEqual([1, 0]);
    for (let i = 0; i < PER_INSTANCE + 2; i++) expect((await call(base, "get_me", {})).status).toBe(200);
  });

  test("a slot read ahead is used only by the call it belongs to: other arguments read their own", async () => {
    const { url } = await newInstance("own-slot");
    const { deps } = stack.edge;
    const instance = await deps.resolver.resolve(new URL(url).pathname.split("/")[1] ?? "");
    const tool = deps.registry.get("figma")?.getTool("get_file_nodes");
    if (!instance || !tool) throw new Error("no instance or tool");
    const argsA = { file_key: FAKE_FILE_KEY, ids: "0:1" };
    const slot = readCacheSlot(deps, instance, tool, argsA);
    if (!slot) throw new Error("get_file_nodes is a cached read");
    const ahead = { slot, found: { pointer: slot.fallback, value: "read ahead for 0:1" } };
    const upstream = async () => ({ ok: true as const, status: 200, data: undefined, text: "from upstream" });
    const own = await observe(() => cachedRead(deps, instance, tool, { ...argsA }, upstream, ahead));
    expect(own.result).toMatchObject({ ok: true, text: "read ahead for 0:1" });
    expect(own.steps).toEqual([]);
    const other = await observe(() =>
      cachedRead(deps, instance, tool, { ...argsA, ids: "0:2" }, upstream, ahead),
    );
    expect(other.result).toMatchObject({ ok: true, text: "from upstream" });
    expect(other.steps).toEqual(["read"]);
  });
});
