// 2025-era sessions and multi-round-trip state on relayed instances, end to end: a custom instance in
// front of the conformance upstream (test/conformance/upstream.ts, 2026-07-28 and 2025 on one URL).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createEdge } from "@mcp/edge";
import { createKv } from "@mcp/kv";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { data, newUser, trpc } from "./client.ts";
import { type ConformanceUpstream, startConformanceUpstream } from "./conformance/upstream.ts";
import { type Stack, startStack } from "./harness.ts";

let stack: Stack;
let upstream: ConformanceUpstream;
let urlA: string;
let urlB: string;
/** A second edge app on the same kv (its own Redis connections in CI): any edge process serves any session. */
let edgeB: { stop(): Promise<void>; url: string };

const LEGACY = "2025-11-25";
const headers = (extra: Record<string, string> = {}) => ({
  "content-type": "application/json",
  accept: "application/json, text/event-stream",
  "mcp-protocol-version": LEGACY,
  ...extra,
});

async function connectInstance(name: string): Promise<string> {
  const user = await newUser(stack);
  const res = await trpc(
    stack,
    "instances.connectCustom",
    { name, url: upstream.url },
    { cookie: user.cookie },
  );
  expect(res.status).toBe(200);
  return data<{ instanceUrl: string }>(res).instanceUrl;
}

/** The JSON-RPC messages of an SSE (or JSON) answer, with their event ids. */
async function messages(res: Response): Promise<{ id?: string; data: Record<string, unknown> }[]> {
  const text = await res.text();
  if ((res.headers.get("content-type") ?? "").includes("application/json"))
    return [{ data: JSON.parse(text) }];
  const out: { id?: string; data: Record<string, unknown> }[] = [];
  for (const block of text.split("\n\n")) {
    const id = /^id: (.*)$/m.exec(block)?.[1];
    const payload = /^data: (.*)$/m.exec(block)?.[1];
    if (payload?.trim()) out.push({ ...(id && { id }), data: JSON.parse(payload) });
    else if (id) out.push({ id, data: {} });
  }
  return out;
}

async function initialize(url: string, capabilities: Record<string, unknown> = {}): Promise<string> {
  const res = await fetch(url, {
    method: "POST",
    headers: headers(),
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: LEGACY, capabilities, clientInfo: { name: "raw", version: "1" } },
    }),
  });
  expect(res.status).toBe(200);
  const id = res.headers.get("mcp-session-id");
  expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
  await res.text();
  return id ?? "";
}

const call = (url: string, session: string, id: number, method: string, params: object = {}) =>
  fetch(url, {
    method: "POST",
    headers: headers({ "mcp-session-id": session }),
    body: JSON.stringify({ jsonrpc: "2.0", id, method, params }),
  });

beforeAll(async () => {
  upstream = await startConformanceUpstream();
  stack = await startStack({ allowPrivateUpstreams: true });
  urlA = await connectInstance("A");
  urlB = await connectInstance("B");
  // With Redis, edge B has its own connections to it (as another process would); the in-process kv is
  // one process's by nature, so the embedded run shares it.
  const kv = process.env.REDIS_URL
    ? createKv({ REDIS_URL: process.env.REDIS_URL }, { prefix: stack.kvPrefix })
    : stack.platform.deps.kv;
  const edge = await createEdge({ ...stack.platform.deps, kv }, { host: "127.0.0.1" });
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, idleTimeout: 60, fetch: edge.fetch });
  edgeB = {
    url: `http://127.0.0.1:${server.port}`,
    async stop() {
      server.stop(true);
      await edge.close();
      if (kv !== stack.platform.deps.kv) await kv.close();
    },
  };
});

afterAll(async () => {
  await edgeB?.stop();
  await stack?.stop();
  await upstream?.stop();
});

const onEdgeB = (url: string) => `${edgeB.url}${new URL(url).pathname}`;

