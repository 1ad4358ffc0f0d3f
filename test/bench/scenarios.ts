// What is measured: the requests (a 2026-07-28 call as the current spec sends it, a 2025-era call as a
// 2025-06-18 client sends it to a stateless server, no initialize) and which server gets each.
import { FAKE_FIGMA_KEY, FAKE_FILE_KEY } from "./common.ts";
import type { Target } from "./load.ts";

export type ServerName =
  | "edge"
  | "edge-limited"
  | "control-plane"
  | "sdk-v2"
  | "sdk-1.x"
  | "sdk-1.x-fresh"
  | "floor";
export type Era = "2026-07-28" | "2025-06-18" | "-";

export interface Scenario extends Target {
  scenario: string;
  server: ServerName;
  era: Era;
}

/** Where each server listens, as its child announced it. */
export interface Urls {
  instanceUrl: string;
  relayUrl: string;
  controlPlaneUrl: string;
  cookie: string;
  sdkV2Url: string;
  sdk1Url: string;
  /** The bare SDK 1.x server building a server per request (BENCH_SDK1_MODE=fresh). */
  sdk1FreshUrl: string;
  floorUrl: string;
  /**
   * The Figma instance's URL on an edge whose rate limits are on (counted, never reached), as production runs
   * it: each call charges its budgets, a cached read's slot read in the same step. Only with PostgreSQL + Redis.
   */
  limitedInstanceUrl?: string;
}

const ACCEPT = { "content-type": "application/json", accept: "application/json, text/event-stream" };
const META = {
  "io.modelcontextprotocol/protocolVersion": "2026-07-28",
  "io.modelcontextprotocol/clientCapabilities": {},
  "io.modelcontextprotocol/clientInfo": { name: "bench", version: "1" },
};

/** A 2026-07-28 request: routing headers, and the protocol version, capabilities and client in `_meta`. */
function modern(method: string, params: () => Record<string, unknown>, name?: string) {
  return {
    method: "POST" as const,
    headers: {
      ...ACCEPT,
      "mcp-protocol-version": "2026-07-28",
      "mcp-method": method,
      ...(name && { "mcp-name": name }),
    },
    body: () => JSON.stringify({ jsonrpc: "2.0", id: 1, method, params: { ...params(), _meta: META } }),
  };
}

/** A 2025-era request: plain JSON-RPC with the version header, served statelessly (no session). */
function legacy(method: string, params: () => Record<string, unknown>) {
  return {
    method: "POST" as const,
    headers: { ...ACCEPT, "mcp-protocol-version": "2025-06-18" },
    body: () => JSON.stringify({ jsonrpc: "2.0", id: 1, method, params: params() }),
  };
}

/** A fixed body is built once, so the load generator spends nothing on it. */
const once = <T extends { body: () => string }>(req: T) => ({ ...req, body: req.body() });

// Every uncached call asks for a node id no call asked for before: each one reaches the upstream (which
// answers 200 with `"0:<n>": null`), whatever the server caches.
let n = 0;
const nodes = () => ({ name: "get_file_nodes", arguments: { file_key: FAKE_FILE_KEY, ids: `0:${n++}` } });
const add = () => ({ name: "add", arguments: { a: 1, b: n++ } });
const RPC = { status: 200, rpcResult: true };

/** The scenario the ratios are stated for: a call that reaches the upstream every time. */
export const UNCACHED = "tools/call uncached";

export function scenarios(urls: Urls): Scenario[] {
  // The bare servers send the URL's token upstream as the Figma key.
  const bare = (base: string) => `${base}/${FAKE_FIGMA_KEY}/mcp`;
  const call2026 = modern("tools/call", nodes, "get_file_nodes");
  const call2025 = legacy("tools/call", nodes);
  return [
    { scenario: UNCACHED, server: "edge", era: "2026-07-28", url: urls.instanceUrl, ...call2026, ...RPC },
    {
      scenario: UNCACHED,
      server: "sdk-v2",
      era: "2026-07-28",
      url: bare(urls.sdkV2Url),
      ...call2026,
      ...RPC,
    },
    { scenario: UNCACHED, server: "floor", era: "2026-07-28", url: urls.floorUrl, ...call2026, ...RPC },
    { scenario: UNCACHED, server: "edge", era: "2025-06-18", url: urls.instanceUrl, ...call2025, ...RPC },
    {
      scenario: UNCACHED,
      server: "sdk-1.x",
      era: "2025-06-18",
      url: bare(urls.sdk1Url),
      ...call2025,
      ...RPC,
    },
    {
      scenario: UNCACHED,
      server: "sdk-1.x-fresh",
      era: "2025-06-18",
      url: bare(urls.sdk1FreshUrl),
      ...call2025,
      ...RPC,
    },
    { scenario: UNCACHED, server: "floor", era: "2025-06-18", url: urls.floorUrl, ...call2025, ...RPC },
    {
      scenario: "tools/list",
      server: "edge",
      era: "2026-07-28",
      url: urls.instanceUrl,
      ...once(modern("tools/list", () => ({}))),
      ...RPC,
    },
    {
      scenario: "tools/call cached read (get_me)",
      server: "edge",
      era: "2026-07-28",
      url: urls.instanceUrl,
      ...once(modern("tools/call", () => ({ name: "get_me", arguments: {} }), "get_me")),
      ...RPC,
    },
    {
      scenario: "relay tools/call (custom instance)",
      server: "edge",
      era: "2026-07-28",
      url: urls.relayUrl,
      ...modern("tools/call", add, "add"),
      ...RPC,
    },
    {
      // A well-formed Figma token that no instance has (one secret character changed): the lookup, its
      // negative cache and the refusal.
      scenario: "401 unknown token",
      server: "edge",
      era: "2026-07-28",
      url: urls.instanceUrl.replace(
        /(\/mcp_[a-z]+_)(.)/,
        (_, head: string, c: string) => head + (c === "A" ? "B" : "A"),
      ),
      ...once(modern("tools/list", () => ({}))),
      status: 401,
      rpcResult: false,
    },
    ...(urls.limitedInstanceUrl ? limitedScenarios(urls.limitedInstanceUrl, call2026) : []),
    {
      scenario: "control plane instances.list",
      server: "control-plane",
      era: "-",
      url: `${urls.controlPlaneUrl}/trpc/instances.list`,
      method: "GET",
      headers: { cookie: urls.cookie },
      ...RPC,
    },
  ];
}

/** The uncached call and the cached read again, on the edge with its rate limits on. */
function limitedScenarios(url: string, call2026: ReturnType<typeof modern>): Scenario[] {
  const edge = { server: "edge-limited" as const, era: "2026-07-28" as const, url, ...RPC };
  return [
    { scenario: "tools/call uncached, limits on", ...edge, ...call2026 },
    {
      scenario: "tools/call cached read (get_me), limits on",
      ...edge,
      ...once(modern("tools/call", () => ({ name: "get_me", arguments: {} }), "get_me")),
    },
  ];
}
