// Edge findings of the outside security review, as a black box over real HTTP: transport rules per
// protocol revision (batches, Accept), token guessing throttled per address, and properties that held
// without a test (parse errors, no token in a query string, no client credential forwarded upstream, a
// credential sealed for another row never opens).
import { afterAll, beforeAll, describe, expect, spyOn, test } from "bun:test";
import { credentials, instances } from "@mcp/db";
import { createEdge } from "@mcp/edge";
import { loopbackAllowlist } from "@mcp/http";
import { eq } from "drizzle-orm";
import { connectFigma, data, figmaKeyFor, metricsText, newUser, type TestUser, trpc } from "./client.ts";
import { FAKE_FILE_KEY } from "./fakes/figma.ts";
import { type RemoteMcp, startRemoteMcp } from "./fakes/remote-mcp.ts";
import { type Stack, startStack, TEST_METRICS_TOKEN } from "./harness.ts";

let stack: Stack;
let guarded: Stack;
let remote: RemoteMcp;

const GUESS_LIMIT = 5;

beforeAll(async () => {
  [stack, guarded, remote] = await Promise.all([
    startStack({ allowPrivateUpstreams: true }),
    startStack({ trustProxy: true, limits: { invalidTokensPerMinutePerIp: GUESS_LIMIT } }),
    startRemoteMcp(),
  ]);
});
afterAll(async () => {
  await Promise.all([stack?.stop(), guarded?.stop(), remote?.stop()]);
});

const ACCEPT_BOTH = "application/json, text/event-stream";
const META = {
  "io.modelcontextprotocol/protocolVersion": "2026-07-28",
  "io.modelcontextprotocol/clientCapabilities": {},
};

async function connected(on: Stack = stack): Promise<{ user: TestUser; key: string; url: string }> {
  const user = await newUser(on);
  const key = figmaKeyFor(on, user.userId);
  const { instanceUrl } = await connectFigma(on, user, key);
  return { user, key, url: instanceUrl };
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: ACCEPT_BOTH, ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text);
  } catch {
    // An SSE answer (2025 era): the tests below only read its status.
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** A 2026-07-28 `tools/call` POST, with any extra headers (the client's own credentials, say). */
const callTool = (
  url: string,
  name: string,
  args: Record<string, unknown>,
  headers: Record<string, string> = {},
) =>
  post(
    url,
    { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name, arguments: args, _meta: META } },
    { ...headers, "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": name },
  );

const legacyCall = (id: number, method = "tools/list", params: Record<string, unknown> = {}) => ({
  jsonrpc: "2.0",
  id,
  method,
  params,
});
const modernList = { jsonrpc: "2.0", id: 1, method: "tools/list", params: { _meta: META } };
const MODERN_HEADERS = { "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/list" };

describe("JSON-RPC batches, per revision", () => {
  test.each(["2025-06-18", "2025-11-25", "2026-07-28"])(
    "a batch declaring %s → 400 -32600 (batching was removed in 2025-06-18), no upstream call",
    async (version) => {
      const { url } = await connected();
      const mark = stack.figma.requests.length;
      const batch = [1, 2].map((id) => legacyCall(id, "tools/call", { name: "get_me", arguments: {} }));
      const res = await post(url, batch, { "mcp-protocol-version": version });
      expect(res.status).toBe(400);
      expect(res.json).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32600 } });
      expect(String((res.json.error as { message: string }).message)).toContain(version);
      expect(stack.figma.requests.length).toBe(mark);
    },
  );

  test("2025-03-26 (declared, or no MCP-Protocol-Version at all) keeps its batches", async () => {
    const { url } = await connected();
    for (const headers of [{ "mcp-protocol-version": "2025-03-26" }, {}] as Record<string, string>[]) {
      const res = await post(url, [legacyCall(1), legacyCall(2)], headers);
      expect(res.status).toBe(200);
      expect(res.text).toContain('"id":1');
      expect(res.text).toContain('"id":2');
    }
  });

  test("initialize inside a batch → 400 -32600 (never allowed)", async () => {
    const { url } = await connected();
    const init = legacyCall(1, "initialize", {
      protocolVersion: "2025-03-26",
      capabilities: {},
      clientInfo: { name: "x", version: "1" },
    });
    const res = await post(url, [init, legacyCall(2)]);
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: { code: -32600 } });
  });
});