/** Reads an SSE answer as it comes: `until` a condition holds on everything read so far (5 s at most). */
function sseReader(res: Response) {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = "";
  let done = false;
  const step = async () => {
    const next = await Promise.race([reader.read(), Bun.sleep(200).then(() => undefined)]);
    if (next?.value) text += decoder.decode(next.value);
    if (next?.done) done = true;
  };
  return {
    async until(holds: (text: string) => boolean): Promise<string> {
      const deadline = Date.now() + 5000;
      while (!holds(text) && !done && Date.now() < deadline) await step();
      return text;
    },
    /** Whether the stream ends within 5 s. */
    async ended(): Promise<boolean> {
      const deadline = Date.now() + 5000;
      while (!done && Date.now() < deadline) await step();
      return done;
    },
  };
}

describe("2025-era sessions on a relayed instance", () => {
  test("initialize mints a session id; the session serves calls, on any edge process sharing the kv", async () => {
    const session = await initialize(urlA);
    const onA = await messages(await call(urlA, session, 2, "tools/call", { name: "test_simple_text" }));
    expect(JSON.stringify(onA.at(-1)?.data)).toContain("This is a simple text response for testing.");
    const res = await call(onEdgeB(urlA), session, 3, "tools/call", { name: "test_simple_text" });
    expect(res.status).toBe(200);
    expect(res.headers.get("mcp-session-id")).toBe(session);
    expect(JSON.stringify((await messages(res)).at(-1)?.data)).toContain("simple text response");
  });

  test("the session id with another instance's token, an unknown id, or an ended session: 404", async () => {
    const session = await initialize(urlA);
    const other = await call(urlB, session, 2, "tools/list");
    expect(other.status).toBe(404);
    expect(((await other.json()) as { error: { code: number } }).error.code).toBe(-32001);
    expect((await call(urlA, "A".repeat(43), 3, "tools/list")).status).toBe(404);
    expect((await call(urlA, "not a session id", 4, "tools/list")).status).toBe(404);
    // GET and DELETE need the session too.
    expect((await fetch(urlA, { headers: { accept: "text/event-stream" } })).status).toBe(400);
    const gone = await fetch(onEdgeB(urlA), {
      method: "DELETE",
      headers: headers({ "mcp-session-id": session }),
    });
    expect(gone.status).toBe(200);
    expect((await call(urlA, session, 5, "tools/list")).status).toBe(404);
  });

  test("GET or DELETE without a session id: 400 for a 2025-era client (sessions are required), 405 Allow: POST for a 2026-07-28 one", async () => {
    for (const method of ["GET", "DELETE"]) {
      const legacy = await fetch(urlA, {
        method,
        headers: { accept: "text/event-stream", "mcp-protocol-version": LEGACY },
      });
      expect([method, legacy.status]).toEqual([method, 400]);
      const modern = await fetch(urlA, {
        method,
        headers: { accept: "text/event-stream", "mcp-protocol-version": "2026-07-28" },
      });
      expect([method, modern.status, modern.headers.get("allow")]).toEqual([method, 405, "POST"]);
      expect(((await modern.json()) as { error: { code: number } }).error.code).toBe(-32000);
    }
  });

  test("the session id is never in the kv: only its hash", async () => {
    const session = await initialize(urlA);
    expect(stack.kvWrites.some((w) => w.includes(session))).toBe(false);
    expect(stack.kvWrites.some((w) => w.startsWith("mcp-session:"))).toBe(true);
  });

  test("a stream is resumed with Last-Event-ID, on another edge process, from the kv", async () => {
    const session = await initialize(urlA);
    const first = await messages(await call(urlA, session, 7, "tools/call", { name: "test_simple_text" }));
    // A 2025-11-25 client gets a priming event (an id, no data) before anything else.
    const priming = first[0];
    expect(priming?.id).toBeDefined();
    expect(priming?.data).toEqual({});
    const resumed = await fetch(onEdgeB(urlA), {
      headers: { accept: "text/event-stream", "mcp-session-id": session, "last-event-id": priming?.id ?? "" },
    });
    expect(resumed.status).toBe(200);
    const replayed = await messages(resumed);
    expect(replayed.map((m) => m.data.id)).toEqual([7]);
    expect(JSON.stringify(replayed[0]?.data)).toContain("simple text response");
    // Another session cannot resume this session's stream, nor can an id that was never sent.
    const other = await initialize(urlA);
    for (const [session_, eventId] of [
      [other, priming?.id ?? ""],
      [session, `${crypto.randomUUID()}_0`],
    ]) {
      const refused = await fetch(urlA, {
        headers: {
          accept: "text/event-stream",
          "mcp-session-id": session_ ?? "",
          "last-event-id": eventId ?? "",
        },
      });
      expect(refused.status).toBe(400);
    }
  });

  test("a client that hangs up mid-call resumes it on another edge process and gets the rest", async () => {
    const session = await initialize(urlA);
    const abort = new AbortController();
    const res = await fetch(urlA, {
      method: "POST",
      signal: abort.signal,
      headers: headers({ "mcp-session-id": session }),
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 9,
        method: "tools/call",
        params: { name: "test_tool_with_progress", _meta: { progressToken: "p1" } },
      }),
    });
    // Read up to the first progress notification, then hang up.
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = "";
    while (!text.includes('"progress":0')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    abort.abort();
    const seen = [...text.matchAll(/^id: (.*)$/gm)].map((m) => m[1]);
    const last = seen.at(-1) ?? "";
    expect(last).not.toBe("");
    const resumed = await fetch(onEdgeB(urlA), {
      headers: { accept: "text/event-stream", "mcp-session-id": session, "last-event-id": last },
    });
    expect(resumed.status).toBe(200);
    const rest = await messages(resumed);
    const progress = rest.filter((m) => m.data.method === "notifications/progress");
    expect(progress.map((m) => (m.data.params as { progress: number }).progress)).toEqual([50, 100]);
    expect(rest.at(-1)?.data.id).toBe(9);
    expect(JSON.stringify(rest.at(-1)?.data)).toContain("Progress tool completed");
    for (const m of progress) expect((m.data.params as { progressToken: string }).progressToken).toBe("p1");
  });

  test("the answer to a sampling request may be POSTed to another edge process than the call's", async () => {
    // A session whose client can sample.
    const sampling = await initialize(urlA, { sampling: {} });
    const res = await call(urlA, sampling, 11, "tools/call", {
      name: "test_sampling",
      arguments: { prompt: "Capital of France?" },
    });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = "";
    let asked: { id: string | number } | undefined;
    while (!asked) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
      const found = [...text.matchAll(/^data: (.*)$/gm)]
        .map((m) => (m[1]?.trim() ? JSON.parse(m[1]) : {}))
        .find((m) => m.method === "sampling/createMessage");
      if (found) asked = found;
    }
    expect(asked).toBeDefined();
    const answered = await fetch(onEdgeB(urlA), {
      method: "POST",
      headers: headers({ "mcp-session-id": sampling }),
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: asked?.id,
        result: { model: "m", role: "assistant", content: { type: "text", text: "Paris" } },
      }),
    });
    expect(answered.status).toBe(202);
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    expect(text).toContain("LLM response: Paris");
  });

  test("sampling and elicitation reach a 2025-era client on the call's stream, and its answers go back", async () => {
    const client = new Client(
      { name: "legacy-client", version: "1" },
      { capabilities: { sampling: {}, elicitation: { form: {} } } },
    );
    client.setRequestHandler("sampling/createMessage", async () => ({
      model: "test-model",
      role: "assistant",
      content: { type: "text", text: "Paris" },
    }));
    client.setRequestHandler("elicitation/create", async () => ({
      action: "accept",
      content: { username: "ada", email: "ada@example.com" },
    }));
    await client.connect(new StreamableHTTPClientTransport(new URL(urlA)));
    try {
      const sampled = await client.callTool({
        name: "test_sampling",
        arguments: { prompt: "Capital of France?" },
      });
      expect(JSON.stringify(sampled.content)).toContain("LLM response: Paris");
      const elicited = await client.callTool({ name: "test_elicitation", arguments: { message: "Who?" } });
      expect(JSON.stringify(elicited.content)).toContain("action=accept");
    } finally {
      await client.close();
    }
  });
});

