// Proxied MCP servers that misbehave, end to end through the edge: a real MCP SDK client (2026-07-28) on the
// instance URL of a stdio definition (test/fakes/faulty-stdio.ts, run by the edge's stdio pool), of a remote
// definition (`github-mcp` pointed at test/fakes/faulty-mcp.ts) and of `instances.connectCustom`. Each case
// checks the exact answer (tool error text, JSON-RPC error, HTTP status and code), that no secret came back or
// reached a log, and that nothing was left behind: every process the stdio server ran as is gone (zombies
// count), every HTTP request to the remote server is finished, every socket to a black hole is closed.
// The stdio pool's own fault tests are packages/services/src/stdio/pool.faults.test.ts; these are the edge's.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import dns from "node:dns";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadRegistry } from "@mcp/services";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { data, newUser, trpc } from "./client.ts";
import { type BlackHole, type FaultyMcp, startBlackHole, startFaultyMcp } from "./fakes/faulty-mcp.ts";
import { type Stack, startStack } from "./harness.ts";
import { connect } from "./services/kit.ts";
import { waitFor } from "./wait.ts";

/** The `open` edge's upstream timeout: small, so a hung call ends fast. */
const UPSTREAM_TIMEOUT_MS = 1500;
const FAULTY_STDIO = join(import.meta.dir, "fakes", "faulty-stdio.ts");
const STDIO_NAME = "Faulty stdio server";
const REMOTE_NAME = "GitHub MCP server";
const CUSTOM_LABEL = "Your MCP server";
/** Progress notifications relayed to one call, at most (MAX_RELAYED_PROGRESS, apps/edge/src/mcp/custom.ts). */
const MAX_RELAYED_PROGRESS = 1000;
/** Log messages relayed to one call, at most (MAX_RELAYED_NOTIFICATIONS, apps/edge/src/mcp/relay-calls.ts). */
const MAX_RELAYED_LOGS = 1000;

/** A name the SSRF cases resolve to a public address that is really the fake (see `publicRoute`). */
const PUBLIC_HOST = "redirector.faults.test";
const PUBLIC_IP = "198.51.99.7";

let work: string;
/** The stdio fake's control folder: `<key>.mode` in, `<key>.pids` and `<key>.events` out. */
let control: string;
let remote: FaultyMcp;
/** Private upstreams allowed (the fake listens on 127.0.0.1), a small upstream timeout. */
let open: Stack;
/** The default deployment: private upstreams refused, the default upstream timeout (15 s). */
let strict: Stack;
let stopped = false;

function stdioDefinition(stdio: unknown) {
  return {
    version: 1,
    kind: "mcp",
    type: "faulty-stdio",
    name: STDIO_NAME,
    prefix: "fst",
    port: 3197,
    description: "A stdio MCP server that misbehaves on purpose.",
    docsUrl: "https://example.com/docs",
    keyUrl: "https://example.com/keys",
    transport: "stdio",
    stdio,
  };
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "proxied-faults-"));
  control = join(work, "control");
  mkdirSync(control);
  const definitions = join(work, "definitions");
  mkdirSync(join(definitions, "faulty-stdio"), { recursive: true });
  const stdio = { command: "bun", args: [FAULTY_STDIO, control], env: { KEY: "{apiKey}" } };
  writeFileSync(join(definitions, "faulty-stdio", "config.json"), JSON.stringify(stdioDefinition(stdio)));
  remote = await startFaultyMcp();
  publicRoute.install();
  [open, strict] = await Promise.all([
    startStack({
      allowPrivateUpstreams: true,
      limits: { upstreamTimeoutMs: UPSTREAM_TIMEOUT_MS },
      definitionDirs: [definitions],
      serviceEnv: {
        ENABLED_SERVICES: "figma,github-mcp,faulty-stdio",
        SERVICE_GITHUB_MCP_BASE_URL: remote.url,
      },
    }),
    startStack({
      definitionDirs: [definitions],
      serviceEnv: {
        ENABLED_SERVICES: "figma,github-mcp,faulty-stdio",
        SERVICE_GITHUB_MCP_BASE_URL: `http://${PUBLIC_HOST}:${remote.port}/mcp`,
      },
    }),
  ]);
});

