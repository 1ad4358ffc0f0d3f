import type { ResolvedInstance } from "@mcp/core";
import type { ThroughRead } from "@mcp/kv";
import type { ServiceDefinition, ToolDefinition } from "@mcp/services";
import {
  type CallToolResult,
  CLIENT_CAPABILITIES_META_KEY,
  CLIENT_INFO_META_KEY,
  isJsonContentType,
  isSpecType,
  PROTOCOL_VERSION_META_KEY,
  ProtocolError,
  ProtocolErrorCode,
  SERVER_INFO_META_KEY,
} from "@modelcontextprotocol/server";
import type { EdgeDeps } from "../deps.ts";
import { callContext, callTool } from "./call-tool.ts";
import type { InstanceAuth } from "./instance-handler.ts";
import { readCacheSlot } from "./read-cache.ts";
import { SSE_HEADERS } from "./sessions.ts";
import { perInstance, toolAllowed } from "./tool-filter.ts";
import { acceptsBoth, LEGACY_VERSIONS, MODERN_VERSIONS } from "./versions.ts";

const MODERN = MODERN_VERSIONS[0];
const LEGACY = new Set<string>(LEGACY_VERSIONS);
const ENVELOPE_KEYS = new Set([
  PROTOCOL_VERSION_META_KEY,
  CLIENT_INFO_META_KEY,
  CLIENT_CAPABILITIES_META_KEY,
]);

type Json = Record<string, unknown>;
const isPlain = (v: unknown): v is Json =>
  typeof v === "object" && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
const onlyKeys = (o: Json, allowed: readonly string[]) => Object.keys(o).every((k) => allowed.includes(k));

/**
 * `json` with every character past ASCII written as a JSON escape (`→` as `\u2192`): the same JSON to any
 * parser, and a string the runtime holds one byte per character. One such character in a list (GitHub's,
 * Slack's, Notion's descriptions have "…" or "→") made the few-KB answer a UTF-16 string, transcoded to UTF-8
 * on every answer. Keeping the answer as UTF-8 bytes instead, copied into a new buffer with the id per answer,
 * cost more than a string even for an all-ASCII list (Figma's: the edge's CPU per tools/list 87 → 100 µs, 8
 * alternating rounds, PostgreSQL + Redis, 2026-12-03).
 */
const ascii = (json: string) =>
  json.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);

/** The headers of each era's answer: JSON, or the SSE the SDK's 2025-era stateless transport answers with. */
const HEADERS = { modern: { "content-type": "application/json" }, legacy: SSE_HEADERS };
/** A 2025-era answer is one SSE `message` event around the JSON-RPC message. */
const SSE_START = "event: message\ndata: ";
const SSE_END = "\n\n";
/** `{ result, jsonrpc, id }` as JSON.stringify writes it, around a result already serialized: up to the id… */
const resultHead = (result: string) => `{"result":${result},"jsonrpc":"2.0","id":`;
/** …and from it. */
const idTail = (id: unknown) => `${JSON.stringify(id)}}`;

export interface FastPath {
  /**
   * The answer to a `tools/list` or `tools/call` of the canonical shape, without building an SDK server for it;
   * undefined for anything else (the SDK handler then serves it, with its own checks and errors).
   */
  serve(request: Request, body: unknown, auth: InstanceAuth): Promise<Response> | undefined;
  /**
   * The cache slot a `tools/call` of a cached read tool would read first, to be read with the rate-limit charge
   * (and handed back in `auth.readAhead`, to this fast path or the SDK handler). Only the cheap checks are made
   * here: whoever serves the call checks the whole request.
   */
  readAheadSlot(body: unknown, instance: ResolvedInstance): ThroughRead | undefined;
}