describe("Accept header", () => {
  test("a 2026-07-28 POST without Accept listing both types → 406 (spec: the client MUST; the SDK alone serves it)", async () => {
    const { url } = await connected();
    const mark = stack.figma.requests.length;
    // Straight into the app: Bun's fetch would add `Accept: */*` to a request that has none.
    const host = new URL(url).host;
    for (const accept of [undefined, "application/json", "text/event-stream", "*/*"]) {
      const res = await stack.edge.app.request(url, {
        method: "POST",
        headers: { host, "content-type": "application/json", ...MODERN_HEADERS, ...(accept && { accept }) },
        body: JSON.stringify(modernList),
      });
      expect([accept ?? "none", res.status]).toEqual([accept ?? "none", 406]);
      expect(await res.json()).toMatchObject({ jsonrpc: "2.0", error: { code: -32000 } });
    }
    expect((await post(url, modernList, MODERN_HEADERS)).status).toBe(200);
    expect(stack.figma.requests.length).toBe(mark);
  });

  test("a 2025-era POST without it → 406 as well (the SDK's own rule)", async () => {
    const { url } = await connected();
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", "mcp-protocol-version": "2025-06-18" },
      body: JSON.stringify(legacyCall(1)),
    });
    expect(res.status).toBe(406);
  });
});

describe("properties that held without a test", () => {
  test("malformed JSON → 400 -32700 with id null, in both eras", async () => {
    const { url } = await connected();
    for (const headers of [MODERN_HEADERS, { "mcp-protocol-version": "2025-11-25" }, {}] as Record<
      string,
      string
    >[]) {
      const res = await post(url, '{"jsonrpc":"2.0","id":1,"method":', headers);
      expect(res.status).toBe(400);
      expect(res.json).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32700 } });
    }
  });

  test("a token in the query string (or an Authorization header) is refused: 401 before any lookup", async () => {
    const { url } = await connected();
    const token = new URL(url).pathname.split("/")[1] ?? "";
    const mark = stack.figma.requests.length;
    const load = spyOn(
      stack.edge.deps.resolver as unknown as { load: (h: string) => Promise<unknown> },
      "load",
    );
    for (const target of [`${stack.edgeUrl}/mcp?token=${token}`, `${stack.edgeUrl}/mcp?instance=${token}`]) {
      const res = await post(target, legacyCall(1));
      expect([target, res.status]).toEqual([target, 401]);
      expect(res.json).toMatchObject({ code: "INVALID_INSTANCE" });
    }
    expect((await post(`${stack.edgeUrl}/?token=${token}`, legacyCall(1))).status).toBe(404);
    const bearer = await post(`${stack.edgeUrl}/mcp`, legacyCall(1), { authorization: `Bearer ${token}` });
    expect(bearer.status).toBe(401);
    expect(stack.figma.requests.length).toBe(mark);
    expect(load.mock.calls.length).toBe(0);
    load.mockRestore();
  });

  test("the upstream never sees the client's Authorization, Cookie or X-Forwarded-For", async () => {
    const { url, key } = await connected();
    const clientSecrets = {
      authorization: "Bearer client-side-secret-123",
      cookie: "sid=client-cookie-456",
      "x-forwarded-for": "198.51.100.77",
    };
    const mark = stack.figma.requests.length;
    const res = await callTool(url, "get_me", {}, clientSecrets);
    expect(res.status).toBe(200);
    const seen = stack.figma.requests.slice(mark);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.token).toBe(key);
    for (const name of Object.keys(clientSecrets)) expect(seen[0]?.headers[name]).toBeUndefined();
    const wire = JSON.stringify(seen);
    for (const value of Object.values(clientSecrets)) expect(wire).not.toContain(value);

    // The same for a custom server: only the headers its owner stored reach it.
    const user = await newUser(stack);
    const issued = await trpc(
      stack,
      "instances.connectCustom",
      { name: "mine", url: remote.url, headers: { "x-owner": "stored-header" } },
      { cookie: user.cookie },
    );
    const customUrl = data<{ instanceUrl: string }>(issued).instanceUrl;
    const remoteMark = remote.requests.length;
    const echoed = await callTool(customUrl, "echo", { text: "x" }, clientSecrets);
    expect(echoed.status).toBe(200);
    const remoteSeen = remote.requests.slice(remoteMark);
    expect(remoteSeen.length).toBeGreaterThan(0);
    for (const r of remoteSeen) {
      expect(r.headers["x-owner"]).toBe("stored-header");
      for (const name of ["authorization", "cookie", "x-forwarded-for"])
        expect(r.headers[name]).toBeUndefined();
    }
  });

  test("a ciphertext copied onto another user's row: fails to open, no upstream call, 'unusable, reconnect', needs_reauth", async () => {
    const ada = await connected();
    const bob = await connected();
    const db = stack.platform.deps.db;
    const rows = await db.select().from(credentials);
    const adaRow = rows.find((r) => r.userId === ada.user.userId);
    const bobRow = rows.find((r) => r.userId === bob.user.userId);
    if (!adaRow || !bobRow) throw new Error("credential rows missing");
    // Bob's URL has not been used yet, so nothing of his row is cached: the edge reads the swapped one.
    await db
      .update(credentials)
      .set({ ciphertext: adaRow.ciphertext, keyVersion: adaRow.keyVersion })
      .where(eq(credentials.id, bobRow.id));
    const mark = stack.figma.requests.length;
    const res = await callTool(bob.url, "get_me", {});
    expect(res.status).toBe(200);
    const result = res.json.result as { isError?: boolean; content: { text: string }[] };
    expect(result.isError).toBe(true);
    const text = result.content[0]?.text ?? "";
    expect(text).toMatch(/unusable/i);
    expect(text).toMatch(/reconnect/i);
    expect(text).not.toMatch(/rejected/i);
    expect(text).not.toContain(ada.key);
    expect(stack.figma.requests.length).toBe(mark);
    const [row] = (await db.select().from(instances)).filter((i) => i.userId === bob.user.userId);
    expect(row?.status).toBe("needs_reauth");
    // The stored row is what told the edge; nothing else of Ada's is affected.
    const adaList = data<{ status: string }[]>(
      await trpc(stack, "instances.list", undefined, { cookie: ada.user.cookie }),
    );
    expect(adaList[0]?.status).toBe("active");
  });
});

