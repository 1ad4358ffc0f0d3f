// The fast path (apps/edge/src/mcp/fast-path.ts) must answer exactly what the SDK answers, for whatever a client or
// a fuzzer sends, not only for the cases edge.fast-path.test.ts names. Canonical tools/list and tools/call requests
// of both eras are sent with one thing changed (a body field set to each kind of JSON value or removed, an envelope
// or client-info field, a header set to each interesting value, a `__proto__` key, a batch) to an edge with the fast
// path and to one without it on the same platform; status, headers and the JSON-RPC message must be the same (key
// order aside), and none may be a 5xx.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createEdge } from "@mcp/edge";
import { connectFigma, figmaKeyFor, newUser } from "./client.ts";
import { FAKE_FILE_KEY } from "./fakes/figma.ts";
import { type Stack, startStack } from "./harness.ts";

const NO_LIMITS = { perInstancePerMinute: 0, perUserPerMinute: 0 };
let stack: Stack;
let sdkOnly: Awaited<ReturnType<typeof createEdge>>;
let sdkServer: ReturnType<typeof Bun.serve>;
let path: string;

beforeAll(async () => {
  stack = await startStack({ limits: NO_LIMITS });
  sdkOnly = await createEdge(stack.platform.deps, { host: "127.0.0.1", fastPath: false, limits: NO_LIMITS });
  sdkServer = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: sdkOnly.fetch });
  const user = await newUser(stack);
  path = new URL((await connectFigma(stack, user, figmaKeyFor(stack, "mutations"))).instanceUrl).pathname;
});
afterAll(async () => {
  sdkServer?.stop(true);
  await sdkOnly?.close();
  await stack?.stop();
});

type Json = Record<string, unknown>;
interface Case {
  headers: Record<string, string | undefined>;
  body: Json | unknown[];
  /** The body as sent, when it is not `JSON.stringify(body)` (a key JSON.stringify cannot write). */
  raw?: string;
}

const ENVELOPE = {
  "io.modelcontextprotocol/protocolVersion": "2026-07-28",
  "io.modelcontextprotocol/clientCapabilities": { elicitation: { form: {} } },
  "io.modelcontextprotocol/clientInfo": { name: "mutations", version: "1.0.0" },
};
const COMMON = { "content-type": "application/json", accept: "application/json, text/event-stream" };
const nodes = { file_key: FAKE_FILE_KEY, ids: "0:1" };

/** The canonical requests, fresh each time (a mutation changes its copy). */
const BASES: Record<string, () => Case> = {
  "2026 tools/list": () => ({
    headers: { ...COMMON, "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/list" },
    body: { jsonrpc: "2.0", id: 1, method: "tools/list", params: { _meta: structuredClone(ENVELOPE) } },
  }),
  "2026 tools/call": () => ({
    headers: {
      ...COMMON,
      "mcp-protocol-version": "2026-07-28",
      "mcp-method": "tools/call",
      "mcp-name": "get_file_nodes",
    },
    body: {
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: { name: "get_file_nodes", arguments: { ...nodes }, _meta: structuredClone(ENVELOPE) },
    },
  }),
  "2025 tools/list": () => ({
    headers: { ...COMMON, "mcp-protocol-version": "2025-06-18" },
    body: { jsonrpc: "2.0", id: 1, method: "tools/list" },
  }),
  "2025 tools/call": () => ({
    headers: { ...COMMON, "mcp-protocol-version": "2025-11-25" },
    body: {
      jsonrpc: "2.0",
      id: "c",
      method: "tools/call",
      params: { name: "get_file_nodes", arguments: { ...nodes } },
    },
  }),
};

const VALUES: unknown[] = [null, 0, 1.5, 2 ** 53, "", "x", true, [], {}, [1], { a: 1 }];
const show = (v: unknown) => JSON.stringify(v)?.slice(0, 16);
const params = (c: Case) => (c.body as { params?: Json }).params;
const meta = (c: Case) => params(c)?._meta as Json | undefined;
const within = (c: Case, key: string) => meta(c)?.[key] as Json | undefined;

const MUTATIONS: [string, (c: Case) => void][] = [];
for (const v of VALUES) {
  const set = (name: string, target: (c: Case) => Json | undefined, key: string) =>
    MUTATIONS.push([
      `${name}=${show(v)}`,
      (c) => void (target(c) && Object.assign(target(c) as Json, { [key]: v })),
    ]);
  for (const key of ["id", "jsonrpc", "method", "params", "extra", "result"])
    set(key, (c) => c.body as Json, key);
  for (const key of ["name", "arguments", "cursor", "_meta", "extra"]) set(`params.${key}`, params, key);
  for (const key of ["file_key", "extra"]) set(`arguments.${key}`, (c) => params(c)?.arguments as Json, key);
  for (const key of [...Object.keys(ENVELOPE), "progressToken", "x"]) set(`_meta.${key}`, meta, key);
  for (const key of ["name", "version", "title", "icons"]) {
    set(`clientInfo.${key}`, (c) => within(c, "io.modelcontextprotocol/clientInfo"), key);
  }
  for (const key of ["elicitation", "sampling", "roots", "experimental"]) {
    set(`capabilities.${key}`, (c) => within(c, "io.modelcontextprotocol/clientCapabilities"), key);
  }
}
for (const key of ["jsonrpc", "id", "method", "params"]) {
  MUTATIONS.push([`no ${key}`, (c) => void delete (c.body as Json)[key]]);
}
for (const key of ["name", "arguments", "_meta"])
  MUTATIONS.push([`no params.${key}`, (c) => void delete params(c)?.[key]]);