afterAll(async () => {
  if (!stopped) await Promise.all([open?.stop(), strict?.stop()]);
  publicRoute.uninstall();
  await remote?.stop();
  rmSync(work, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------------
// Helpers

/** Polls until `check` holds (bounded); returns whether it did. */
/** True while a process with this pid exists (a zombie counts: it would be a leak too). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const lines = (file: string): string[] => {
  try {
    return readFileSync(file, "utf8").split("\n").filter(Boolean);
  } catch {
    return [];
  }
};
/** Every pid the stdio fake ran as for `key` (the connect's check first), or for every key. */
function pidsOf(key?: string): number[] {
  const files = key ? [`${key}.pids`] : [...new Bun.Glob("*.pids").scanSync({ cwd: control })];
  return files.flatMap((f) => lines(join(control, f)).map(Number));
}
const stdioEvents = (key: string) => lines(join(control, `${key}.events`));
/** The JSON-RPC id of the stdio fake's hung call, once it has seen it. */
const hungId = (key: string) =>
  stdioEvents(key)
    .find((e) => e.startsWith("call hang "))
    ?.slice("call hang ".length);

/** A real MCP SDK client pinned to 2026-07-28 (stateless: one HTTP request per call). */
async function modernClient(instanceUrl: string): Promise<Client> {
  const client = new Client(
    { name: "faults-test", version: "1.0.0" },
    { versionNegotiation: { mode: { pin: "2026-07-28" } } },
  );
  await client.connect(new StreamableHTTPClientTransport(new URL(instanceUrl)));
  return client;
}

interface ToolAnswer {
  isError: boolean;
  text: string;
}
async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<ToolAnswer> {
  const result = await client.callTool({ name, arguments: args });
  const content = (result.content ?? []) as { text?: string }[];
  return { isError: result.isError === true, text: content.map((c) => c.text ?? "").join("") };
}

/** The JSON-RPC error a request ends with. */
async function rpcError(pending: Promise<unknown>): Promise<{ code: number; message: string }> {
  const error = await pending.then(
    () => {
      throw new Error("the request succeeded");
    },
    (e: unknown) => e as { code: number; message: string },
  );
  return { code: error.code, message: error.message };
}

const unavailable = (label: string, detail: string): ToolAnswer => ({
  isError: true,
  text: `${label} is unavailable right now (${detail}). Try again shortly.`,
});
const OK: ToolAnswer = { isError: false, text: "ok" };

/** Nothing the stack logged holds the secret. */
function expectNotLogged(stack: Stack, secret: string): void {
  for (const line of stack.logs) expect(line).not.toContain(secret);
}

/** A user with an instance of the stdio definition, connected while the fake still starts normally. */
async function stdioInstance(startMode?: "exit" | "garbage" | "silent", stack: Stack = open) {
  const key = `fault-${crypto.randomUUID()}`;
  const { instanceUrl } = await connect(stack, await newUser(stack), "faulty-stdio", key);
  // From here on the server starts the way the test asks (the connect's own check ran in `serve`).
  if (startMode) writeFileSync(join(control, `${key}.mode`), startMode);
  return { key, instanceUrl, client: await modernClient(instanceUrl) };
}

type RemoteKind = "github-mcp" | "custom";

/** A user with an instance relaying to the faulty remote fake; `auth` is what the fake knows them by. */
async function remoteInstance(kind: RemoteKind, stack: Stack = open, customUrl = remote.url) {
  const key = `ghm_${crypto.randomUUID().replaceAll("-", "")}`;
  const auth = `Bearer ${key}`;
  const user = await newUser(stack);
  let instanceUrl: string;
  if (kind === "github-mcp") {
    ({ instanceUrl } = await connect(stack, user, "github-mcp", key));
  } else {
    const res = await trpc(
      stack,
      "instances.connectCustom",
      { name: "faulty", url: customUrl, headers: { authorization: auth } },
      { cookie: user.cookie },
    );
    ({ instanceUrl } = data<{ instanceUrl: string }>(res));
  }
  const label = kind === "github-mcp" ? REMOTE_NAME : CUSTOM_LABEL;
  return { key, auth, label, instanceUrl, client: await modernClient(instanceUrl) };
}

/** A raw 2026-07-28 `tools/call` POST that the caller can abort: a client going away mid-call. */
function abortableCall(instanceUrl: string, name: string) {
  const controller = new AbortController();
  const pending = fetch(instanceUrl, {
    method: "POST",
    signal: controller.signal,
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": "2026-07-28",
      "mcp-method": "tools/call",
      "mcp-name": name,
    },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: {
        name,
        arguments: {},
        _meta: {
          "io.modelcontextprotocol/protocolVersion": "2026-07-28",
          "io.modelcontextprotocol/clientCapabilities": {},
        },
      },
    }),
  }).then(
    (res) => res.text(),
    (error: unknown) => error,
  );
  return { abort: () => controller.abort(), pending };
}