describe("stored credentials that do not open", () => {
  test("a custom server's sealed settings on another row: unusable, reconnect, needs_reauth; nothing sent", async () => {
    const owner = await newUser(stack);
    const other = await newUser(stack);
    const connectTo = async (user: TestUser) =>
      data<{ instanceUrl: string }>(
        await trpc(stack, "instances.connectCustom", { name: "m", url: remote.url }, { cookie: user.cookie }),
      ).instanceUrl;
    await connectTo(owner);
    const otherUrl = await connectTo(other);
    const db = stack.platform.deps.db;
    const rows = await db.select().from(credentials);
    const from = rows.find((r) => r.userId === owner.userId);
    const to = rows.find((r) => r.userId === other.userId);
    if (!from || !to) throw new Error("credential rows missing");
    await db.update(credentials).set({ ciphertext: from.ciphertext }).where(eq(credentials.id, to.id));
    const mark = remote.requests.length;
    const res = await callTool(otherUrl, "echo", { text: "x" });
    const result = res.json.result as { isError?: boolean; content: { text: string }[] };
    expect(result.isError).toBe(true);
    expect(result.content[0]?.text).toMatch(/unusable.*reconnect/i);
    expect(remote.requests.length).toBe(mark);
    const [row] = (await db.select().from(instances)).filter((i) => i.userId === other.userId);
    expect(row?.status).toBe("needs_reauth");
  });

  test("sealed under a master-key version this edge lacks (a rollout half done): unavailable, nothing marked", async () => {
    const { user, url } = await connected();
    const db = stack.platform.deps.db;
    const [row] = (await db.select().from(credentials)).filter((r) => r.userId === user.userId);
    if (!row) throw new Error("credential row missing");
    await db.update(credentials).set({ keyVersion: 99 }).where(eq(credentials.id, row.id));
    const mark = stack.figma.requests.length;
    const res = await callTool(url, "get_me", {});
    const result = res.json.result as { isError?: boolean; content: { text: string }[] };
    expect(result.isError).toBe(true);
    expect(result.content[0]?.text).toMatch(/unavailable/i);
    expect(result.content[0]?.text).not.toMatch(/reconnect/i);
    expect(stack.figma.requests.length).toBe(mark);
    const [instance] = (await db.select().from(instances)).filter((i) => i.userId === user.userId);
    expect(instance?.status).toBe("active");
  });
});

