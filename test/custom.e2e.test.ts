// Custom instances: a user's own remote MCP server (Streamable HTTP or legacy SSE) behind a personal,
// revocable platform URL, reached by clients of either protocol era; the URL passes SSRF rules and the
// headers are sealed like API keys.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { credentials } from "@mcp/db";
import { connectRemoteMcp } from "@mcp/services";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { Client as V1Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport as V1Transport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  connectFigma,
  data,
  expectInstanceDead,
  figmaKeyFor,
  metricsText,
  newUser,
  type TestUser,
  trpc,
} from "./client.ts";
import { type RemoteMcp, startRemoteMcp } from "./fakes/remote-mcp.ts";
import { type Stack, startStack } from "./harness.ts";

let stack: Stack;
let strict: Stack; // default deployment: private upstreams refused
let streamable: RemoteMcp;
let sse: RemoteMcp;
const SECRET = `Bearer remote-${crypto.randomUUID()}`;

let bounded: Stack; // the process-wide relay bound lowered to 4
beforeAll(async () => {
  // All started before any test stops a server: a stack started later could be given the port of a server
  // stopped just before, and a keep-alive connection the process still holds to that port is then reset.
  [stack, strict, bounded] = await Promise.all([
    startStack({ allowPrivateUpstreams: true }),
    startStack(),
    startStack({ allowPrivateUpstreams: true, limits: { relayInFlight: 4 } }),
  ]);
  [streamable, sse] = await Promise.all([
    startRemoteMcp({ kind: "streamable", requiredHeaders: { authorization: SECRET } }),
    startRemoteMcp({ kind: "sse", requiredHeaders: { authorization: SECRET } }),
  ]);
});
afterAll(async () => {
  await Promise.all([streamable.stop(), sse.stop(), stack.stop(), strict.stop(), bounded.stop()]);
});

interface Issued {
  instanceId: string;
  instanceUrl: string;
  serviceType: string;
}

async function connectCustom(s: Stack, user: TestUser, input: Record<string, unknown>) {
  return trpc(s, "instances.connectCustom", input, { cookie: user.cookie });
}

const text = (result: unknown): string =>
  (result as { content?: { text?: string }[] }).content?.[0]?.text ?? "";