/**
 * For the SSRF cases (and anything on `strict` that must reach the fake): `PUBLIC_HOST` resolves to
 * `PUBLIC_IP`, a public address, so the SSRF rules let it through; a request to `PUBLIC_IP` is delivered to
 * the fake on 127.0.0.1 instead. Every other name and address is untouched; every URL fetched while this is
 * installed is recorded (a redirect's target must never show up). `pointAt` re-points the name, as a DNS
 * rebinding attacker would.
 */
const publicRoute = (() => {
  const realLookup = dns.promises.lookup;
  const realFetch = globalThis.fetch;
  let address = PUBLIC_IP;
  const fetched: string[] = [];
  const lookup = ((host: string, options: dns.LookupAllOptions) =>
    host === PUBLIC_HOST
      ? Promise.resolve([{ address, family: 4 }])
      : realLookup(host, options)) as typeof dns.promises.lookup;
  const routed = ((input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    fetched.push(url.href);
    if (url.hostname !== PUBLIC_IP) return realFetch(input, init);
    url.hostname = "127.0.0.1";
    return input instanceof Request ? realFetch(new Request(url, input), init) : realFetch(url, init);
  }) as typeof fetch;
  return {
    fetched,
    pointAt(ip: string) {
      address = ip;
    },
    install() {
      dns.promises.lookup = lookup;
      globalThis.fetch = Object.assign(routed, { preconnect: realFetch.preconnect });
    },
    uninstall() {
      dns.promises.lookup = realLookup;
      globalThis.fetch = realFetch;
    },
  };
})();
const publicUrl = () => `http://${PUBLIC_HOST}:${remote.port}/mcp`;

// ---------------------------------------------------------------------------------------------------
// stdio