describe("token guessing is throttled per client address", () => {
  const randomToken = () =>
    `mcp_fig_${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url")}`;
  const tokenUrl = (token: string) => `${guarded.edgeUrl}/${token}/mcp`;

  test(`past ${GUESS_LIMIT} invalid tokens a minute: 429 with Retry-After for any token from that address`, async () => {
    const { url } = await connected(guarded);
    const attacker = { "x-forwarded-for": "203.0.113.66" };
    for (let i = 0; i < GUESS_LIMIT; i++) {
      expect((await post(tokenUrl(randomToken()), legacyCall(1), attacker)).status).toBe(401);
    }
    const limited = await post(tokenUrl(randomToken()), legacyCall(7), attacker);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(limited.json).toMatchObject({ id: null, error: { data: { code: "RATE_LIMIT_EXCEEDED" } } });
    // Even the real token, from that address: nothing tells a hit from a miss.
    expect((await post(url, legacyCall(1), attacker)).status).toBe(429);
    // Another address is unaffected: its valid token works, its bad one is a plain 401.
    const elsewhere = { "x-forwarded-for": "198.51.100.66" };
    expect((await post(url, legacyCall(1), elsewhere)).status).toBe(200);
    expect((await post(tokenUrl(randomToken()), legacyCall(1), elsewhere)).status).toBe(401);
  });

  test("200 random tokens sent at once from one address: at most twice the limit in lookups, the rest 429", async () => {
    const resolver = guarded.edge.deps.resolver as unknown as { load: (hash: string) => Promise<unknown> };
    const load = spyOn(resolver, "load");
    try {
      const from = { "x-forwarded-for": "203.0.113.111" };
      const answers = await Promise.all(
        Array.from({ length: 200 }, (_, i) => post(tokenUrl(randomToken()), legacyCall(i), from)),
      );
      const statuses = answers.map((a) => a.status);
      expect(load.mock.calls.length).toBeLessThanOrEqual(2 * GUESS_LIMIT);
      expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(2 * GUESS_LIMIT);
      expect(statuses.filter((s) => s !== 401 && s !== 429)).toEqual([]);
    } finally {
      load.mockRestore();
    }
  });

  test("an IPv6 /64 is one address: hopping within it does not reset the count", async () => {
    for (let i = 0; i < GUESS_LIMIT; i++) {
      const from = { "x-forwarded-for": `2001:db8:77:1::${(i + 1).toString(16)}` };
      expect((await post(tokenUrl(randomToken()), legacyCall(i), from)).status).toBe(401);
    }
    const next = await post(tokenUrl(randomToken()), legacyCall(9), {
      "x-forwarded-for": "2001:db8:77:1:ffff::9",
    });
    expect(next.status).toBe(429);
    const otherNet = await post(tokenUrl(randomToken()), legacyCall(9), {
      "x-forwarded-for": "2001:db8:77:2::1",
    });
    expect(otherNet.status).toBe(401);
  });

  test("500 random tokens from one address cause at most limit + 1 database lookups", async () => {
    const resolver = guarded.edge.deps.resolver as unknown as { load: (hash: string) => Promise<unknown> };
    const load = spyOn(resolver, "load");
    try {
      const from = { "x-forwarded-for": "203.0.113.99" };
      const statuses = new Map<number, number>();
      for (let i = 0; i < 500; i++) {
        const { status } = await post(tokenUrl(randomToken()), legacyCall(i), from);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
      expect(load.mock.calls.length).toBeLessThanOrEqual(GUESS_LIMIT + 1);
      expect(statuses.get(401)).toBe(GUESS_LIMIT);
      expect(statuses.get(429)).toBe(500 - GUESS_LIMIT);
    } finally {
      load.mockRestore();
    }
  });

  test("lifted (RATE_LIMIT_INVALID_TOKENS=0): every unknown token a plain 401, a real one served, no address worked out", async () => {
    const { url } = await connected();
    const lifted = await createEdge(stack.platform.deps, { limits: { invalidTokensPerMinutePerIp: 0 } });
    let addressesAsked = 0;
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (req, bun) =>
        lifted.fetch(req, {
          requestIP: (r: Request) => {
            addressesAsked++;
            return bun.requestIP(r);
          },
        }),
    });
    try {
      const on = (u: string) => `http://127.0.0.1:${server.port}${new URL(u).pathname}`;
      for (let i = 0; i < 3 * GUESS_LIMIT; i++) {
        const res = await post(on(tokenUrl(randomToken())), legacyCall(i));
        expect(res.status).toBe(401);
        expect(res.json).toMatchObject({ code: "INVALID_INSTANCE" });
      }
      expect((await post(on(url), legacyCall(1), { "mcp-protocol-version": "2025-06-18" })).status).toBe(200);
      expect(addressesAsked).toBe(0);
    } finally {
      server.stop(true);
      await lifted.close();
    }
  });
});