async function v2(url: string, mode: "legacy" | "auto" | { pin: string }) {
  const client = new Client({ name: "custom-e2e", version: "1" }, { versionNegotiation: { mode } });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

describe("custom MCP servers", () => {
  for (const kind of ["streamable", "sse"] as const) {
    test(`${kind} server: connect, then clients of both eras list and call its tools through the platform`, async () => {
      const remote = kind === "streamable" ? streamable : sse;
      const user = await newUser(stack);
      const marker = `user-${crypto.randomUUID()}`;
      const res = await connectCustom(stack, user, {
        name: `My ${kind} server`,
        url: remote.url,
        headers: { authorization: SECRET, "x-user-marker": marker },
      });
      expect(res.status).toBe(200);
      const issued = data<Issued>(res);
      expect(issued.serviceType).toBe("custom");
      expect(issued.instanceUrl).toMatch(new RegExp(`^${stack.edgeUrl}/mcp_cus_[A-Za-z0-9_-]{43}/mcp$`));

      for (const mode of [{ pin: "2026-07-28" }, "legacy"] as const) {
        const client = await v2(issued.instanceUrl, mode);
        const { tools } = await client.listTools();
        expect(tools.map((t) => t.name).sort()).toEqual(["add", "echo", "fail"]);
        const echoed = await client.callTool({ name: "echo", arguments: { text: "hi" } });
        expect(text(echoed)).toContain("hi");
        // This user's headers reached their server (it echoes the marker reversed: the value itself would
        // come back redacted, as every header value does).
        expect(text(echoed)).toContain([...marker].reverse().join(""));
        expect(text(await client.callTool({ name: "add", arguments: { a: 2, b: 3 } }))).toContain("5");
        const failed = await client.callTool({ name: "fail", arguments: {} });
        expect(failed.isError).toBe(true);
        await client.close();
      }
      const v1 = new V1Client({ name: "v1", version: "1" });
      await v1.connect(new V1Transport(new URL(issued.instanceUrl)));
      expect((await v1.listTools()).tools).toHaveLength(3);
      await v1.close();
      // The platform never forwards the client's own instance token upstream.
      const token = issued.instanceUrl.split("/")[3] ?? "";
      expect(JSON.stringify(remote.requests)).not.toContain(token);
    });
  }

  test("what the server says besides its answers (log messages, progress) reaches clients of both eras redacted", async () => {
    const user = await newUser(stack);
    const marker = `marker-${crypto.randomUUID()}`;
    const { instanceUrl } = data<Issued>(
      await connectCustom(stack, user, {
        name: "chatty",
        url: streamable.url,
        headers: { authorization: SECRET, "x-user-marker": marker },
      }),
    );
    const secrets = [SECRET, SECRET.slice("Bearer ".length), marker];
    for (const mode of [{ pin: "2026-07-28" }, "legacy"] as const) {
      const client = await v2(instanceUrl, mode);
      const logged: unknown[] = [];
      client.setNotificationHandler("notifications/message", (n) => void logged.push(n.params));
      const progress: string[] = [];
      const answer = await client.callTool(
        { name: "chatty", arguments: {} },
        { onprogress: (p) => void progress.push(p.message ?? "") },
      );
      expect(text(answer)).toBe("chatted");
      // The progress message came through, with the user's header values taken out.
      expect([JSON.stringify(mode), progress]).toEqual([
        JSON.stringify(mode),
        ["sent [redacted] [redacted]"],
      ]);
      // A 2025-era session hears the server's log message (at every level unless it set one), redacted too.
      if (mode === "legacy") {
        expect(logged).toEqual([
          { level: "error", logger: "lg [redacted] [redacted]", data: { request: "[redacted] [redacted]" } },
        ]);
      }
      const heard = JSON.stringify([logged, progress]);
      for (const secret of secrets) expect(heard).not.toContain(secret);
      await client.close();
    }
  });

  test("a custom server's tool names never become metric labels", async () => {
    const user = await newUser(stack);
    const issued = data<Issued>(
      await connectCustom(stack, user, {
        name: "m",
        url: streamable.url,
        headers: { authorization: SECRET },
      }),
    );
    const client = await v2(issued.instanceUrl, { pin: "2026-07-28" });
    const odd = `made_up_${crypto.randomUUID().slice(0, 8)}`;
    await client.callTool({ name: odd, arguments: {} }).catch(() => undefined);
    await client.callTool({ name: "echo", arguments: { text: "x" } });
    await client.close();
    const metrics = await metricsText(stack);
    expect(metrics).toContain('mcp_edge_tool_calls_total{service="custom",tool="*"');
    expect(metrics).not.toContain(odd);
    expect(metrics).not.toContain('tool="echo"');
  });

  test("a tool name PostgreSQL cannot store (a NUL, half a surrogate pair) costs nobody their audit trail", async () => {
    const [mallory, alice] = await Promise.all([newUser(stack), newUser(stack)]);
    const connect = (user: TestUser) =>
      connectCustom(stack, user, { name: "a", url: streamable.url, headers: { authorization: SECRET } });
    const [m, a] = [data<Issued>(await connect(mallory)), data<Issued>(await connect(alice))];
    const [mc, ac] = await Promise.all([
      v2(m.instanceUrl, "legacy"),
      v2(a.instanceUrl, { pin: "2026-07-28" }),
    ]);
    // The relayed call's tool name is the client's, passed on to the remote (which does not know it). A
    // 2026-07-28 request naming it is refused before it is relayed (its Mcp-Name header cannot carry the name
    // unchanged), so this client negotiates the 2025 era.
    await mc.callTool({ name: "x\u0000y\uD800", arguments: {} }).catch(() => undefined);
    await ac.callTool({ name: "echo", arguments: { text: "x" } });
    await Promise.all([mc.close(), ac.close()]);
    // Both events wait in the same batch of the edge's audit writer (unless its 1 s timer fell between them).
    await stack.edge.deps.audit.flush();
    type Item = { action: string; tool: string | null };
    const calls = async (user: TestUser) =>
      data<{ items: Item[] }>(
        await trpc(stack, "audit.list", { filters: { action: "tool.call" } }, { cookie: user.cookie }),
      ).items.map((e) => e.tool);
    expect(await calls(alice)).toEqual(["echo"]);
    expect(await calls(mallory)).toEqual(["x\uFFFDy\uFFFD"]);
  });

  test("headers are sealed: not in the database, not in any answer", async () => {
    const user = await newUser(stack);
    const res = await connectCustom(stack, user, {
      name: "sealed",
      url: streamable.url,
      headers: { authorization: SECRET },
    });
    expect(res.status).toBe(200);
    const rows = await stack.platform.deps.db.select().from(credentials);
    expect(JSON.stringify(rows)).not.toContain(SECRET);
    expect(JSON.stringify(rows)).not.toContain(streamable.url); // the URL may hold a token of its own
    const listed = await trpc(stack, "instances.list", undefined, { cookie: user.cookie });
    expect(JSON.stringify(listed.body)).not.toContain(SECRET);
    expect(data<{ serviceType: string }[]>(listed).map((i) => i.serviceType)).toEqual(["custom"]);
  });

  test("rotate and revoke work as for any service", async () => {
    const user = await newUser(stack);
    const first = data<Issued>(
      await connectCustom(stack, user, {
        name: "rot",
        url: streamable.url,
        headers: { authorization: SECRET },
      }),
    );
    const rotated = await trpc(stack, "instances.rotate", { serviceType: "custom" }, { cookie: user.cookie });
    const second = data<Issued>(rotated);
    expect(second.instanceUrl).toMatch(/\/mcp_cus_/);
    await expectInstanceDead(stack, first.instanceUrl);
    const client = await v2(second.instanceUrl, "auto");
    expect((await client.listTools()).tools.length).toBe(3);
    await client.close();
    await trpc(stack, "instances.revoke", { serviceType: "custom" }, { cookie: user.cookie });
    await expectInstanceDead(stack, second.instanceUrl);
  });

  test("the remote's JSON-RPC errors are relayed as such, without breaking a concurrent call", async () => {
    let release = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const slowServer = await startRemoteMcp({
      kind: "streamable",
      tools: [
        {
          name: "slow",
          inputSchema: { type: "object", properties: {} },
          run: async () => {
            await gate;
            return { content: [{ type: "text", text: "done" }] };
          },
        },
      ],
    });
    const user = await newUser(stack);
    const issued = data<Issued>(await connectCustom(stack, user, { name: "slow", url: slowServer.url }));
    const client = await v2(issued.instanceUrl, { pin: "2026-07-28" });
    const slow = client.callTool({ name: "slow", arguments: {} });
    await Bun.sleep(50);
    const unknown = await client.callTool({ name: "no_such_tool", arguments: {} }).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(Error);
    expect((unknown as { code?: number }).code).toBe(-32602);
    expect(String((unknown as Error).message)).toContain("no_such_tool");
    release();
    expect(text(await slow)).toBe("done");
    await client.close();
    await slowServer.stop();
  });

  test("results are relayed, not re-validated against the remote's own output schema", async () => {
    const odd = await startRemoteMcp({
      kind: "streamable",
      tools: [
        {
          name: "shaped",
          inputSchema: { type: "object", properties: {} },
          outputSchema: { type: "object", properties: { n: { type: "string", pattern: "^(a|a)+$" } } },
          run: () => ({
            content: [{ type: "text", text: "{}" }],
            structuredContent: { n: "aaaaaaaaaaaaaaaaaaaaaaaaaaaa!" },
            _meta: {
              "com.example/trace": "t-1",
              "io.modelcontextprotocol/serverInfo": { name: "odd", version: "9" },
            },
          }),
        },
      ],
    });
    const user = await newUser(stack);
    const issued = data<Issued>(await connectCustom(stack, user, { name: "odd", url: odd.url }));
    // Raw HTTP (an SDK client would validate on its side too). tools/list first, so the edge's pooled
    // client holds the remote's output schema, as it would in real use.
    const post = (id: number, method: string, params: object) =>
      fetch(issued.instanceUrl, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          "mcp-protocol-version": "2025-11-25",
        },
        body: JSON.stringify({ jsonrpc: "2.0", id, method, params }),
      });
    expect(await (await post(6, "tools/list", {})).text()).toContain("shaped");
    const res = await post(7, "tools/call", { name: "shaped", arguments: {} });
    const body = await res.text();
    expect(body).toContain("aaaaaaaaaaaaaaaaaaaaaaaaaaaa!");
    expect(body).not.toContain("unavailable");
    // The result's own _meta comes through; the protocol's reserved keys are the edge's to set.
    expect(body).toContain('"com.example/trace":"t-1"');
    expect(body).not.toContain('"name":"odd"');
    await odd.stop();
  });

  test("a server that goes away answers with tool errors, not a broken endpoint", async () => {
    const user = await newUser(stack);
    const gone = await startRemoteMcp({ kind: "streamable" });
    const issued = data<Issued>(await connectCustom(stack, user, { name: "gone", url: gone.url }));
    const client = await v2(issued.instanceUrl, { pin: "2026-07-28" });
    expect((await client.callTool({ name: "add", arguments: { a: 1, b: 1 } })).isError).toBeFalsy();
    await gone.stop();
    const result = await client.callTool({ name: "add", arguments: { a: 1, b: 1 } });
    expect(result.isError).toBe(true);
    expect(text(result)).toContain("unavailable");
    await expect(client.listTools()).rejects.toThrow();
    await client.close();
  });
});