describe("a stdio server that fails", () => {
  test("exits at once: a tool error with the exit code, three starts then a cool-down, no process left, the key nowhere", async () => {
    const { key, client } = await stdioInstance("exit");
    const exited = unavailable(STDIO_NAME, "The server exited during start-up (code 3)");
    expect(await call(client, "ok")).toEqual(exited);
    // tools/list has no tool result to carry it: a JSON-RPC internal error naming the server and why.
    expect(await rpcError(client.listTools())).toEqual({
      code: -32603,
      message: `${STDIO_NAME} did not list its tools: The server exited during start-up (code 3)`,
    });
    expect(await call(client, "ok")).toEqual(exited);
    // Three failures in a row: the credential cools down instead of restarting in a loop.
    expect(await call(client, "ok")).toEqual(
      unavailable(STDIO_NAME, "The server failed 3 times in a row; retry in 60 s"),
    );
    // The connect's check, then three starts, no more; none of them is left (not even as a zombie).
    const pids = pidsOf(key);
    expect(pids).toHaveLength(4);
    expect(await waitFor(() => pids.every((pid) => !alive(pid)))).toBe(true);
    // What it printed on stderr was logged, with the key redacted.
    expect(open.logs.some((line) => line.includes("giving up with key [redacted]"))).toBe(true);
    expectNotLogged(open, key);
    await client.close();
  });

  // A server that fails at start-up: killed (both the connect's check and the call's start), a tool error
  // saying why, and nothing of what it printed (the key in it included) relayed.
  test.each<["garbage" | "silent", string, string]>([
    [
      "garbage",
      "prints garbage on stdout at start-up",
      "The server printed 21 lines on stdout that are not JSON-RPC",
    ],
    ["silent", "never answers initialize", "The server did not answer initialize in time"],
  ])("%s: %s — killed, a tool error saying so", async (mode, _what, message) => {
    const { key, client } = await stdioInstance(mode);
    expect(await call(client, "ok")).toEqual(unavailable(STDIO_NAME, message));
    const pids = pidsOf(key);
    expect(pids).toHaveLength(2);
    expect(await waitFor(() => pids.every((pid) => !alive(pid)))).toBe(true);
    expectNotLogged(open, key);
    await client.close();
  });

  test("prints garbage on stdout mid-call: that call fails, the process is killed, a fresh one serves the next", async () => {
    const { key, client } = await stdioInstance();
    expect(await call(client, "ok")).toEqual(OK);
    const [, first] = pidsOf(key);
    expect(await call(client, "garbage")).toEqual(unavailable(STDIO_NAME, "it did not answer the call"));
    expect(await waitFor(() => !alive(first ?? 0))).toBe(true);
    expect(await call(client, "ok")).toEqual(OK);
    const pids = pidsOf(key);
    expect(pids).toHaveLength(3); // the check, the killed one, its replacement
    expect(alive(pids[2] ?? 0)).toBe(true);
    expectNotLogged(open, key);
    await client.close();
  });

  test("hangs mid-call: a tool error after the upstream timeout, the call cancelled upstream, the same process serves on", async () => {
    const { key, client } = await stdioInstance();
    expect(await call(client, "hang")).toEqual(unavailable(STDIO_NAME, "it did not answer the call"));
    // The server is told: a notifications/cancelled for the very request that hung.
    const id = hungId(key);
    expect(id).toBeDefined();
    expect(await waitFor(() => stdioEvents(key).includes(`cancelled ${id}`))).toBe(true);
    // Still one process for the credential (the one that hung), and it serves the next call.
    expect(await call(client, "ok")).toEqual(OK);
    const pids = pidsOf(key);
    expect(pids).toHaveLength(2);
    expect(alive(pids[1] ?? 0)).toBe(true);
    expectNotLogged(open, key);
    await client.close();
  });

  // On `strict` (the default 15 s upstream timeout): the other user's call is answered while the flood is
  // relayed, which on a loaded machine took longer than the `open` edge's 1.5 s (its call then timed out).
  test("floods notifications (5000 progress, 5000 log): the caller gets at most the relay's caps; the edge keeps answering", async () => {
    const { key, client } = await stdioInstance(undefined, strict);
    const other = await stdioInstance(undefined, strict);
    let progress = 0;
    let logs = 0;
    client.setNotificationHandler("notifications/message", () => {
      logs++;
    });
    const flooded = client.callTool(
      { name: "flood", arguments: { count: 5000 } },
      { onprogress: () => void progress++ },
    );
    // Meanwhile another user's call is answered.
    expect(await call(other.client, "ok")).toEqual(OK);
    expect((await flooded).content).toEqual([{ type: "text", text: "flooded 5000" }]);
    expect(progress).toBeGreaterThan(0);
    expect(progress).toBeLessThanOrEqual(MAX_RELAYED_PROGRESS);
    expect(logs).toBeLessThanOrEqual(MAX_RELAYED_LOGS);
    expectNotLogged(strict, key);
    await client.close();
    await other.client.close();
  });
});

// ---------------------------------------------------------------------------------------------------
// remote

