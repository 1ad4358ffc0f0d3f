import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { gzipSync } from "node:zlib";
import { callUpstream, retryAfterMs } from "./upstream.ts";

// The upstream layer's results for what a REST upstream answers: the status, the body and the headers the
// executor reads, a compressed body, a body over the limit, a deadline, a host that refuses connections.
/** What `/gzip` answers, compressed. */
const ZIPPED = JSON.stringify({ zipped: "z".repeat(300) });

describe("callUpstream", () => {
  let api: ReturnType<typeof Bun.serve>;
  beforeAll(() => {
    api = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: async (req) => {
        const path = new URL(req.url).pathname;
        if (path === "/ok")
          return Response.json({ method: req.method, key: req.headers.get("x-key"), body: await req.text() });
        if (path === "/limited")
          return new Response("slow down", { status: 429, headers: { "retry-after": "7" } });
        if (path === "/big")
          return new Response("y".repeat(10_000), { headers: { "content-type": "text/plain" } });
        if (path === "/gzip") {
          return new Response(gzipSync(ZIPPED), {
            headers: { "content-encoding": "gzip", "content-type": "application/json" },
          });
        }
        if (path === "/slow") return Bun.sleep(2_000).then(() => new Response("late"));
        return new Response("no", { status: 404 });
      },
    });
  });
  afterAll(() => {
    api.stop(true);
  });
  // A service of its own per call: fresh breakers and pool, nothing shared with another test.
  const service = () => ({ type: `upstream-test-${crypto.randomUUID()}` });
  const call = (
    path: string,
    opts: { method?: string; body?: string; timeoutMs?: number; maxBytes?: number } = {},
  ) =>
    callUpstream(
      service(),
      "key",
      {
        method: opts.method ?? "GET",
        url: new URL(`http://127.0.0.1:${api.port}${path}`),
        headers: new Headers({ "x-key": "k-1", "content-type": "application/json" }),
        ...(opts.body !== undefined && { body: opts.body }),
      },
      { timeoutMs: opts.timeoutMs ?? 5_000, maxBytes: opts.maxBytes ?? 1_000, backoff: false },
    );

  test("status, body and the headers read", async () => {
    expect(await call("/ok", { method: "POST", body: '{"a":1}' })).toMatchObject({
      kind: "status",
      status: 200,
      body: '{"method":"POST","key":"k-1","body":"{\\"a\\":1}"}',
      contentType: "application/json;charset=utf-8",
    });
    expect(await call("/limited")).toMatchObject({ kind: "status", status: 429, retryAfterMs: 7_000 });
    expect(await call("/gzip", { maxBytes: 10_000 })).toMatchObject({
      kind: "status",
      body: ZIPPED,
    });
  });

  test("a compressed body is held to the limit as it inflates, whatever its declared (compressed) length", async () => {
    expect(await call("/gzip", { maxBytes: 50 })).toMatchObject({
      kind: "too_large",
      prefix: ZIPPED.slice(0, 50),
    });
  });

  test("too large: the first maxBytes and the declared size", async () => {
    expect(await call("/big", { maxBytes: 100 })).toMatchObject({
      kind: "too_large",
      prefix: "y".repeat(100),
      declaredBytes: 10_000,
    });
  });

  test("timeout and network failures", async () => {
    expect(await call("/slow", { timeoutMs: 200 })).toEqual({ kind: "timeout" });
    const gone = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = gone.port;
    gone.stop(true);
    const refused = await callUpstream(
      service(),
      "key",
      { method: "POST", url: new URL(`http://127.0.0.1:${port}/`), headers: new Headers() },
      { timeoutMs: 2_000, maxBytes: 100, backoff: false },
    );
    expect(refused).toEqual({ kind: "network" });
  });
});

describe("retryAfterMs", () => {
  const now = 1_800_000_000_000;
  const wait = (headers: Record<string, string>) => retryAfterMs(new Headers(headers), now);
  test("Retry-After in seconds or as a date; a spent budget's reset in epoch seconds, epoch ms or seconds from now", () => {
    expect(wait({ "retry-after": "7" })).toBe(7_000);
    expect(wait({ "retry-after": new Date(now + 9_000).toUTCString() })).toBe(9_000);
    // GitHub: epoch seconds.
    expect(wait({ "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(now / 1000 + 30) })).toBe(30_000);
    // Linear: its request or complexity bucket, reset in epoch milliseconds.
    expect(
      wait({ "x-ratelimit-requests-remaining": "0", "x-ratelimit-requests-reset": String(now + 45_000) }),
    ).toBe(45_000);
    expect(
      wait({ "x-ratelimit-complexity-remaining": "0", "x-ratelimit-complexity-reset": String(now + 12_000) }),
    ).toBe(12_000);
    expect(wait({ "x-ratelimit-remaining": "0", "x-ratelimit-reset": "20" })).toBe(20_000);
    // A budget not spent says nothing.
    expect(
      wait({ "x-ratelimit-requests-remaining": "3", "x-ratelimit-requests-reset": String(now + 1) }),
    ).toBeNull();
  });
});