describe("subscriptions and list changes on a 2025-era session", () => {
  test("a GET stream opens at once: its first bytes are an SSE comment, not the first keep-alive", async () => {
    const session = await initialize(urlA);
    const abort = new AbortController();
    const res = await fetch(urlA, {
      signal: abort.signal,
      headers: { accept: "text/event-stream", "mcp-session-id": session, "mcp-protocol-version": LEGACY },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("text/event-stream");
    const first = await (res.body as ReadableStream<Uint8Array>).getReader().read();
    // Without it Bun sends no response head until the first keep-alive, 15 s later.
    expect(new TextDecoder().decode(first.value)).toBe(": open\n\n");
    abort.abort();
  });

  test("a subscribed resource's updates and list changes reach the session's GET stream, on another edge", async () => {
    const session = await initialize(urlA);
    const other = await initialize(urlA);
    const subscribed = await call(urlA, session, 2, "resources/subscribe", {
      uri: "test://watched-resource",
    });
    expect(JSON.stringify((await messages(subscribed)).at(-1)?.data)).toContain('"result":{}');
    const abort = new AbortController();
    const stream = (id: string) =>
      fetch(onEdgeB(urlA), {
        signal: abort.signal,
        headers: { accept: "text/event-stream", "mcp-session-id": id },
      });
    const [mine, theirs] = await Promise.all([stream(session), stream(other)]);
    expect(mine.status).toBe(200);
    // The GET streams are open on edge B; the upstream's announcements come through edge A's connection.
    await Bun.sleep(200);
    for (const name of ["test_trigger_resource_update", "test_trigger_tool_change"]) {
      await (await call(urlA, session, 3, "tools/call", { name, arguments: {} })).text();
    }
    const read = async (res: Response, until: (text: string) => boolean) => {
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      let text = "";
      const deadline = Date.now() + 5000;
      while (!until(text) && Date.now() < deadline) {
        const next = await Promise.race([reader.read(), Bun.sleep(200).then(() => undefined)]);
        if (next?.value) text += new TextDecoder().decode(next.value);
        if (next?.done) break;
      }
      return text;
    };
    const seen = await read(mine, (t) => t.includes("resources/updated") && t.includes("tools/list_changed"));
    expect(seen).toContain('"uri":"test://watched-resource"');
    expect(seen).toContain("notifications/tools/list_changed");
    // The upstream's own listen-stream id is not relayed.
    expect(seen).not.toContain("subscriptionId");
    // The other session never subscribed: it hears the list change, not the resource update.
    const heard = await read(theirs, (t) => t.includes("tools/list_changed"));
    expect(heard).toContain("notifications/tools/list_changed");
    expect(heard).not.toContain("resources/updated");
    abort.abort();
  });

  test("a GET stream resumed with Last-Event-ID (on another edge) takes over from the one it replaces, goes on hearing list changes and resource updates, and ends with the session", async () => {
    const session = await initialize(urlA);
    await (await call(urlA, session, 2, "resources/subscribe", { uri: "test://watched-resource" })).text();
    const trigger = async (name: string) =>
      (await call(urlA, session, 3, "tools/call", { name, arguments: {} })).text();
    const abort = new AbortController();
    const open = (base: string, lastEventId?: string) =>
      fetch(base, {
        signal: abort.signal,
        headers: {
          accept: "text/event-stream",
          "mcp-session-id": session,
          ...(lastEventId && { "last-event-id": lastEventId }),
        },
      });
    try {
      const first = sseReader(await open(urlA));
      await Bun.sleep(200); // the upstream is followed
      await trigger("test_trigger_tool_change");
      const before = await first.until((t) => t.includes("tools/list_changed"));
      const lastId = /^id: (get_\S+)$/m.exec(before)?.[1];
      expect(lastId).toBeString();

      // The client reconnects before the first stream was seen to drop (a network blip): the new one takes over.
      const resumed = await open(onEdgeB(urlA), lastId);
      expect(resumed.status).toBe(200);
      const second = sseReader(resumed);
      expect(await first.ended()).toBe(true);
      await Bun.sleep(200);
      await trigger("test_trigger_tool_change");
      await trigger("test_trigger_resource_update");
      const heard = await second.until((t) => t.includes("resources/updated"));
      expect(heard).toContain("notifications/tools/list_changed");
      expect(heard).toContain('"uri":"test://watched-resource"');
      await trigger("test_trigger_tool_change");
      const all = await second.until((t) => t.split("tools/list_changed").length > 2);
      // Each message once (not also kept by the stream it replaced), none of those the client had again.
      expect(all.split("tools/list_changed").length - 1).toBe(2);
      const ids = [...all.matchAll(/^id: (\S+)$/gm)].map((m) => m[1]);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids).not.toContain(lastId);

      // Ending the session ends its resumed stream.
      const ended = await fetch(urlA, { method: "DELETE", headers: headers({ "mcp-session-id": session }) });
      expect(ended.status).toBe(200);
      expect(await second.ended()).toBe(true);
    } finally {
      abort.abort();
    }
  });

  test("two GET streams of one session opened at once (on two edges): one stays, the other ends", async () => {
    const session = await initialize(urlA);
    const abort = new AbortController();
    try {
      const opened = await Promise.all(
        [urlA, onEdgeB(urlA)].map((at) =>
          fetch(at, {
            signal: abort.signal,
            headers: { accept: "text/event-stream", "mcp-session-id": session },
          }),
        ),
      );
      const readers = opened.map(sseReader);
      const ended = await Promise.all(readers.map((r) => r.ended()));
      expect(ended.filter(Boolean)).toHaveLength(1);
    } finally {
      abort.abort();
    }
  });

  test("a session holds at most 100 resource subscriptions", async () => {
    const session = await initialize(urlA);
    for (let i = 0; i < 100; i++) {
      const res = await call(urlA, session, i + 2, "resources/subscribe", { uri: `test://r/${i}` });
      expect(JSON.stringify((await messages(res)).at(-1)?.data)).toContain('"result":{}');
    }
    const over = await messages(
      await call(urlA, session, 200, "resources/subscribe", { uri: "test://r/over" }),
    );
    const refused = over.at(-1)?.data.error as { code: number; message: string } | undefined;
    expect(refused?.code).toBe(-32602);
    expect(refused?.message).toBe("At most 100 subscriptions");
    // One already held is fine again.
    const again = await messages(
      await call(urlA, session, 201, "resources/subscribe", { uri: "test://r/7" }),
    );
    expect(JSON.stringify(again.at(-1)?.data)).toContain('"result":{}');
  });
});

describe("retiring an instance URL ends what was opened through it", () => {
  /** Resolves with "ended" once the stream is over, or "still open" after `ms` (a bound on the wait, not a timing). */
  const ends = (done: Promise<unknown>, ms = 10_000) =>
    Promise.race([done.then(() => "ended"), Bun.sleep(ms).then(() => "still open")]);

  for (const action of ["rotate", "revoke"] as const) {
    test(`${action}: 2025-era sessions' GET streams (on every edge) and a 2026-07-28 listen stream end; the sessions are gone`, async () => {
      const user = await newUser(stack);
      const connected = await trpc(
        stack,
        "instances.connectCustom",
        { name: action, url: upstream.url },
        { cookie: user.cookie },
      );
      const url = data<{ instanceUrl: string }>(connected).instanceUrl;
      // One GET stream per session (a newer one takes over): a session on each edge.
      const session = await initialize(url);
      const other = await initialize(url);
      const streams = await Promise.all(
        [url, onEdgeB(url)].map(async (at, i) => {
          const res = await fetch(at, {
            headers: {
              accept: "text/event-stream",
              "mcp-session-id": i === 0 ? session : other,
              "mcp-protocol-version": LEGACY,
            },
          });
          expect(res.status).toBe(200);
          const reader = (res.body as ReadableStream<Uint8Array>).getReader();
          expect(new TextDecoder().decode((await reader.read()).value)).toBe(": open\n\n");
          // Wrapped: an async function returning the promise itself would wait for the stream's end.
          return {
            ended: (async () => {
              while (!(await reader.read()).done) {}
            })(),
          };
        }),
      );
      const modern = new Client(
        { name: "listener", version: "1" },
        { versionNegotiation: { mode: { pin: "2026-07-28" } } },
      );
      await modern.connect(new StreamableHTTPClientTransport(new URL(url)));
      const subscription = await modern.listen({ toolsListChanged: true });

      // An invalidation that only refreshes the entry (new settings) leaves every stream open.
      const renamed = await trpc(
        stack,
        "instances.updateSettings",
        { serviceType: "custom", displayName: `renamed ${action}` },
        { cookie: user.cookie },
      );
      expect(renamed.status).toBe(200);
      for (const stream of streams) expect(await ends(stream.ended, 1_000)).toBe("still open");

      const retired = await trpc(
        stack,
        `instances.${action}`,
        { serviceType: "custom" },
        { cookie: user.cookie },
      );
      expect(retired.status).toBe(200);
      for (const stream of streams) expect(await ends(stream.ended)).toBe("ended");
      expect(await ends(subscription.closed)).toBe("ended");
      await modern.close();
      // The old URL is refused; a rotated instance's new URL does not carry the old URL's session over.
      expect((await call(url, session, 2, "tools/list")).status).toBe(401);
      if (action === "rotate") {
        const fresh = data<{ instanceUrl: string }>(retired).instanceUrl;
        const carried = await call(fresh, session, 3, "tools/list");
        expect(carried.status).toBe(404);
        expect(((await carried.json()) as { error: { code: number } }).error.code).toBe(-32001);
        // Sessions opened through the new URL work as ever.
        const own = await initialize(fresh);
        expect((await call(fresh, own, 4, "tools/list")).status).toBe(200);
      }
    });
  }
});

describe("resource subscriptions through the relay, to an upstream of either era", () => {
  /** The conformance upstream as a 2025-era-only server: its `server/discover` answers -32601, so the relay speaks 2025 to it. */
  let legacyOnly: ReturnType<typeof Bun.serve>;
  beforeAll(() => {
    const target = new URL(upstream.url);
    legacyOnly = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      idleTimeout: 60,
      async fetch(req) {
        const body = req.method === "POST" ? await req.text() : undefined;
        if (body?.includes('"server/discover"')) {
          const { id } = JSON.parse(body) as { id: unknown };
          return Response.json({ jsonrpc: "2.0", id, error: { code: -32601, message: "Method not found" } });
        }
        const url = new URL(req.url);
        url.host = target.host;
        const headers = new Headers(req.headers);
        headers.delete("host");
        return fetch(url, { method: req.method, headers, body, signal: req.signal });
      },
    });
  });
  afterAll(() => legacyOnly?.stop(true));

  async function instanceOf(url: string): Promise<string> {
    const user = await newUser(stack);
    const res = await trpc(stack, "instances.connectCustom", { name: "subs", url }, { cookie: user.cookie });
    expect(res.status).toBe(200);
    return data<{ instanceUrl: string }>(res).instanceUrl;
  }

  /** A 2026-07-28 client listening for updates of `uri`: how many it has heard so far. */
  async function listener(instanceUrl: string, uri: string) {
    const client = new Client(
      { name: "listener", version: "1" },
      { versionNegotiation: { mode: { pin: "2026-07-28" } } },
    );
    const heard: string[] = [];
    client.setNotificationHandler("notifications/resources/updated", (n) => {
      heard.push(n.params.uri);
    });
    await client.connect(new StreamableHTTPClientTransport(new URL(instanceUrl)));
    const subscription = await client.listen({ resourceSubscriptions: [uri] });
    return { client, heard, subscription };
  }

  const until = async (holds: () => boolean) => {
    for (let i = 0; !holds() && i < 200; i++) await Bun.sleep(25);
    return holds();
  };
  const announce = (instanceUrl: string, session?: string) =>
    fetch(instanceUrl, {
      method: "POST",
      headers: headers(session ? { "mcp-session-id": session } : {}),
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 9,
        method: "tools/call",
        params: { name: "test_trigger_resource_update", arguments: {} },
      }),
    }).then((res) => res.text());

  for (const era of ["2026-07-28", "2025-era"] as const) {
    test(`a ${era} upstream: a 2026-07-28 listen for a resource hears its updates, alone; one listener leaving does not end another's`, async () => {
      const instanceUrl = await instanceOf(
        era === "2026-07-28" ? upstream.url : `http://127.0.0.1:${legacyOnly.port}/mcp`,
      );
      const uri = "test://watched-resource";
      const [a, b] = [await listener(instanceUrl, uri), await listener(instanceUrl, uri)];
      expect(a.subscription.honoredFilter.resourceSubscriptions).toEqual([uri]);
      await announce(instanceUrl);
      expect(await until(() => a.heard.length > 0 && b.heard.length > 0)).toBe(true);
      expect(a.heard).toEqual([uri]);

      await a.subscription.close();
      await a.client.close();
      await Bun.sleep(200); // the first listener's end reaches the edge
      await announce(instanceUrl);
      expect(await until(() => b.heard.length > 1)).toBe(true);
      expect(b.heard).toEqual([uri, uri]);
      await b.client.close();
    });
  }

  test("a 2025-era upstream: one session unsubscribing does not end another session's updates of the same resource", async () => {
    const instanceUrl = await instanceOf(`http://127.0.0.1:${legacyOnly.port}/mcp`);
    const uri = "test://watched-resource";
    const [x, y] = [await initialize(instanceUrl), await initialize(instanceUrl)];
    for (const session of [x, y]) {
      expect(
        JSON.stringify(
          (await messages(await call(instanceUrl, session, 2, "resources/subscribe", { uri }))).at(-1)?.data,
        ),
      ).toContain('"result":{}');
    }
    const unsubscribed = await call(instanceUrl, x, 3, "resources/unsubscribe", { uri });
    expect(JSON.stringify((await messages(unsubscribed)).at(-1)?.data)).toContain('"result":{}');
    const abort = new AbortController();
    try {
      const res = await fetch(instanceUrl, {
        signal: abort.signal,
        headers: { accept: "text/event-stream", "mcp-session-id": y },
      });
      const stream = sseReader(res);
      await Bun.sleep(200);
      await announce(instanceUrl, y);
      expect(await stream.until((t) => t.includes("resources/updated"))).toContain(`"uri":"${uri}"`);
    } finally {
      abort.abort();
    }
  });
});

