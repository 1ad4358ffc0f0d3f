// The typed SDK (packages/sdk) against a running control plane, and the server's Idempotency-Key that makes
// its retries safe: typed errors, retries with backoff, one key per mutation, `for await` over pages.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { credentials, instances } from "@mcp/db";
import {
  AbortedError,
  AuthenticationError,
  ConflictError,
  ConnectionError,
  createClient,
  errorCode,
  type FetchLike,
  McpPlatformError,
  NotFoundError,
  PermissionError,
  paginate,
  RateLimitError,
  ServiceUnavailableError,
  TimeoutError,
  TRPCClientError,
  ValidationError,
} from "@mcp/sdk";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { data, figmaKeyFor, newUser, type TestUser, trpc } from "./client.ts";
import { type Stack, startStack } from "./harness.ts";

const CONNECTS_PER_MINUTE = 4;
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ controlPlaneLimits: { connectPerUser: CONNECTS_PER_MINUTE } });
});
afterAll(() => stack.stop());

// Retries wait a few milliseconds here, not the default half second; Retry-After is waited out up to 2 s.
const FAST = { initialMs: 1, maxMs: 5, maxRetryAfterMs: 2_000 };

interface Integrator extends TestUser {
  apiKey: string;
}

async function integrator(): Promise<Integrator> {
  const user = await newUser(stack);
  const created = await trpc(stack, "apiKeys.create", { name: "sdk" }, { cookie: user.cookie });
  return { ...user, apiKey: data<{ key: string }>(created).key };
}

/** The client seen from JavaScript: any path can be called. */
type Untyped = { apiKeys: { list: { query(): Promise<unknown> } } };

interface Attempt {
  url: string;
  method: string;
  headers: Headers;
  body?: string;
  replayed?: boolean;
}

/**
 * A fetch in front of the real network that records every attempt and lets `plan` break chosen ones: a
 * connection lost after the server answered, a 429 from a proxy, an answer that never comes.
 */
function faultyFetch(
  plan: (n: number, forward: () => Promise<Response>, init: RequestInit) => Promise<Response> = (_n, f) =>
    f(),
) {
  const attempts: Attempt[] = [];
  const fetcher: FetchLike = async (url, init) => {
    const attempt: Attempt = {
      url,
      method: init.method ?? "GET",
      headers: new Headers(init.headers),
      body: typeof init.body === "string" ? init.body : undefined,
    };
    attempts.push(attempt);
    return plan(
      attempts.length,
      async () => {
        const res = await fetch(url, init);
        attempt.replayed = res.headers.get("idempotency-replayed") === "true";
        return res;
      },
      init,
    );
  };
  return { fetch: fetcher, attempts };
}

function sdk(who: Integrator, opts: Partial<Parameters<typeof createClient>[0]> = {}) {
  return createClient({ baseUrl: stack.controlPlaneUrl, apiKey: who.apiKey, backoff: FAST, ...opts });
}

/** The error a call fails with (the test fails if it succeeds). */
async function failure(call: Promise<unknown>): Promise<McpPlatformError> {
  try {
    await call;
  } catch (error) {
    expect(error).toBeInstanceOf(McpPlatformError);
    expect(error).toBeInstanceOf(TRPCClientError);
    return error as McpPlatformError;
  }
  throw new Error("expected the call to fail");
}

/** What the database holds for a user: their credential rows (sealed) and instance rows. */
async function stored(user: TestUser) {
  const db = stack.platform.deps.db;
  const creds = (await db.select().from(credentials)).filter((r) => r.userId === user.userId);
  const insts = (await db.select().from(instances)).filter((r) => r.userId === user.userId);
  return { creds, insts };
}

const keyChecks = (figmaKey: string) => stack.figma.requests.filter((r) => r.token === figmaKey).length;