test("a server that holds every call: 32 requests of one instance in flight to it, 64 waiting, the next a tool error at once; other instances are unaffected", async () => {
  let release = () => {};
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  let started = 0;
  const slow = await startRemoteMcp({
    kind: "streamable",
    tools: [
      {
        name: "hold",
        inputSchema: { type: "object", properties: {} },
        run: async () => {
          started++;
          await held;
          return { content: [{ type: "text", text: "released" }] };
        },
      },
    ],
  });
  try {
    const user = await newUser(stack);
    const issued = data<Issued>(await connectCustom(stack, user, { name: "slow", url: slow.url }));
    const client = await v2(issued.instanceUrl, "auto");
    const hold = () => client.callTool({ name: "hold", arguments: {} }, { timeout: 60_000 });
    const calls = Array.from({ length: 32 }, hold);
    for (let i = 0; started < 32 && i < 200; i++) await Bun.sleep(25);
    expect(started).toBe(32);
    // 64 more wait for a slot (none reaches the server yet); the one after them is refused at once.
    const waiting = Array.from({ length: 64 }, hold);
    await Bun.sleep(200);
    const refused = await client.callTool({ name: "echo", arguments: { text: "hi" } });
    expect(refused.isError).toBe(true);
    expect(text(refused)).toContain("32 requests in flight to it and 64 waiting");
    expect(refused._meta).toMatchObject({ code: "SERVICE_UNAVAILABLE" });
    expect(started).toBe(32); // nothing more reached the server

    // Another user's instance of the same server is not held up.
    const other = await newUser(stack);
    const theirs = data<Issued>(await connectCustom(stack, other, { name: "slow", url: slow.url }));
    const otherClient = await v2(theirs.instanceUrl, "auto");
    expect(text(await otherClient.callTool({ name: "echo", arguments: { text: "hi" } }))).toBe("hi");
    await otherClient.close();

    release();
    for (const result of await Promise.all([...calls, ...waiting])) expect(text(result)).toBe("released");
    expect(started).toBe(96);
    // Room again once they finished.
    expect(text(await client.callTool({ name: "echo", arguments: { text: "again" } }))).toBe("again");
    await client.close();
  } finally {
    release();
    await slow.stop();
  }
}, 60_000);