describe.each<RemoteKind>(["github-mcp", "custom"])("a remote server (%s) that fails", (kind) => {
  test("hangs mid-call: a tool error after the upstream timeout, the upstream request aborted, the connection reused", async () => {
    const { auth, key, label, client } = await remoteInstance(kind);
    expect(await call(client, "ok")).toEqual(OK);
    expect(await call(client, "hang")).toEqual(unavailable(label, "it did not answer the call"));
    expect(await waitFor(() => remote.eventsOf(auth).includes("aborted hang"))).toBe(true);
    expect(await waitFor(() => remote.pending() === 0)).toBe(true);
    expect(await call(client, "ok")).toEqual(OK);
    expectNotLogged(open, key);
    await client.close();
  });

  test("accepts the connection and never answers: a tool error after the upstream timeout, no request left open", async () => {
    const { auth, key, label, client } = await remoteInstance(kind);
    remote.setMode(auth, { kind: "hang" });
    expect(await call(client, "ok")).toEqual(
      // The connection opens without a round trip (the server's era is remembered from earlier
      // connections to it), so it is the call that goes unanswered.
      unavailable(label, "it did not answer the call"),
    );
    // One POST, abandoned (a silent server is never retried over the legacy transport either).
    expect(await waitFor(() => remote.eventsOf(auth).length === 2)).toBe(true);
    expect(remote.eventsOf(auth).sort()).toEqual(["gone POST", "hang POST"]);
    expect(await waitFor(() => remote.pending() === 0)).toBe(true);
    expectNotLogged(open, key);
    await client.close();
  });

  // On `strict`, as for the stdio server's flood above.
  test("floods notifications (5000 progress, 5000 log): the caller gets at most the relay's caps; the edge keeps answering", async () => {
    const { key, client } = await remoteInstance(kind, strict, publicUrl());
    const other = await remoteInstance(kind, strict, publicUrl());
    let progress = 0;
    let logs = 0;
    client.setNotificationHandler("notifications/message", () => {
      logs++;
    });
    const flooded = client.callTool(
      { name: "flood", arguments: { count: 5000 } },
      { onprogress: () => void progress++ },
    );
    expect(await call(other.client, "ok")).toEqual(OK);
    expect((await flooded).content).toEqual([{ type: "text", text: "flooded 5000" }]);
    expect(progress).toBeGreaterThan(0);
    expect(progress).toBeLessThanOrEqual(MAX_RELAYED_PROGRESS);
    expect(logs).toBeLessThanOrEqual(MAX_RELAYED_LOGS);
    expectNotLogged(strict, key);
    await client.close();
    await other.client.close();
  });

  test("sends a 20 MB response (JSON, or one SSE event): refused with a tool error, not relayed, the edge serves on", async () => {
    const { auth, key, label, client } = await remoteInstance(kind);
    expect(await call(client, "ok")).toEqual(OK);
    for (const tool of ["huge_json", "huge_sse"]) {
      expect(await call(client, tool)).toEqual(unavailable(label, "it did not answer the call"));
      expect(await call(client, "ok")).toEqual(OK);
    }
    // The edge stopped reading: the SSE stream, which only its reader can end, was cancelled.
    expect(await waitFor(() => remote.eventsOf(auth).some((e) => e.startsWith("cancelled huge_sse")))).toBe(
      true,
    );
    expect(await waitFor(() => remote.pending() === 0)).toBe(true);
    expectNotLogged(open, key);
    await client.close();
  });
});

describe("validation against a server that never answers", () => {
  let hole: BlackHole;
  beforeAll(() => {
    hole = startBlackHole();
  });
  afterAll(() => hole.stop());

  test("connectCustom to a server that accepts TCP and never answers: 503 SERVICE_UNAVAILABLE, nothing stored, no socket left", async () => {
    const user = await newUser(open);
    const secret = `Bearer hole-${crypto.randomUUID()}`;
    const res = await trpc(
      open,
      "instances.connectCustom",
      { name: "hole", url: hole.url, headers: { authorization: secret } },
      { cookie: user.cookie },
    );
    expect(res.status).toBe(503);
    expect(res.body.error?.data.appCode).toBe("SERVICE_UNAVAILABLE");
    expect(res.body.error?.message).toBe(
      `The MCP server at ${new URL(hole.url).host} did not answer within 10000 ms`,
    );
    expect(JSON.stringify(res.body)).not.toContain(secret);
    const listed = await trpc(open, "instances.list", undefined, { cookie: user.cookie });
    expect(data<unknown[]>(listed)).toEqual([]);
    expect(hole.accepted()).toBeGreaterThan(0);
    expect(await waitFor(() => hole.open() === 0)).toBe(true);
    expectNotLogged(open, secret);
  });
});

// ---------------------------------------------------------------------------------------------------
// A 2026-07-28 client going away mid-call. On `strict`, whose upstream timeout (15 s) is far beyond the
// wait below: the cancellation the server sees can only come from the client's disconnect.

describe("a 2026-07-28 client that goes away mid-call", () => {
  test("stdio: the server gets notifications/cancelled for the call", async () => {
    const { key, instanceUrl } = await stdioInstance(undefined, strict);
    const { abort, pending } = abortableCall(instanceUrl, "hang");
    expect(await waitFor(() => hungId(key) !== undefined)).toBe(true);
    abort();
    expect(await pending).toBeInstanceOf(Error);
    expect(await waitFor(() => stdioEvents(key).includes(`cancelled ${hungId(key)}`))).toBe(true);
    expectNotLogged(strict, key);
  });

  test.each<RemoteKind>(["github-mcp", "custom"])(
    "remote (%s): the server's request is aborted, nothing left open",
    async (kind) => {
      const { auth, key, instanceUrl } = await remoteInstance(kind, strict, publicUrl());
      const { abort, pending } = abortableCall(instanceUrl, "hang");
      expect(await waitFor(() => remote.eventsOf(auth).includes("call hang"))).toBe(true);
      abort();
      expect(await pending).toBeInstanceOf(Error);
      expect(await waitFor(() => remote.eventsOf(auth).includes("aborted hang"))).toBe(true);
      expect(await waitFor(() => remote.pending() === 0)).toBe(true);
      expectNotLogged(strict, key);
    },
  );
});