async function rawConnect(who: Integrator, body: unknown, idempotencyKey: string) {
  const res = await fetch(`${stack.controlPlaneUrl}/trpc/instances.connect`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${who.apiKey}`,
      "content-type": "application/json",
      "idempotency-key": idempotencyKey,
    },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

async function getMeThrough(instanceUrl: string): Promise<string> {
  const client = new Client({ name: "sdk-test", version: "1.0.0" }, { versionNegotiation: { mode: "auto" } });
  await client.connect(new StreamableHTTPClientTransport(new URL(instanceUrl)));
  try {
    const result = await client.callTool({ name: "get_me", arguments: {} });
    const content = (result as { content?: { text?: string }[] }).content;
    return JSON.parse(content?.[0]?.text ?? "{}").handle;
  } finally {
    await client.close();
  }
}

describe("Idempotency-Key on the server", () => {
  test("a repeated instances.connect with the same key connects once; the first URL keeps working", async () => {
    const who = await integrator();
    const figmaKey = figmaKeyFor(stack, "idem-once");
    const body = { serviceType: "figma", apiKey: figmaKey };
    const key = crypto.randomUUID();

    const first = await rawConnect(who, body, key);
    expect(first.status).toBe(200);
    expect(first.headers.get("idempotency-replayed")).toBeNull();
    const before = await stored(who);
    const auditBefore = await sdk(who).audit.list.query({ limit: 100 });

    const again = await rawConnect(who, body, key);
    expect(again.status).toBe(200);
    expect(again.headers.get("idempotency-replayed")).toBe("true");
    expect(again.body).toEqual(first.body);

    expect(keyChecks(figmaKey)).toBe(1);
    expect(await stored(who)).toEqual(before);
    expect(before.creds).toHaveLength(1);
    expect(await sdk(who).audit.list.query({ limit: 100 })).toEqual(auditBefore);
    const listed = await sdk(who).instances.list.query();
    expect(listed.map((i) => i.instanceId)).toEqual([
      (first.body.result as { data: { instanceId: string } }).data.instanceId,
    ]);

    const { instanceUrl } = (first.body.result as { data: { instanceUrl: string } }).data;
    expect(await getMeThrough(instanceUrl)).toBe("idem-once");
    // The replayed answer is kept sealed: neither the URL's token nor the upstream key is in the kv.
    const token = instanceUrl.split("/").at(-2) ?? "";
    expect(token).toStartWith("mcp_fig_");
    expect(stack.kvWrites.join("\n")).not.toContain(token);
    expect(stack.kvWrites.join("\n")).not.toContain(figmaKey);
  });

  test("the same key with another body → 422 IDEMPOTENCY_CONFLICT (tRPC and REST), nothing changed", async () => {
    const who = await integrator();
    const figmaKey = figmaKeyFor(stack, "idem-first");
    const otherKey = figmaKeyFor(stack, "idem-other");
    const key = crypto.randomUUID();
    expect((await rawConnect(who, { serviceType: "figma", apiKey: figmaKey }, key)).status).toBe(200);
    const before = await stored(who);

    const conflict = await rawConnect(who, { serviceType: "figma", apiKey: otherKey }, key);
    expect(conflict.status).toBe(422);
    expect(conflict.body.error).toMatchObject({
      data: { appCode: "IDEMPOTENCY_CONFLICT", httpStatus: 422, code: "UNPROCESSABLE_CONTENT" },
    });
    expect(await stored(who)).toEqual(before);

    const restKey = crypto.randomUUID();
    const authenticate = (apiKey: string) =>
      fetch(`${stack.controlPlaneUrl}/api/v1/services/figma/authenticate`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${who.apiKey}`,
          "content-type": "application/json",
          "idempotency-key": restKey,
        },
        body: JSON.stringify({ apiKey }),
      });
    expect((await authenticate(figmaKey)).status).toBe(200);
    const afterRest = await stored(who);
    const rest = await authenticate(otherKey);
    expect(rest.status).toBe(422);
    expect(await rest.json()).toEqual({
      error: expect.stringContaining("Idempotency-Key"),
      code: "IDEMPOTENCY_CONFLICT",
      requestId: rest.headers.get("x-request-id") ?? "",
    });

    expect(keyChecks(otherKey)).toBe(0);
    expect(await stored(who)).toEqual(afterRest);
  });

  test("concurrent requests with one key: exactly one runs, the others wait their turn (409) or replay", async () => {
    const who = await integrator();
    const figmaKey = figmaKeyFor(stack, "idem-race");
    const body = { serviceType: "figma", apiKey: figmaKey };
    const key = crypto.randomUUID();
    const answers = await Promise.all(Array.from({ length: 6 }, () => rawConnect(who, body, key)));

    for (const a of answers) expect([200, 409]).toContain(a.status);
    const ran = answers.filter((a) => a.status === 200 && a.headers.get("idempotency-replayed") === null);
    expect(ran).toHaveLength(1);
    for (const a of answers.filter((x) => x.status === 200)) expect(a.body).toEqual(ran[0]?.body ?? {});
    for (const a of answers.filter((x) => x.status === 409)) {
      expect(a.body.error).toMatchObject({ data: { appCode: "CONFLICT" } });
    }
    expect(keyChecks(figmaKey)).toBe(1);
    const { creds, insts } = await stored(who);
    expect([creds.length, insts.length]).toEqual([1, 1]);
  });

  test("a 5xx answer is not kept: once the upstream is back, the same key runs again", async () => {
    const who = await integrator();
    const figmaKey = figmaKeyFor(stack, "idem-5xx");
    const body = { serviceType: "figma", apiKey: figmaKey };
    const key = crypto.randomUUID();
    stack.figma.failNext(503);
    const down = await rawConnect(who, body, key);
    expect(down.status).toBe(503);
    expect((await stored(who)).insts).toEqual([]);

    const retried = await rawConnect(who, body, key);
    expect(retried.status).toBe(200);
    expect(retried.headers.get("idempotency-replayed")).toBeNull();
    expect((await stored(who)).insts).toHaveLength(1);
  });

  test("a malformed Idempotency-Key → 400 BAD_REQUEST on tRPC and REST, nothing connected", async () => {
    const who = await integrator();
    const figmaKey = figmaKeyFor(stack, "idem-bad");
    for (const key of ["", "k".repeat(256), "tab\tinside"]) {
      const viaTrpc = await rawConnect(who, { serviceType: "figma", apiKey: figmaKey }, key);
      expect(viaTrpc.status).toBe(400);
      expect(viaTrpc.body.error).toMatchObject({ data: { appCode: "BAD_REQUEST" } });
      const viaRest = await fetch(`${stack.controlPlaneUrl}/api/v1/services/figma/authenticate`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${who.apiKey}`,
          "content-type": "application/json",
          "idempotency-key": key,
        },
        body: JSON.stringify({ apiKey: figmaKey }),
      });
      expect(viaRest.status).toBe(400);
      expect(await viaRest.json()).toMatchObject({ code: "BAD_REQUEST" });
    }
    expect(keyChecks(figmaKey)).toBe(0);
    expect(await stored(who)).toEqual({ creds: [], insts: [] });
  });

  test("keys belong to their caller: another user's request with the same key never gets the first answer", async () => {
    const [alice, bob] = await Promise.all([integrator(), integrator()]);
    const key = crypto.randomUUID();
    const aliceKey = figmaKeyFor(stack, "idem-alice");
    const a = await rawConnect(alice, { serviceType: "figma", apiKey: aliceKey }, key);
    // The very same body from Bob: his own request, run as his (he connects Alice's Figma key, as he may).
    const b = await rawConnect(bob, { serviceType: "figma", apiKey: aliceKey }, key);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(b.headers.get("idempotency-replayed")).toBeNull();
    const urlOf = (x: typeof a) => (x.body.result as { data: { instanceUrl: string } }).data.instanceUrl;
    expect(urlOf(b)).not.toBe(urlOf(a));
    expect((await stored(bob)).insts).toHaveLength(1);
    expect(keyChecks(aliceKey)).toBe(2);
  });
});

describe("the typed SDK", () => {
  test("iterate walks the lists paged by their last item (orgs.members), page by page, in order", async () => {
    const owner = await newUser(stack);
    const orgId = data<{ orgId: string }>(
      await trpc(stack, "orgs.create", { name: "SDK paging" }, { cookie: owner.cookie }),
    ).orgId;
    const joined: string[] = [owner.userId];
    for (const _ of [1, 2, 3, 4]) {
      const user = await newUser(stack);
      const invitation = data<{ token: string }>(
        await trpc(stack, "orgs.invite", { orgId, role: "member" }, { cookie: owner.cookie }),
      );
      data(
        await trpc(
          stack,
          "orgs.acceptInvitation",
          { orgId, token: invitation.token },
          { cookie: user.cookie },
        ),
      );
      joined.push(user.userId);
    }
    const key = data<{ key: string }>(
      await trpc(
        stack,
        "apiKeys.create",
        { name: "paging", scopes: ["org:admin"] },
        { cookie: owner.cookie, orgId },
      ),
    ).key;
    const net = faultyFetch();
    const client = sdk({ ...owner, apiKey: key }, { fetch: net.fetch });
    const seen: string[] = [];
    for await (const member of client.orgs.members.iterate({ orgId, limit: 2 })) seen.push(member.userId);
    expect(seen).toEqual(joined);
    // Three pages of two: the last one short; each after the last item of the one before.
    const pages = net.attempts.map((a) => JSON.parse(new URL(a.url).searchParams.get("input") ?? "null"));
    expect(pages.map((p) => p.after ?? null)).toEqual([null, joined[1], joined[3]]);
    // Without a limit, one page of the server's 1,000 holds them all.
    const all: string[] = [];
    for await (const member of client.orgs.members.iterate({ orgId })) all.push(member.userId);
    expect(all).toEqual(joined);
  });

  test("its type leaves out what only a session may call (checked by the compiler: each line must not compile)", () => {
    const client = createClient({ baseUrl: stack.controlPlaneUrl, apiKey: `mcpsk_${"x".repeat(43)}` });
    const absent = () => [
      // @ts-expect-error API-key management is session only
      client.apiKeys,
      // @ts-expect-error account.* is session only
      client.account,
      // @ts-expect-error creating an organisation is session only
      client.orgs.create,
      // @ts-expect-error accepting an invitation is session only
      client.orgs.acceptInvitation,
      // @ts-expect-error leaving an organisation is session only
      client.orgs.leave,
    ];
    expect(absent).toBeFunction();
    // What a key may call is there.
    expect(typeof client.orgs.members.query).toBe("function");
    expect(typeof client.instances.connect.mutate).toBe("function");
  });

  test("a lost answer is retried with the same Idempotency-Key and replayed, not connected twice", async () => {
    const who = await integrator();
    const figmaKey = figmaKeyFor(stack, "sdk-lost");
    const net = faultyFetch(async (n, forward) => {
      const res = await forward();
      if (n > 1) return res;
      await res.arrayBuffer();
      throw new TypeError("socket hang up");
    });
    const client = sdk(who, { fetch: net.fetch });

    const issued = await client.instances.connect.mutate({ serviceType: "figma", apiKey: figmaKey });
    expect(issued.instanceUrl).toStartWith(`${stack.edgeUrl}/mcp_fig_`);
    expect(net.attempts).toHaveLength(2);
    const [one, two] = net.attempts;
    expect(one?.headers.get("idempotency-key")).toMatch(/^[0-9a-f-]{36}$/);
    expect(two?.headers.get("idempotency-key")).toBe(one?.headers.get("idempotency-key") ?? "");
    expect(two?.replayed).toBe(true);
    expect(keyChecks(figmaKey)).toBe(1);
    expect((await stored(who)).creds).toHaveLength(1);
    expect(await getMeThrough(issued.instanceUrl)).toBe("sdk-lost");
  });

  test("a real 503 from the server is retried (same key) and succeeds; queries carry no key", async () => {
    const who = await integrator();
    const figmaKey = figmaKeyFor(stack, "sdk-503");
    const net = faultyFetch();
    const client = sdk(who, { fetch: net.fetch });
    stack.figma.failNext(503);
    const issued = await client.instances.connect.mutate({ serviceType: "figma", apiKey: figmaKey });
    expect(issued.serviceType).toBe("figma");
    expect(net.attempts.map((a) => a.replayed)).toEqual([false, false]);
    expect(new Set(net.attempts.map((a) => a.headers.get("idempotency-key"))).size).toBe(1);

    await client.instances.list.query();
    const query = net.attempts.at(-1);
    expect(query?.method).toBe("GET");
    expect(query?.headers.has("idempotency-key")).toBe(false);
  });

  test("each mutation gets its own key; per-call idempotencyKey, headers and client headers are sent", async () => {
    const who = await integrator();
    const net = faultyFetch();
    const client = sdk(who, { fetch: net.fetch, headers: { "x-client": "integrator" } });
    const figmaKey = figmaKeyFor(stack, "sdk-keys");
    await client.instances.connect.mutate({ serviceType: "figma", apiKey: figmaKey });
    await client.instances.rotate.mutate({ serviceType: "figma" });
    const [k1, k2] = net.attempts.map((a) => a.headers.get("idempotency-key"));
    expect(k1).not.toBe(k2);
    expect(net.attempts.every((a) => a.headers.get("x-client") === "integrator")).toBe(true);

    const mine = `order-${crypto.randomUUID()}`;
    const rotated = await client.instances.rotate.mutate(
      { serviceType: "figma" },
      { idempotencyKey: mine, headers: { "x-call": "yes" } },
    );
    expect(net.attempts.at(-1)?.headers.get("idempotency-key")).toBe(mine);
    expect(net.attempts.at(-1)?.headers.get("x-call")).toBe("yes");
    // Retrying with the same key after the fact is a replay: the URL is not rotated again.
    const replay = await client.instances.rotate.mutate({ serviceType: "figma" }, { idempotencyKey: mine });
    expect(replay).toEqual(rotated);
    expect(await getMeThrough(rotated.instanceUrl)).toBe("sdk-keys");

    const reused = await failure(
      client.instances.revoke.mutate({ serviceType: "figma" }, { idempotencyKey: mine }),
    );
    expect(reused).toBeInstanceOf(ConflictError);
    expect([reused.code, reused.status]).toEqual(["IDEMPOTENCY_CONFLICT", 422]);
    expect((await client.instances.get.query({ serviceType: "figma" })).status).toBe("active");
  });

  test("typed errors carry code, status and the request id, and 4xx are never retried", async () => {
    const who = await integrator();
    const net = faultyFetch();
    const client = sdk(who, { fetch: net.fetch });
    const cases: [() => Promise<unknown>, new (...args: never[]) => McpPlatformError, string, number][] = [
      [() => client.instances.get.query({ serviceType: "figma" }), NotFoundError, "NOT_FOUND", 404],
      [
        () => client.instances.connect.mutate({ serviceType: "figma", apiKey: "  " }),
        ValidationError,
        "BAD_REQUEST",
        400,
      ],
      [
        () => client.instances.connect.mutate({ serviceType: "figma", apiKey: "figd_not_a_real_key" }),
        ValidationError,
        "INVALID_API_KEY",
        400,
      ],
      // Left out of the client's type (session only), but a JavaScript caller still gets a typed 403.
      [() => (client as unknown as Untyped).apiKeys.list.query(), PermissionError, "FORBIDDEN", 403],
    ];
    for (const [call, Class, code, status] of cases) {
      const before = net.attempts.length;
      const error = await failure(call());
      expect(error).toBeInstanceOf(Class);
      expect({ code: error.code, status: error.status, appCode: errorCode(error) }).toEqual({
        code,
        status,
        appCode: code,
      });
      expect(error.requestId).toMatch(/^req_/);
      expect(net.attempts.length - before).toBe(1);
    }
    const invalid = await failure(client.instances.connect.mutate({ serviceType: "figma", apiKey: "  " }));
    expect((invalid as ValidationError).issues[0]?.path).toEqual(["apiKey"]);

    const stranger = createClient({ baseUrl: stack.controlPlaneUrl, apiKey: `mcpsk_${"x".repeat(43)}` });
    const denied = await failure(stranger.instances.list.query());
    expect(denied).toBeInstanceOf(AuthenticationError);
    expect([denied.code, denied.status]).toEqual(["UNAUTHORIZED", 401]);
    expect(await stored(who)).toEqual({ creds: [], insts: [] });
  });

  test("429 → RateLimitError with retryAfterMs; a Retry-After beyond the cap is not waited out", async () => {
    const who = await integrator();
    const net = faultyFetch();
    const client = sdk(who, { fetch: net.fetch });
    const input = { serviceType: "figma", apiKey: figmaKeyFor(stack, "sdk-429") };
    // Fixed one-minute windows: a window may roll over mid-way, so go on (bounded) until one refuses.
    let limited: McpPlatformError | undefined;
    let calls = 0;
    while (!limited && calls < 2 * CONNECTS_PER_MINUTE + 1) {
      calls++;
      await client.instances.connect.mutate(input, { maxRetries: 0 }).catch((error) => {
        limited = error;
      });
    }
    expect(calls).toBeGreaterThan(CONNECTS_PER_MINUTE);
    expect(limited).toBeInstanceOf(RateLimitError);
    expect([limited?.code, limited?.status]).toEqual(["RATE_LIMIT_EXCEEDED", 429]);
    expect((limited as RateLimitError).retryAfterMs).toBeGreaterThan(0);
    expect(net.attempts).toHaveLength(calls);

    const proxy = faultyFetch(
      async () => new Response("", { status: 429, headers: { "retry-after": "3600" } }),
    );
    const patient = await failure(sdk(who, { fetch: proxy.fetch }).instances.list.query());
    expect(patient).toBeInstanceOf(RateLimitError);
    expect((patient as RateLimitError).retryAfterMs).toBe(3_600_000);
    expect(proxy.attempts).toHaveLength(1);
  });

  test("429, 408 and 5xx from the network are retried (Retry-After honoured) up to maxRetries", async () => {
    const who = await integrator();
    const answers = [
      new Response("slow down", { status: 429, headers: { "retry-after": "0" } }),
      new Response("<html>gateway timeout</html>", { status: 408 }),
      new Response("<html>bad gateway</html>", { status: 502, headers: { "content-type": "text/html" } }),
    ];
    const net = faultyFetch((n, forward) => Promise.resolve(answers[n - 1] ?? forward()));
    const client = sdk(who, { fetch: net.fetch, maxRetries: 3 });
    expect(await client.instances.list.query()).toEqual([]);
    expect(net.attempts).toHaveLength(4);

    const down = faultyFetch(async () => new Response("<html>down</html>", { status: 503 }));
    const error = await failure(sdk(who, { fetch: down.fetch }).instances.list.query());
    expect(error).toBeInstanceOf(ServiceUnavailableError);
    expect([error.code, error.status]).toEqual(["SERVICE_UNAVAILABLE", 503]);
    expect(down.attempts).toHaveLength(3);

    const once = faultyFetch(async () => new Response("", { status: 500 }));
    await failure(sdk(who, { fetch: once.fetch }).instances.list.query(undefined, { maxRetries: 0 }));
    expect(once.attempts).toHaveLength(1);

    // A mutation's 500 is not asked again (the server keeps no 5xx answer under its Idempotency-Key, so a 500
    // after the change would make it twice); its 503 is, under the same key.
    const broken = faultyFetch(async () => new Response("", { status: 500 }));
    await failure(sdk(who, { fetch: broken.fetch }).instances.revoke.mutate({ serviceType: "figma" }));
    expect(broken.attempts).toHaveLength(1);
    const busy = faultyFetch(async () => new Response("", { status: 503 }));
    await failure(sdk(who, { fetch: busy.fetch }).instances.revoke.mutate({ serviceType: "figma" }));
    expect(busy.attempts).toHaveLength(3);
  });

  test("unreachable → ConnectionError after the retries; no answer in time → TimeoutError", async () => {
    const who = await integrator();
    const closed = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
    const deadUrl = `http://127.0.0.1:${closed.port}`;
    closed.stop(true);
    const net = faultyFetch((_n, _f, init) => fetch(deadUrl, init));
    const unreachable = await failure(sdk(who, { fetch: net.fetch }).instances.list.query());
    expect(unreachable).toBeInstanceOf(ConnectionError);
    expect(unreachable.code).toBe("CONNECTION_ERROR");
    expect(unreachable.status).toBeUndefined();
    expect(net.attempts).toHaveLength(3);

    const silent = faultyFetch(
      (_n, _f, init) =>
        new Promise<Response>((_resolve, reject) => {
          init.signal?.addEventListener("abort", () => reject(init.signal?.reason));
        }),
    );
    const client = sdk(who, { fetch: silent.fetch, timeout: 30_000 });
    const late = await failure(client.instances.list.query(undefined, { timeout: 20, maxRetries: 1 }));
    expect(late).toBeInstanceOf(TimeoutError);
    expect(late.code).toBe("TIMEOUT");
    expect(silent.attempts).toHaveLength(2);
  });

  test("the caller's signal aborts at once and is never retried", async () => {
    const who = await integrator();
    const controller = new AbortController();
    const net = faultyFetch(
      (_n, _f, init) =>
        new Promise<Response>((_resolve, reject) => {
          init.signal?.addEventListener("abort", () => reject(init.signal?.reason));
          controller.abort(new Error("user gave up"));
        }),
    );
    const error = await failure(
      sdk(who, { fetch: net.fetch }).instances.list.query(undefined, { signal: controller.signal }),
    );
    expect(error).toBeInstanceOf(AbortedError);
    expect(error.code).toBe("ABORTED");
    expect(net.attempts).toHaveLength(1);
  });

  test("for await over audit.list follows nextCursor page by page", async () => {
    const who = await integrator();
    const client = sdk(who);
    await client.instances.connect.mutate({ serviceType: "figma", apiKey: figmaKeyFor(stack, "sdk-pages") });
    for (let i = 0; i < 4; i++) await client.instances.rotate.mutate({ serviceType: "figma" });
    const all = await client.audit.list.query({ limit: 100 });
    expect(all.nextCursor).toBeNull();
    expect(all.items.length).toBeGreaterThanOrEqual(5);

    const net = faultyFetch();
    const paged = sdk(who, { fetch: net.fetch });
    const ids: string[] = [];
    for await (const event of paged.audit.list.iterate({ limit: 2 })) ids.push(event.id);
    expect(ids).toEqual(all.items.map((e) => e.id));
    expect(net.attempts).toHaveLength(Math.ceil(all.items.length / 2));

    const viaHelper: string[] = [];
    for await (const event of paginate(paged.audit.list, { limit: 3 })) viaHelper.push(event.id);
    expect(viaHelper).toEqual(ids);

    // Another user's pages never hold this user's events.
    const other = sdk(await integrator());
    for await (const event of other.audit.list.iterate({ limit: 2 })) expect(ids).not.toContain(event.id);
  });
});