describe("multi-round-trip state through the relay (2026-07-28 clients)", () => {
  const modern = (id: number, params: Record<string, unknown>) =>
    fetch(urlA, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-protocol-version": "2026-07-28",
        "mcp-method": "tools/call",
        "mcp-name": String(params.name),
      },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id,
        method: "tools/call",
        params: {
          ...params,
          _meta: {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientInfo": { name: "raw", version: "1" },
            "io.modelcontextprotocol/clientCapabilities": { sampling: {} },
          },
        },
      }),
    });
  const result = async (res: Response) =>
    ((await messages(res)).at(-1)?.data ?? {}) as {
      result?: { resultType?: string; requestState?: string; content?: unknown };
      error?: { code: number; message: string };
    };

  test("input_required comes back with a sealed requestState; the retry completes; a replay is refused", async () => {
    const first = await result(await modern(1, { name: "test_sampling", arguments: { prompt: "Capital?" } }));
    expect(first.result?.resultType).toBe("input_required");
    const state = first.result?.requestState ?? "";
    // Sealed: the upstream's own state is not readable in it.
    expect(state).toMatch(/^\d+\.e1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    const answer = { model: "m", role: "assistant", content: { type: "text", text: "Paris" } };
    const retry = {
      name: "test_sampling",
      arguments: { prompt: "Capital?" },
      inputResponses: { sample: answer },
      requestState: state,
    };
    const done = await result(await modern(2, retry));
    expect(JSON.stringify(done.result?.content)).toContain("LLM response: Paris");
    const replayed = await result(await modern(3, retry));
    expect(replayed.error?.code).toBe(-32602);
    expect(replayed.error?.message).toContain("requestState is invalid, expired or already used");
  });

  test("a forged or tampered requestState is refused", async () => {
    for (const requestState of ["1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "garbage", "99.x"]) {
      const res = await result(
        await modern(4, {
          name: "test_sampling",
          arguments: { prompt: "Capital?" },
          inputResponses: { sample: { model: "m", role: "assistant", content: { type: "text", text: "x" } } },
          requestState,
        }),
      );
      expect(res.error?.code).toBe(-32602);
    }
  });
});