describe("a 2025-era client that cancels a call in its session", () => {
  test("stdio: its notifications/cancelled reaches the server for that call", async () => {
    const { key, instanceUrl } = await stdioInstance(undefined, strict);
    const client = new Client({ name: "legacy-canceller", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(instanceUrl)));
    try {
      const controller = new AbortController();
      const pending = client.callTool({ name: "hang", arguments: {} }, { signal: controller.signal }).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(await waitFor(() => hungId(key) !== undefined)).toBe(true);
      controller.abort();
      expect(await pending).toBeInstanceOf(Error);
      expect(await waitFor(() => stdioEvents(key).includes(`cancelled ${hungId(key)}`))).toBe(true);
    } finally {
      await client.close();
    }
    expectNotLogged(strict, key);
  });
});

// ---------------------------------------------------------------------------------------------------
// SSRF: redirects and re-pointed names, with private upstreams refused

describe("SSRF with private upstreams refused", () => {
  /** A private server a redirect points at: it must never be asked anything. */
  let trap: ReturnType<typeof Bun.serve>;
  const trapped: string[] = [];
  beforeAll(() => {
    trap = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(req) {
        trapped.push(req.url);
        return new Response("internal", { status: 200 });
      },
    });
  });
  afterAll(() => trap.stop(true));

  const privateTargets = () => [
    `http://127.0.0.1:${trap.port}/mcp`,
    "http://10.0.0.5/mcp",
    "http://169.254.169.254/latest/meta-data/",
  ];
  /** Requests that reached a redirect's private target. */
  const reachedPrivate = () => [
    ...trapped,
    ...publicRoute.fetched.filter((href) => /^http:\/\/(10\.0\.0\.5|169\.254\.169\.254)[:/]/.test(href)),
  ];
  const redirected = (status: number) =>
    `upstream ${PUBLIC_HOST} answered with a redirect (${status}); redirects are not followed`;

  test("the fake passes as a public server (so what follows is refused for the redirect, not the address)", async () => {
    const { client } = await remoteInstance("custom", strict, publicUrl());
    expect(await call(client, "ok")).toEqual(OK);
    await client.close();
  });

  test("a redirect to a private address at connect (validation): 400 BAD_REQUEST naming the redirect, nothing stored, not followed", async () => {
    for (const status of [302, 307] as const) {
      for (const location of privateTargets()) {
        const auth = `Bearer redirect-${crypto.randomUUID()}`;
        remote.setMode(auth, { kind: "redirect", status, location });
        const user = await newUser(strict);
        const res = await trpc(
          strict,
          "instances.connectCustom",
          { name: "redirector", url: publicUrl(), headers: { authorization: auth } },
          { cookie: user.cookie },
        );
        expect(res.status).toBe(400);
        expect(res.body.error?.data.appCode).toBe("BAD_REQUEST");
        expect(res.body.error?.message).toBe(redirected(status));
        expect(JSON.stringify(res.body)).not.toContain(auth);
        expect(remote.requests.filter((r) => r.who === auth).length).toBeGreaterThan(0);
        expect(reachedPrivate()).toEqual([]);
        const listed = await trpc(strict, "instances.list", undefined, { cookie: user.cookie });
        expect(data<unknown[]>(listed)).toEqual([]);
      }
    }
    // A definition's server that redirects: the key is not accepted (the vendor's server is unusable).
    const key = `ghm_${crypto.randomUUID().replaceAll("-", "")}`;
    remote.setMode(`Bearer ${key}`, { kind: "redirect", status: 307, location: "http://169.254.169.254/" });
    const refused = await trpc(
      strict,
      "instances.connect",
      { serviceType: "github-mcp", apiKey: key },
      { cookie: (await newUser(strict)).cookie },
    );
    expect(refused.status).toBe(503);
    expect(refused.body.error?.data.appCode).toBe("SERVICE_UNAVAILABLE");
    expect(refused.body.error?.message).toBe(`${REMOTE_NAME} is unavailable right now; try again shortly`);
    expect(JSON.stringify(refused.body)).not.toContain(key);
    expect(reachedPrivate()).toEqual([]);
    expectNotLogged(strict, key);
  });

  test.each<RemoteKind>(["custom", "github-mcp"])(
    "a redirect to a private address at call time (%s): a tool error, the redirect not followed",
    async (kind) => {
      const { auth, key, label, client } = await remoteInstance(kind, strict, publicUrl());
      expect(await call(client, "ok")).toEqual(OK);
      for (const location of privateTargets()) {
        remote.setMode(auth, { kind: "redirect", status: 307, location });
        // On the open connection, then on a new one (the failed connection was dropped): the redirect named.
        expect(await call(client, "ok")).toEqual(unavailable(label, redirected(307)));
        expect(await call(client, "ok")).toEqual(unavailable(label, redirected(307)));
        remote.setMode(auth, { kind: "serve" });
        expect(await call(client, "ok")).toEqual(OK);
      }
      expect(reachedPrivate()).toEqual([]);
      expectNotLogged(strict, key);
      await client.close();
    },
  );

  test("a name re-pointed at a private address after connect: refused at call time, the server gets nothing", async () => {
    const { auth, key, label, client } = await remoteInstance("custom", strict, publicUrl());
    expect(await call(client, "ok")).toEqual(OK);
    const seen = remote.requests.filter((r) => r.who === auth).length;
    publicRoute.pointAt("127.0.0.1");
    try {
      // On the open connection (each request is checked again), then on a new one (checked at connect).
      for (let i = 0; i < 2; i++) {
        expect(await call(client, "ok")).toEqual(
          unavailable(
            label,
            `host ${PUBLIC_HOST} is not allowed (private, internal or unresolvable address)`,
          ),
        );
      }
      expect(remote.requests.filter((r) => r.who === auth).length).toBe(seen);
    } finally {
      publicRoute.pointAt(PUBLIC_IP);
    }
    expect(await call(client, "ok")).toEqual(OK);
    expectNotLogged(strict, key);
    await client.close();
  });
});