describe("the guards let ordinary traffic through", () => {
  test("a 2026 tools/call with both Accept types is served", async () => {
    const { url } = await connected();
    const res = await callTool(url, "get_file", { file_key: FAKE_FILE_KEY });
    expect(res.status).toBe(200);
    expect((res.json.result as { isError?: boolean }).isError).toBeFalsy();
  });
});

describe("/metrics is never public", () => {
  test("on the edge's port it needs the METRICS_TOKEN bearer: none or wrong → 401", async () => {
    for (const authorization of [undefined, "Bearer wrong-token-0123456789", `Basic ${TEST_METRICS_TOKEN}`]) {
      const res = await fetch(`${stack.edgeUrl}/metrics`, {
        headers: authorization ? { authorization } : {},
      });
      expect([authorization, res.status]).toEqual([authorization, 401]);
      expect(await res.text()).not.toContain("mcp_edge_");
    }
    expect(await metricsText(stack)).toContain("mcp_edge_requests_total");
  });

  test("with neither METRICS_TOKEN nor METRICS_PORT it is not served (404); with METRICS_PORT only there", async () => {
    const platform = stack.platform.deps;
    const closed = await createEdge(platform, { metrics: {} });
    const apart = await createEdge(platform, {
      metrics: { separatePort: true },
      metricsHosts: loopbackAllowlist("127.0.0.1"),
    });
    const both = await createEdge(platform, { metrics: { separatePort: true, token: TEST_METRICS_TOKEN } });
    try {
      expect((await closed.app.request("/metrics")).status).toBe(404);
      expect((await apart.app.request("/metrics")).status).toBe(404);
      const own = await apart.metricsApp.request("/metrics", { headers: { host: "127.0.0.1:9464" } });
      expect(own.status).toBe(200);
      expect(await own.text()).toContain("mcp_edge_requests_total");
      expect(
        (await apart.metricsApp.request("/health", { headers: { host: "127.0.0.1:9464" } })).status,
      ).toBe(404);
      // Bound to loopback, it answers only to loopback names (DNS rebinding).
      const rebound = await apart.metricsApp.request("/metrics", { headers: { host: "attacker.example" } });
      expect(rebound.status).toBe(403);
      // A token set as well applies on the metrics port too.
      expect((await both.metricsApp.request("/metrics")).status).toBe(401);
      const authed = await both.metricsApp.request("/metrics", {
        headers: { authorization: `Bearer ${TEST_METRICS_TOKEN}` },
      });
      expect(authed.status).toBe(200);
    } finally {
      await Promise.all([closed.close(), apart.close(), both.close()]);
    }
  });
});