test("every instance together: the edge's requests in flight to MCP servers are bounded (relayInFlight), half as many wait, a freed slot goes to the instance holding fewest, the next is refused at once", async () => {
  // A process holds one fetch per relayed request: many instances' slow servers must not take them all.
  const releases = new Map<number, () => void>();
  const releaseAll = () => {
    for (const release of releases.values()) release();
  };
  const reached: string[] = [];
  const slow = await startRemoteMcp({
    kind: "streamable",
    tools: [
      {
        name: "hold",
        inputSchema: { type: "object", properties: { n: { type: "number" } } },
        run: async (args) => {
          reached.push(`hold ${String(args.n)}`);
          await new Promise<void>((resolve) => releases.set(Number(args.n), resolve));
          return { content: [{ type: "text", text: `released ${String(args.n)}` }] };
        },
      },
      {
        name: "echo",
        inputSchema: { type: "object", properties: { text: { type: "string" } } },
        run: (args) => {
          reached.push(`echo ${String(args.text)}`);
          return { content: [{ type: "text", text: String(args.text) }] };
        },
      },
    ],
  });
  try {
    const clients = [];
    for (const name of ["a", "b", "c"]) {
      const user = await newUser(bounded);
      const issued = data<Issued>(await connectCustom(bounded, user, { name, url: slow.url }));
      clients.push(await v2(issued.instanceUrl, { pin: "2026-07-28" }));
    }
    const [a, b, c] = clients as [Client, Client, Client];
    const hold = (n: number) => a.callTool({ name: "hold", arguments: { n } }, { timeout: 60_000 });
    reached.length = 0; // connecting probed the server
    const holds = [0, 1, 2, 3].map(hold);
    for (let i = 0; releases.size < 4 && i < 200; i++) await Bun.sleep(25);
    expect(reached.sort()).toEqual(["hold 0", "hold 1", "hold 2", "hold 3"]);

    // The edge's four slots are taken by one instance (under its own limit of 32): its fifth request waits in
    // one of the two places to wait, and its sixth is refused (half of them is its share).
    const fifth = hold(4);
    await Bun.sleep(300); // each request reaches its place
    const share = await a.callTool({ name: "echo", arguments: { text: "a" } });
    expect(share.isError).toBe(true);
    expect(text(share)).toContain("this instance already fills its half of this edge's 2 places to wait");
    // Another instance takes the other place; a third is refused at once, as a tool error.
    const waiting = b.callTool({ name: "echo", arguments: { text: "b" } }, { timeout: 60_000 });
    await Bun.sleep(300);
    const refused = await c.callTool({ name: "echo", arguments: { text: "c" } });
    expect(refused.isError).toBe(true);
    expect(text(refused)).toContain(
      "this edge already has 4 requests in flight to MCP servers and 2 waiting",
    );
    expect(refused._meta).toMatchObject({ code: "SERVICE_UNAVAILABLE" });
    expect(reached).toHaveLength(4); // none of them reached the server

    // One slot comes free: it goes to b, which holds none, although a's fifth has waited longer.
    // (b's own slot, once it is answered, may then go to a's fifth at once: the order they reached the server
    // in is what says who got the freed one.)
    releases.get(0)?.();
    expect(text(await waiting)).toBe("b");
    expect(reached[4]).toBe("echo b");
    releases.get(1)?.();
    for (let i = 0; !releases.has(4) && i < 200; i++) await Bun.sleep(25);
    expect(reached.slice(4)).toEqual(["echo b", "hold 4"]);
    releaseAll();
    expect((await Promise.all([...holds, fifth])).map(text)).toEqual(
      [0, 1, 2, 3, 4].map((n) => `released ${n}`),
    );
    // Room again: every slot was given back.
    const again = await Promise.all(
      ["c1", "c2", "c3", "c4"].map((t) => c.callTool({ name: "echo", arguments: { text: t } })),
    );
    expect(again.map(text)).toEqual(["c1", "c2", "c3", "c4"]);
    await Promise.all(clients.map((client) => client.close()));
  } finally {
    releaseAll();
    await slow.stop();
  }
}, 60_000);