// ---------------------------------------------------------------------------------------------------
// Definitions

describe("a stdio definition that must not run: registry start-up refuses it, naming the file and the field", () => {
  function load(stdio: unknown): () => unknown {
    const dir = mkdtempSync(join(work, "bad-"));
    mkdirSync(join(dir, "faulty-stdio"));
    writeFileSync(join(dir, "faulty-stdio", "config.json"), JSON.stringify(stdioDefinition(stdio)));
    return () => loadRegistry([dir], {});
  }

  test("a missing or unusable command: stdio.command", () => {
    for (const [stdio, message] of [
      [{ args: ["x"] }, "stdio.command: Invalid input: expected string, received undefined"],
      [{ command: "" }, "stdio.command: Too small"],
      [{ command: "python3" }, 'stdio.command: must be "bun", "node" or "node_modules/.bin/<name>"'],
      [
        { command: "node_modules/.bin/no-such-server" },
        "stdio.command: node_modules/.bin/no-such-server does not exist",
      ],
      [undefined, "stdio: Invalid input: expected object, received undefined"],
    ] as const) {
      const start = load(stdio);
      expect(start).toThrow("faulty-stdio/config.json: ");
      expect(start).toThrow(message);
    }
  });

  test("an env var that would override PATH, the runtime's loading or the platform's secrets: stdio.env.<NAME>", () => {
    for (const name of [
      "PATH",
      "HOME",
      "NODE_OPTIONS",
      "LD_PRELOAD",
      "DATABASE_URL",
      "REDIS_URL",
      "ENCRYPTION_KEYS",
      "METRICS_TOKEN",
      "SESSION_SECRET",
    ]) {
      const start = load({ command: "bun", args: [FAULTY_STDIO], env: { [name]: "{apiKey}" } });
      expect(start).toThrow("faulty-stdio/config.json: ");
      expect(start).toThrow(`stdio.env.${name}: ${name}`);
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// Last: nothing outlives the edge.

describe("stopping the edges", () => {
  test("leaves no stdio process (not even a zombie) and no request to the remote server open", async () => {
    stopped = true;
    await Promise.all([open.stop(), strict.stop()]);
    const pids = pidsOf();
    expect(pids.length).toBeGreaterThan(0);
    expect(await waitFor(() => pids.every((pid) => !alive(pid)))).toBe(true);
    expect(await waitFor(() => remote.pending() === 0)).toBe(true);
  });
});
