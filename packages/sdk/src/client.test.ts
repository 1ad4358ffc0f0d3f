// The client against a fetch of the test's own (no server): timeouts and aborts that hold whatever the fetch
// does, the options it refuses up front, and the fields of its errors. test/sdk.test.ts runs it against the
// real control plane.
import { describe, expect, test } from "bun:test";
import { inspect } from "node:util";
import { createClient } from "./client.ts";
import {
  AbortedError,
  ConflictError,
  type McpPlatformError,
  ServiceUnavailableError,
  TimeoutError,
} from "./errors.ts";
import type { FetchLike } from "./link.ts";

const KEY = `mcpsk_${"s3cr3t".repeat(7)}`;
const FAST = { initialMs: 1, maxMs: 2 };

const answer = (data: unknown) => new Response(JSON.stringify({ result: { data } }), { status: 200 });

/** A fetch that records the URLs and headers it was called with and answers with `respond`. */
function recording(respond: FetchLike = async () => answer([])) {
  const calls: { url: string; headers: Headers }[] = [];
  const fetch: FetchLike = (url, init) => {
    calls.push({ url, headers: new Headers(init.headers) });
    return respond(url, init);
  };
  return { fetch, calls };
}

async function failure(call: Promise<unknown>): Promise<McpPlatformError> {
  try {
    await call;
  } catch (error) {
    return error as McpPlatformError;
  }
  throw new Error("expected the call to fail");
}

/** Milliseconds `work` took. */
async function timed(work: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

describe("timeouts and aborts hold whatever the fetch does", () => {
  const hanging: FetchLike = () => new Promise<Response>(() => {});

  test("a fetch that ignores its signal still times out, each attempt, and is retried", async () => {
    const net = recording(hanging);
    const client = createClient({ baseUrl: "http://cp.test", apiKey: KEY, fetch: net.fetch, backoff: FAST });
    let error: McpPlatformError | undefined;
    const ms = await timed(async () => {
      error = await failure(client.instances.list.query(undefined, { timeout: 30, maxRetries: 1 }));
    });
    expect(error).toBeInstanceOf(TimeoutError);
    expect(net.calls).toHaveLength(2);
    expect(ms).toBeLessThan(2_000);
  });

  test("a body that never ends (and ignores the signal) times out too", async () => {
    const endless: FetchLike = async () => new Response(new ReadableStream({ start() {} }), { status: 200 });
    const client = createClient({ baseUrl: "http://cp.test", apiKey: KEY, fetch: endless, maxRetries: 0 });
    expect(await failure(client.instances.list.query(undefined, { timeout: 30 }))).toBeInstanceOf(
      TimeoutError,
    );
  });

  test("the caller's signal ends a call whose fetch ignores it, at once and without a retry", async () => {
    const net = recording(hanging);
    const client = createClient({ baseUrl: "http://cp.test", apiKey: KEY, fetch: net.fetch, backoff: FAST });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("gave up")), 20);
    const error = await failure(client.instances.list.query(undefined, { signal: controller.signal }));
    expect(error).toBeInstanceOf(AbortedError);
    expect(net.calls).toHaveLength(1);
  });

  test("a call aborted before it starts sends nothing", async () => {
    const net = recording();
    const client = createClient({ baseUrl: "http://cp.test", apiKey: KEY, fetch: net.fetch });
    const error = await failure(client.instances.list.query(undefined, { signal: AbortSignal.abort() }));
    expect(error).toBeInstanceOf(AbortedError);
    expect(net.calls).toHaveLength(0);
  });

  test("a timeout past the timers' 32-bit range means no timeout, not one after 1 ms", async () => {
    // Answers after 50 ms unless its signal aborts first (as the real fetch does).
    const slow: FetchLike = (_url, init) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => resolve(answer([])), 50);
        init.signal?.addEventListener("abort", () => {
          clearTimeout(timer);
          reject(init.signal?.reason);
        });
      });
    for (const timeout of [2 ** 31, Number.MAX_SAFE_INTEGER]) {
      const client = createClient({
        baseUrl: "http://cp.test",
        apiKey: KEY,
        fetch: slow,
        maxRetries: 0,
        timeout,
      });
      expect(await client.instances.list.query()).toEqual([]);
    }
  });
});

describe("backoff options", () => {
  const limited = () =>
    recording(async () => new Response("", { status: 429, headers: { "retry-after": "3600" } }));

  test("a field given as undefined keeps its default: a Retry-After of an hour is still not waited out", async () => {
    const net = limited();
    const client = createClient({
      baseUrl: "http://cp.test",
      apiKey: KEY,
      fetch: net.fetch,
      backoff: { initialMs: undefined, maxMs: undefined, maxRetryAfterMs: undefined },
    });
    const error = await Promise.race([
      failure(client.instances.list.query()),
      Bun.sleep(1_000).then(() => undefined),
    ]);
    expect(error?.code).toBe("RATE_LIMIT_EXCEEDED");
    expect(error?.retryAfterMs).toBe(3_600_000);
    expect(net.calls).toHaveLength(1);
  });

  test("a Retry-After past the timers' 32-bit range (under a cap above it) is waited, not retried at once", async () => {
    const net = recording(
      async () => new Response("", { status: 503, headers: { "retry-after": "2500000" } }),
    );
    const client = createClient({
      baseUrl: "http://cp.test",
      apiKey: KEY,
      fetch: net.fetch,
      backoff: { maxRetryAfterMs: 3e9 },
    });
    const error = await failure(client.instances.list.query(undefined, { signal: AbortSignal.timeout(100) }));
    expect(error).toBeInstanceOf(AbortedError);
    expect(net.calls).toHaveLength(1);
  });

  test("a negative or non-number wait is refused when the client is made", () => {
    for (const backoff of [{ initialMs: Number.NaN }, { maxMs: -1 }, { maxRetryAfterMs: Infinity }]) {
      expect(() => createClient({ baseUrl: "http://cp.test", apiKey: KEY, backoff })).toThrow(RangeError);
    }
  });
});

