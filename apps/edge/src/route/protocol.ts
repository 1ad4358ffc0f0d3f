import { acceptsBoth, MODERN_VERSIONS, NOT_ACCEPTABLE } from "../mcp/versions.ts";
import { echoableId, json, type McpCall } from "./call.ts";

/** Revisions whose Streamable HTTP transport takes one JSON-RPC message per POST (batching was removed). */
const NO_BATCH_VERSIONS = new Set<string>(["2025-06-18", "2025-11-25", ...MODERN_VERSIONS]);
const MODERN = new Set<string>(MODERN_VERSIONS);
const PROTOCOL_VERSION_META = "io.modelcontextprotocol/protocolVersion";

/** A JSON-RPC error answer: a batch's carries no id, a single request's its own (`echoableId`). */
const rpcError = (status: 400 | 406, code: number, message: string, id: string | number | null = null) =>
  json({ jsonrpc: "2.0", id, error: { code, message } }, status);

/** The revision a POST claims: its `MCP-Protocol-Version` header, else a 2026-style `_meta` claim. */
function claimedVersion(call: McpCall): string | undefined {
  const header = call.req.headers.get("mcp-protocol-version");
  if (header) return header;
  const body = call.parsedBody;
  if (typeof body !== "object" || body === null || Array.isArray(body)) return undefined;
  const meta = (body as { params?: { _meta?: Record<string, unknown> } }).params?._meta;
  const claim = meta?.[PROTOCOL_VERSION_META];
  return typeof claim === "string" ? claim : undefined;
}

const isInitialize = (m: unknown) =>
  typeof m === "object" && m !== null && (m as { method?: unknown }).method === "initialize";

/**
 * Transport rules the SDK leaves to us, each as the revision's spec text says:
 * - JSON-RPC batches exist only in 2025-03-26 (a request without `MCP-Protocol-Version` is taken as
 *   that revision), never holding `initialize`, and at most `maxBatchMessages` long; 2025-06-18 removed
 *   them, so a batch declaring a later revision is `-32600`.
 * - A 2026-07-28 POST "MUST include an Accept header listing both application/json and
 *   text/event-stream": 406, as the SDK already answers 2025-era POSTs.
 */
export function protocolRules(call: McpCall): Response | undefined {
  const body = call.parsedBody;
  const version = claimedVersion(call);
  if (Array.isArray(body)) {
    if (version && NO_BATCH_VERSIONS.has(version)) {
      return rpcError(
        400,
        -32600,
        `Invalid Request: JSON-RPC batches are not supported in protocol version ${version.slice(0, 32)}`,
      );
    }
    if (body.some(isInitialize)) {
      return rpcError(400, -32600, "Invalid Request: initialize must not be part of a JSON-RPC batch");
    }
    const max = call.deps.limits.maxBatchMessages;
    if (body.length > max) return rpcError(400, -32600, `Batch too large: at most ${max} messages`);
  }
  if (version && MODERN.has(version) && !acceptsBoth(call.req.headers.get("accept"))) {
    return rpcError(406, -32000, NOT_ACCEPTABLE, echoableId(body));
  }
  return undefined;
}