test("40 resources/read at once on a slow server's cold connection: each takes one of the instance's slots, all are answered by the server", async () => {
  // A legacy (SSE) server 300 ms away per HTTP request: opening the pooled connection takes seconds, so
  // every read is inside its slot before the connection is up (a read that took a second slot there
  // deadlocked the gate until the 10 s wait ran out).
  const target = new URL(sse.url);
  const slowProxy = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      await Bun.sleep(300);
      const url = new URL(req.url);
      url.host = target.host;
      const headers = new Headers(req.headers);
      headers.delete("host");
      return fetch(url, { method: req.method, headers, body: req.body, duplex: "half" } as RequestInit);
    },
  });
  try {
    const user = await newUser(stack);
    const marker = `slow-${crypto.randomUUID()}`;
    const issued = data<Issued>(
      await connectCustom(stack, user, {
        name: "slow",
        url: `http://127.0.0.1:${slowProxy.port}${target.pathname}`,
        headers: { authorization: SECRET, "x-user-marker": marker },
      }),
    );
    const client = await v2(issued.instanceUrl, "legacy");
    const reads = await Promise.allSettled(
      Array.from({ length: 40 }, () => client.readResource({ uri: "memo://notes" }, { timeout: 30_000 })),
    );
    // This fake has no resources: every read gets the server's own answer, relayed (-32601), none the gate's.
    for (const read of reads) {
      expect(read.status).toBe("rejected");
      const reason = (read as PromiseRejectedResult).reason as { code?: number; message?: string };
      expect({ code: reason.code, message: reason.message }).toEqual({
        code: -32601,
        message: "Method not found",
      });
    }
    await client.close();
  } finally {
    slowProxy.stop(true);
  }
}, 60_000);