for (const method of ["tools/list", "tools/call", "Tools/List", "ping"]) {
  MUTATIONS.push([
    `method ${method}`,
    (c) => {
      (c.body as Json).method = method;
    },
  ]);
}
const HEADER_VALUES = [
  undefined,
  "",
  "x",
  "2026-07-28",
  "2025-06-18",
  "2025-03-26",
  "tools/list",
  "tools/call",
  "get_me",
  "get_file_nodes",
  "=?base64?Z2V0X2ZpbGVfbm9kZXM=?=",
  "=?base64?!?=",
  "application/json",
  "text/event-stream",
  "text/event-stream, application/json",
  "application/json; charset=utf-8",
  "text/plain",
  "*/*",
];
for (const name of [
  "content-type",
  "accept",
  "mcp-protocol-version",
  "mcp-method",
  "mcp-name",
  "mcp-session-id",
]) {
  for (const value of HEADER_VALUES) {
    MUTATIONS.push([
      `header ${name}=${show(value)}`,
      (c) => {
        c.headers[name] = value;
      },
    ]);
  }
}
MUTATIONS.push([
  "header mcp-param-file_key",
  (c) => {
    c.headers["mcp-param-file_key"] = FAKE_FILE_KEY;
  },
]);
// JSON.parse makes an own `__proto__` property of the key; JSON.stringify of an object literal cannot write one.
for (const where of ["body", "params", "arguments", "_meta", "clientInfo"]) {
  MUTATIONS.push([
    `__proto__ in ${where}`,
    (c) => {
      const target =
        where === "body"
          ? (c.body as Json)
          : where === "params"
            ? params(c)
            : where === "arguments"
              ? (params(c)?.arguments as Json | undefined)
              : where === "_meta"
                ? meta(c)
                : within(c, "io.modelcontextprotocol/clientInfo");
      if (!target) return;
      target.__MARK__ = 0;
      c.raw = JSON.stringify(c.body).replace('"__MARK__":0', '"__proto__":{"file_key":"elsewhere"}');
    },
  ]);
}
MUTATIONS.push([
  "a batch of it",
  (c) => {
    c.body = [c.body];
  },
]);

/** Sorted keys: JSON objects are unordered, and the SDK writes some in another order than the fast path. */
function sorted(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sorted);
  if (v === null || typeof v !== "object") return v;
  return Object.fromEntries(
    Object.keys(v)
      .sort()
      .map((k) => [k, sorted((v as Json)[k])]),
  );
}

/** Framing headers differ by how the body was written (a string or a stream), and ids per request. */
const IGNORED = new Set(["date", "content-length", "transfer-encoding", "x-request-id"]);

async function send(base: string, c: Case) {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(c.headers)) if (value !== undefined) headers[name] = value;
  const res = await fetch(`${base}${path}`, {
    method: "POST",
    headers,
    body: c.raw ?? JSON.stringify(c.body),
  });
  const kept: Record<string, string> = {};
  res.headers.forEach((value, name) => {
    if (!IGNORED.has(name)) kept[name] = value;
  });
  const text = (await res.text()).replace(/req_[A-Za-z0-9_-]+/g, "req_*");
  const data = text.startsWith("event:") ? (/^data: (.*)$/m.exec(text)?.[1] ?? "") : text;
  let message: unknown = text;
  try {
    message = sorted(JSON.parse(data));
  } catch {
    // Not JSON: compared as text.
  }
  return { status: res.status, headers: kept, message };
}

test("every mutation of a canonical request is answered as the SDK answers it, never with a 5xx", async () => {
  const different: unknown[] = [];
  const failed: unknown[] = [];
  const statuses = new Set<number>();
  for (const [base, make] of Object.entries(BASES)) {
    for (const [mutation, mutate] of MUTATIONS) {
      const c = make();
      mutate(c);
      const fast = await send(stack.edgeUrl, c);
      const sdk = await send(`http://127.0.0.1:${sdkServer.port}`, c);
      statuses.add(fast.status);
      if (!Bun.deepEquals(fast, sdk)) different.push({ base, mutation, fast, sdk });
      if (fast.status >= 500 || sdk.status >= 500) failed.push({ base, mutation, status: fast.status });
    }
  }
  expect(different).toEqual([]);
  expect(failed).toEqual([]);
  // The mutations reach both the answers and the refusals.
  for (const status of [200, 400, 406, 415]) expect(statuses).toContain(status);
  expect(stack.logs.filter((line) => line.startsWith('{"level":"error"'))).toEqual([]);
}, 120_000);