/**
 * The hot path of a REST service, off the SDK's per-request construction. It takes only requests whose every
 * part it can check as the SDK would, and answers exactly what the SDK's handler answers for them (a test
 * compares both, result for result, in both eras); any doubt — another method, a batch, a session, a progress
 * token, a header or `_meta` key it does not know, an unknown tool — leaves the request to the SDK:
 * - 2026-07-28: `MCP-Protocol-Version: 2026-07-28`, `Mcp-Method` (and `Mcp-Name` for a call) equal to the
 *   body's, no `Mcp-Param-*` headers, and the `_meta` envelope (protocol version, client info and
 *   capabilities, checked with the SDK's own schemas) and nothing else in it; the answer is JSON with
 *   `resultType`, the cache fields of a list, and the server's info in `_meta`.
 * - 2025 era (stateless, no `Mcp-Session-Id`): a 2025 `MCP-Protocol-Version` header and no `_meta`; the answer
 *   is one SSE `message` event, as the SDK's stateless transport sends it.
 * Both need a JSON body and an Accept naming both media types. The whole request is validated with the SDK's
 * `CallToolRequest` / `ListToolsRequest` schemas before it is served.
 */
export function createFastPath(
  deps: EdgeDeps,
  service: ServiceDefinition,
  info: { name: string; title?: string; version: string },
  tools: readonly object[],
): FastPath {
  const serverMeta = { [SERVER_INFO_META_KEY]: info };
  // Serialized once: the list never changes for a loaded definition (and stringifying it was the largest
  // single cost of a tools/list), up to the request's id, in ASCII (see `ascii`).
  const serialize = (listed: readonly object[]): Record<"modern" | "legacy", string> => {
    const modern = JSON.stringify({
      tools: listed,
      resultType: "complete",
      ttlMs: 0,
      cacheScope: "private",
      _meta: serverMeta,
    });
    return {
      modern: ascii(resultHead(modern)),
      legacy: ascii(`${SSE_START}${resultHead(JSON.stringify({ tools: listed }))}`),
    };
  };
  const listJson = serialize(tools);
  // An instance whose settings restrict its tools: its own list, serialized once per cached instance entry.
  const restrictedJson = perInstance(service.mcpTools, serialize);

  function era(request: Request, body: Json): "modern" | "legacy" | undefined {
    const h = request.headers;
    if (!isJsonContentType(h.get("content-type")) || h.has("mcp-session-id")) return undefined;
    if (!acceptsBoth(h.get("accept"))) return undefined;
    const version = h.get("mcp-protocol-version");
    const params = body.params as Json | undefined;
    if (version === MODERN) {
      if (h.get("mcp-method") !== body.method || !params) return undefined;
      const name = h.get("mcp-name");
      if (body.method === "tools/call" ? name !== params.name : name !== null) return undefined;
      for (const key of h.keys()) if (key.startsWith("mcp-param-")) return undefined;
      const meta = params._meta;
      if (!isPlain(meta) || Object.keys(meta).length !== ENVELOPE_KEYS.size) return undefined;
      for (const key of Object.keys(meta)) if (!ENVELOPE_KEYS.has(key)) return undefined;
      if (meta[PROTOCOL_VERSION_META_KEY] !== MODERN) return undefined;
      if (!isSpecType.Implementation(meta[CLIENT_INFO_META_KEY])) return undefined;
      if (!isSpecType.ClientCapabilities(meta[CLIENT_CAPABILITIES_META_KEY])) return undefined;
      return "modern";
    }
    if (version === null || !LEGACY.has(version)) return undefined;
    if (h.has("mcp-method") || h.has("mcp-name")) return undefined;
    if (params !== undefined && (!isPlain(params) || "_meta" in params)) return undefined;
    return "legacy";
  }

  function send(kind: "modern" | "legacy", message: string): Response {
    const body = kind === "modern" ? message : `${SSE_START}${message}${SSE_END}`;
    return new Response(body, { headers: HEADERS[kind] });
  }

  /** A list's answer: its text up to the id (`serialize`), then the id and the rest. */
  function listAnswer(kind: "modern" | "legacy", head: string, id: unknown): Response {
    const tail = kind === "modern" ? idTail(id) : `${idTail(id)}${SSE_END}`;
    return new Response(`${head}${tail}`, { headers: HEADERS[kind] });
  }

  const answer = (kind: "modern" | "legacy", id: unknown, result: object) =>
    send(kind, `${resultHead(JSON.stringify(result))}${idTail(id)}`);

  /**
   * A call that threw: a protocol error (invalid arguments) as the SDK sends it (in band: HTTP 200, its code,
   * message and data); anything else is a bug of ours, answered as a bare internal error and logged.
   */
  function failed(kind: "modern" | "legacy", id: unknown, error: unknown): Response {
    let rpcError: { code: number; message: string; data?: unknown };
    if (error instanceof ProtocolError) {
      // The SDK's codecs send -32002 (resource not found) as -32602 in both eras.
      const code = error.code === -32002 ? ProtocolErrorCode.InvalidParams : error.code;
      rpcError = { code, message: error.message, ...(error.data !== undefined && { data: error.data }) };
    } else {
      deps.log.error("tool call failed", { error });
      rpcError = { code: ProtocolErrorCode.InternalError, message: "Internal error" };
    }
    return send(kind, JSON.stringify({ jsonrpc: "2.0", id, error: rpcError }));
  }

  /**
   * The tool a `tools/call`'s params name, when its arguments are an object (or absent) and the instance may
   * call it; undefined otherwise (an unknown tool, or one the instance's settings leave out, is the SDK's to
   * refuse, with its own error). Arguments with an own `__proto__` key (JSON.parse makes one of `"__proto__"`)
   * are left to the SDK too: its request schema drops that key, so it serves the call as if the key had not been
   * sent, where the tool's validator here would refuse it as unknown (one own-property check per call).
   */
  function calledTool(params: Json, instance: ResolvedInstance): ToolDefinition | undefined {
    if (typeof params.name !== "string") return undefined;
    const args = params.arguments;
    if (args !== undefined && (!isPlain(args) || Object.hasOwn(args, "__proto__"))) return undefined;
    const tool = service.getTool(params.name);
    return tool && toolAllowed(instance, tool) ? tool : undefined;
  }

  return {
    readAheadSlot(body, instance) {
      if (!isPlain(body) || body.method !== "tools/call" || !isPlain(body.params)) return undefined;
      const tool = calledTool(body.params, instance);
      return tool && readCacheSlot(deps, instance, tool, body.params.arguments ?? {});
    },
    serve(request, body, auth) {
      if (request.method !== "POST" || !isPlain(body)) return undefined;
      if (!onlyKeys(body, ["jsonrpc", "id", "method", "params"]) || body.jsonrpc !== "2.0") return undefined;
      const { id, method } = body;
      if (!(typeof id === "string" || Number.isSafeInteger(id))) return undefined;
      if (method === "tools/list") {
        if (body.params !== undefined && (!isPlain(body.params) || !onlyKeys(body.params, ["_meta"])))
          return undefined;
        const kind = era(request, body);
        if (!kind || !isSpecType.ListToolsRequest(body)) return undefined;
        const list = restrictedJson(auth.instance) ?? listJson;
        return Promise.resolve(listAnswer(kind, list[kind], id));
      }
      if (method !== "tools/call" || !isPlain(body.params)) return undefined;
      const params = body.params;
      if (!onlyKeys(params, ["name", "arguments", "_meta"])) return undefined;
      const tool = calledTool(params, auth.instance);
      if (!tool) return undefined;
      const kind = era(request, body);
      if (!kind || !isSpecType.CallToolRequest(body)) return undefined;
      return callTool(
        callContext(deps, service, auth, request.signal),
        tool.name,
        params.arguments ?? {},
      ).then(
        (result) => answer(kind, id, kind === "modern" ? modernResult(result) : result),
        (error: unknown) => failed(kind, id, error),
      );
    },
  };

  /** What the SDK's 2026-07-28 codec makes of a tool result: `resultType`, and the server's info in `_meta`. */
  function modernResult(result: CallToolResult): object {
    const stamped = { ...result, resultType: "complete" };
    const meta = result._meta;
    if (meta === undefined) return { ...stamped, _meta: serverMeta };
    if (!isPlain(meta) || meta[SERVER_INFO_META_KEY] !== undefined) return stamped;
    return { ...stamped, _meta: { ...meta, ...serverMeta } };
  }
}