describe("connectCustom: bad input (exact status and code, nothing stored)", () => {
  async function expectRefused(s: Stack, input: Record<string, unknown>, status: number, appCode: string) {
    const user = await newUser(s);
    const res = await connectCustom(s, user, input);
    expect(res.status).toBe(status);
    expect(res.body.error?.data.appCode).toBe(appCode);
    expect(JSON.stringify(res.body)).not.toContain(SECRET);
    const listed = await trpc(s, "instances.list", undefined, { cookie: user.cookie });
    expect(data<unknown[]>(listed)).toEqual([]);
  }

  test("wrong headers: the server's 401 → 400 INVALID_API_KEY", async () => {
    await expectRefused(
      stack,
      { name: "x", url: streamable.url, headers: { authorization: "Bearer wrong" } },
      400,
      "INVALID_API_KEY",
    );
    await expectRefused(stack, { name: "x", url: sse.url }, 400, "INVALID_API_KEY");
  });

  test("nothing listening there → 503 SERVICE_UNAVAILABLE", async () => {
    await expectRefused(stack, { name: "x", url: "http://127.0.0.1:1/mcp" }, 503, "SERVICE_UNAVAILABLE");
  });

  test("SSRF: loopback, private and metadata addresses are refused by default → 400 BAD_REQUEST", async () => {
    const seen = streamable.requests.length;
    for (const url of [
      streamable.url,
      "http://localhost:8080/mcp",
      "http://10.0.0.5/mcp",
      "http://169.254.169.254/latest/meta-data",
      "http://[::1]/mcp",
      "http://2130706433/mcp",
    ]) {
      await expectRefused(strict, { name: "x", url, headers: { authorization: SECRET } }, 400, "BAD_REQUEST");
    }
    expect(streamable.requests.length).toBe(seen); // refused before any request left the platform
  });

  test("malformed input → 400 BAD_REQUEST", async () => {
    const bad: Record<string, unknown>[] = [
      { name: "", url: streamable.url },
      { name: "x".repeat(65), url: streamable.url },
      { name: "x", url: "ftp://example.com/mcp" },
      { name: "x", url: "not a url" },
      { name: "x", url: `https://example.com/${"a".repeat(2100)}` },
      { name: "x", url: "https://user:pass@example.com/mcp" },
      { name: "x", url: streamable.url, headers: { host: "evil" } },
      { name: "x", url: streamable.url, headers: { "mcp-session-id": "s" } },
      // What re-routes a request, or poses as another client, to a reverse proxy in front of the server.
      ...[
        "X-Forwarded-Host",
        "Forwarded",
        "X-Forwarded-For",
        "X-Forwarded-Proto",
        "X-Real-IP",
        "Via",
        "X-Original-URL",
        "X-Rewrite-URL",
        "X-HTTP-Method-Override",
        "Expect",
        "Proxy-Connection",
        "Content-Encoding",
        "Mcp-Param-Region",
      ].map((name) => ({ name: "x", url: streamable.url, headers: { authorization: SECRET, [name]: "v" } })),
      { name: "x", url: streamable.url, headers: { "bad header": "v" } },
      { name: "x", url: streamable.url, headers: { "x-a": "line\r\nInjected: yes" } },
      {
        name: "x",
        url: streamable.url,
        headers: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`x-h${i}`, "v"])),
      },
      { name: "x", url: streamable.url, headers: { "x-a": 5 } },
      { name: "x", url: streamable.url, headers: { "x-a": "café" } },
      { name: "x", url: streamable.url, headers: { "x-a": "\u0001" } },
    ];
    for (const input of bad) await expectRefused(stack, input, 400, "BAD_REQUEST");
  });

  test("a relay loop through this platform: its own instance URLs are refused → 400 BAD_REQUEST, the edge answers a relayed request 508", async () => {
    // Another user's Figma instance URL, then (the report's loop) a custom instance re-pointed at its own URL.
    const other = await newUser(stack);
    const figma = await connectFigma(stack, other, figmaKeyFor(stack, "loop-other"));
    await expectRefused(stack, { name: "x", url: figma.instanceUrl }, 400, "BAD_REQUEST");
    const user = await newUser(stack);
    const first = await connectCustom(stack, user, {
      name: "mine",
      url: streamable.url,
      headers: { authorization: SECRET },
    });
    const issued = data<Issued>(first);
    const again = await connectCustom(stack, user, { name: "loop", url: issued.instanceUrl });
    expect(again.status).toBe(400);
    expect(again.body.error?.data.appCode).toBe("BAD_REQUEST");
    expect(again.body.error?.message).toContain("this platform");
    // Nothing changed: the instance still relays to the server it had.
    const client = await v2(issued.instanceUrl, "auto");
    expect((await client.listTools()).tools.length).toBeGreaterThan(0);
    await client.close();

    // The edge's own refusal, before any lookup; any other Via passes.
    const rpc = { jsonrpc: "2.0", id: 1, method: "tools/list", params: {} };
    const post = (via: string) =>
      fetch(figma.instanceUrl, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          "mcp-protocol-version": "2025-06-18",
          via,
        },
        body: JSON.stringify(rpc),
      });
    const looped = await post("1.1 proxy.example, 1.1 mcp-platform-relay");
    expect(looped.status).toBe(508);
    expect(await looped.json()).toMatchObject({ error: { data: { code: "RELAY_LOOP" } } });
    const proxied = await post("1.1 proxy.example");
    expect(proxied.status).not.toBe(508);
    expect(proxied.status).toBeLessThan(500);
  });

  test("a configuration stored with a header refused today sends it no more; the user's own headers go", async () => {
    const conn = await connectRemoteMcp(
      {
        name: "x",
        url: streamable.url,
        headers: {
          authorization: SECRET,
          "x-user-marker": "kept",
          "user-agent": "their-agent",
          "X-Forwarded-Host": "internal.example",
          "x-real-ip": "10.0.0.1",
        },
      },
      { allowPrivate: true, timeoutMs: 5000 },
    );
    if (!conn.ok) throw new Error(conn.message);
    const seen = streamable.requests.length;
    await conn.client.listTools();
    await conn.client.close();
    const sent = streamable.requests.slice(seen);
    expect(sent.length).toBeGreaterThan(0);
    for (const { headers } of sent) {
      expect(headers).toMatchObject({
        authorization: SECRET,
        "x-user-marker": "kept",
        "user-agent": "their-agent",
      });
      expect(headers["x-forwarded-host"]).toBeUndefined();
      expect(headers["x-real-ip"]).toBeUndefined();
    }
  });

  test("anonymous → 401", async () => {
    const res = await trpc(stack, "instances.connectCustom", { name: "x", url: streamable.url });
    expect(res.status).toBe(401);
  });
});