describe("errors carry what the server said", () => {
  const shaped = (status: number, appCode: string, retryAfterMs?: number) => ({
    error: {
      message: appCode,
      code: -32603,
      data: { code: appCode, httpStatus: status, appCode, retryAfterMs },
    },
  });

  test("retryAfterMs on every error the server gave a wait with (503, 409), from the header or the body", async () => {
    const down = recording(
      async () =>
        new Response(JSON.stringify(shaped(503, "SERVICE_UNAVAILABLE")), {
          status: 503,
          headers: { "retry-after": "120", "x-request-id": "req_down" },
        }),
    );
    const client = createClient({ baseUrl: "http://cp.test", apiKey: KEY, fetch: down.fetch });
    const unavailable = await failure(client.instances.list.query());
    expect(unavailable).toBeInstanceOf(ServiceUnavailableError);
    // Longer than maxRetryAfterMs (60 s): not waited out, so the caller must be told when to come back.
    expect([unavailable.status, unavailable.requestId, unavailable.retryAfterMs]).toEqual([
      503,
      "req_down",
      120_000,
    ]);
    expect(down.calls).toHaveLength(1);

    const busy = recording(
      async () => new Response(JSON.stringify(shaped(409, "CONFLICT", 1000)), { status: 409 }),
    );
    const conflict = await failure(
      createClient({
        baseUrl: "http://cp.test",
        apiKey: KEY,
        fetch: busy.fetch,
        maxRetries: 0,
      }).instances.rotate.mutate({
        serviceType: "figma",
      }),
    );
    expect(conflict).toBeInstanceOf(ConflictError);
    expect(conflict.retryAfterMs).toBe(1000);
  });

  test("the API key is in no error: message, JSON, inspection or cause", async () => {
    const broken: FetchLike[] = [
      async () => new Response("<html>bad gateway</html>", { status: 502 }),
      async () => new Response(JSON.stringify(shaped(401, "UNAUTHORIZED")), { status: 401 }),
      async () => {
        throw new TypeError("socket hang up");
      },
      () => new Promise<Response>(() => {}),
    ];
    for (const fetch of broken) {
      const client = createClient({
        baseUrl: "http://cp.test",
        apiKey: KEY,
        fetch,
        maxRetries: 0,
        timeout: 20,
      });
      const error = await failure(client.instances.list.query());
      const shown = [
        error.message,
        error.stack,
        JSON.stringify(error),
        inspect(error, { showHidden: true, depth: 10 }),
        inspect(error.cause, { showHidden: true, depth: 10 }),
      ].join("\n");
      expect(shown).not.toContain("s3cr3t");
    }
  });
});

describe("options checked when the client is made", () => {
  test("baseUrl with or without a trailing slash or a path prefix", async () => {
    const net = recording();
    const urls = {
      "http://cp.test": "http://cp.test/trpc/instances.list",
      "http://cp.test/": "http://cp.test/trpc/instances.list",
      "http://cp.test:8080//": "http://cp.test:8080/trpc/instances.list",
      "https://cp.test/mcp": "https://cp.test/mcp/trpc/instances.list",
      "https://cp.test/mcp/": "https://cp.test/mcp/trpc/instances.list",
    };
    for (const baseUrl of Object.keys(urls)) {
      await createClient({ baseUrl, apiKey: KEY, fetch: net.fetch }).instances.list.query();
    }
    expect(net.calls.map((c) => c.url)).toEqual(Object.values(urls));
  });

  test("a baseUrl that is no absolute http(s) URL, or holds credentials, a query or a fragment, is refused", () => {
    const net = recording();
    for (const baseUrl of [
      "cp.test",
      "/trpc",
      "ftp://cp.test",
      "https://user:hunter2@cp.test",
      "https://cp.test/?x=1",
      "https://cp.test/#top",
    ]) {
      let error: unknown;
      try {
        createClient({ baseUrl, apiKey: KEY, fetch: net.fetch });
      } catch (thrown) {
        error = thrown;
      }
      expect(error).toBeInstanceOf(TypeError);
      expect(String(error)).not.toContain("hunter2");
    }
    expect(net.calls).toHaveLength(0);
  });

  test("an API key with a line break or a space inside is refused without quoting it; surrounding whitespace is trimmed", async () => {
    for (const apiKey of [
      `${KEY.slice(0, 20)}\n${KEY.slice(20)}`,
      `${KEY.slice(0, 20)} ${KEY.slice(20)}`,
      " ",
      "",
    ]) {
      let error: unknown;
      try {
        createClient({ baseUrl: "http://cp.test", apiKey });
      } catch (thrown) {
        error = thrown;
      }
      expect(error).toBeInstanceOf(TypeError);
      expect(String(error)).not.toContain("s3cr3t");
    }
    const net = recording();
    await createClient({
      baseUrl: "http://cp.test",
      apiKey: `${KEY}\r\n`,
      fetch: net.fetch,
    }).instances.list.query();
    expect(net.calls[0]?.headers.get("authorization")).toBe(`Bearer ${KEY}`);
  });

  test("the client can be serialised (a logger's context may hold it)", () => {
    const client = createClient({ baseUrl: "http://cp.test", apiKey: KEY });
    expect(JSON.stringify({ client, n: 1 })).toBe('{"n":1}');
  });
});
