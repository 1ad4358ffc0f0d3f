import { hostAllowed, LOOPBACK_HOSTS } from "@mcp/http";
import { RELAY_VIA_PSEUDONYM } from "@mcp/services";
import { SERVER_BODY_FACTOR } from "../deps.ts";
import { echoableId, json, type McpCall } from "./call.ts";

/**
 * The spec's answer to a refused Origin: 403 with "a JSON-RPC error response that has no id"; our code
 * and the request id ride in `data`.
 */
const forbidden = (call: McpCall, message: string) =>
  json(
    {
      jsonrpc: "2.0",
      error: { code: -32000, message, data: { code: "FORBIDDEN", requestId: call.requestId } },
    },
    403,
  );

/**
 * A page served from this machine, when the edge itself is bound to loopback (its Host allowlist is then
 * set): what the MCP spec's DNS-rebinding rules allow a local server to accept. A rebinding page has a
 * public origin, so it is still refused.
 */
function loopbackOrigin(origin: string, allowedHosts: ReadonlySet<string>): boolean {
  if (allowedHosts.size === 0) return false;
  try {
    const url = new URL(origin);
    return (url.protocol === "http:" || url.protocol === "https:") && LOOPBACK_HOSTS.includes(url.hostname);
  } catch {
    return false;
  }
}

/**
 * DNS-rebinding and cross-site guards from the MCP spec: a browser Origin must be allowed (403), and
 * when bound to loopback the Host header must name an allowed host (403). An allowed browser page (the
 * dashboard's "Test connection", a web MCP client) gets CORS for it alone; its preflight is answered here,
 * before any token lookup (it carries no credentials and learns nothing). Returns the refusal or preflight
 * answer, else undefined (`withCors` then marks the final answer).
 */
export function originAndHost(call: McpCall): Response | undefined {
  const { allowedOrigins, allowedHosts } = call.deps;
  const { headers } = call.req;
  const origin = headers.get("origin");
  if (origin && !allowedOrigins.includes(origin) && !loopbackOrigin(origin, allowedHosts)) {
    return forbidden(call, "Forbidden: Origin not allowed");
  }
  if (allowedHosts.size > 0 && !hostAllowed(headers.get("host") ?? undefined, allowedHosts)) {
    return forbidden(call, "Forbidden: Host not allowed");
  }
  if (!origin) return undefined;
  if (call.req.method === "OPTIONS") {
    const headers: Record<string, string> = { ...corsHeaders(origin), ...PREFLIGHT };
    const params = paramHeaders(call.req.headers.get("access-control-request-headers"));
    if (params) headers["access-control-allow-headers"] += `, ${params}`;
    return new Response(null, { status: 204, headers });
  }
  call.allowedOrigin = origin;
  return undefined;
}

/**
 * 508 Loop Detected for a request this platform's relay sent (its `Via` entry): an instance relaying to an
 * instance URL of this platform, its own or one relaying back. Answered before the token is looked at, so
 * a relay configured so fails at once (and `connectCustom` refuses such a URL), instead of calling itself
 * until the limits stop it while every user's connections wait.
 */
export function relayLoop(call: McpCall): Response | undefined {
  const via = call.req.headers.get("via");
  if (via === null || !via.includes(RELAY_VIA_PSEUDONYM)) return undefined;
  return json(
    {
      jsonrpc: "2.0",
      id: null,
      error: {
        code: -32000,
        message: "Loop Detected: this request was relayed by this platform to one of its own instance URLs",
        data: { code: "RELAY_LOOP", requestId: call.requestId },
      },
    },
    508,
  );
}

/** The answer to an allowed browser page, readable by it (a no-op for anyone else). */
export function withCors(call: McpCall, res: Response): Response {
  const origin = call.allowedOrigin;
  if (!origin) return res;
  try {
    for (const [name, value] of Object.entries(corsHeaders(origin))) res.headers.set(name, value);
  } catch {
    // Immutable headers (an upstream Response passed through): the browser then refuses to read it.
  }
  return res;
}

/** What an allowed page may read of an answer: the body, and the MCP headers a client needs. */
const corsHeaders = (origin: string) => ({
  "access-control-allow-origin": origin,
  "access-control-expose-headers":
    "mcp-session-id, mcp-protocol-version, x-request-id, retry-after, www-authenticate, ratelimit, ratelimit-policy",
  vary: "Origin",
});

/**
 * The `Mcp-Param-*` headers (SEP-2243: a tool's arguments declared with `x-mcp-header`, mirrored into headers) a
 * preflight asks for, allowed as asked: their names are the tool's to choose, so no fixed list can hold them. At
 * most 32, each a header name (token characters) of at most 128; undefined when there are none.
 */
function paramHeaders(requested: string | null): string | undefined {
  if (!requested) return undefined;
  const names = requested
    .slice(0, 8192)
    .split(",")
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name.length <= 128 && PARAM_HEADER.test(name))
    .slice(0, 32);
  return names.length > 0 ? names.join(", ") : undefined;
}
const PARAM_HEADER = /^mcp-param-[!#$%&'*+.^_`|~0-9a-z-]+$/;

const PREFLIGHT: Record<string, string> = {
  "access-control-allow-methods": "GET, POST, DELETE",
  "access-control-allow-headers":
    "content-type, accept, mcp-protocol-version, mcp-session-id, mcp-method, mcp-name, last-event-id, authorization",
  "access-control-max-age": "600",
};

/**
 * Reads a POST body once, bounded, so the rate limiter can echo the JSON-RPC id and the SDK does not
 * parse it again; it lands in `call.parsedBody` and `call.bodyBytes`. A body that is not JSON is handed on
 * as bytes for the SDK to answer with its own parse or media-type error. Too large — declared, counted
 * while streaming, or cut off by the server's own cap — is the client's mistake: 413, logged at debug only.
 */
export async function readBody(call: McpCall): Promise<Response | undefined> {
  const { req } = call;
  const max = call.deps.limits.maxBodyBytes;
  const declared = Number(req.headers.get("content-length") ?? 0);
  if (declared > max) return tooLarge(call, "declared");
  const bytes = await readBounded(req, max).catch(() => null);
  if (bytes === null) return tooLarge(call, "unreadable");
  if (bytes === "too_large") return tooLarge(call, "streamed");
  try {
    call.parsedBody = JSON.parse(UTF8.decode(bytes));
  } catch {
    call.parsedBody = undefined;
  }
  call.bodyBytes = bytes;
  // A body of fewer bytes cannot nest deeper (each level opens and closes).
  if (call.parsedBody !== undefined && bytes.length > 2 * MAX_JSON_DEPTH && nestedDeeper(bytes)) {
    return json(
      {
        jsonrpc: "2.0",
        id: echoableId(call.parsedBody),
        error: { code: -32600, message: `Invalid Request: JSON nested deeper than ${MAX_JSON_DEPTH} levels` },
      },
      400,
    );
  }
  return undefined;
}

/**
 * How deep a request's JSON may nest (arrays and objects). Well within the byte limit, a body can nest a
 * hundred thousand levels, and whatever walks it recursively (serialising the arguments for the cache key or
 * for a relayed server) would overflow the stack: a 500 for what is the client's mistake.
 */
const MAX_JSON_DEPTH = 64;

/** Whether JSON text (already parsed, so well-formed) nests deeper than MAX_JSON_DEPTH; ~0.3 µs for a call. */
function nestedDeeper(bytes: Uint8Array): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (inString) {
      if (b === BACKSLASH) i++;
      else if (b === QUOTE) inString = false;
    } else if (b === QUOTE) inString = true;
    else if (b === OPEN_ARRAY || b === OPEN_OBJECT) {
      if (++depth > MAX_JSON_DEPTH) return true;
    } else if (b === CLOSE_ARRAY || b === CLOSE_OBJECT) depth--;
  }
  return false;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

const UTF8 = new TextDecoder();

/**
 * The request body counted in bytes as it streams (a chunked body of multi-byte text must not slip past
 * the limit). Past `max` nothing more is kept, but the rest is drained (to a bound) so the client gets
 * to read the 413. Throws when the stream fails (e.g. the server's own cap cut it off).
 */
async function readBounded(req: Request, max: number): Promise<Uint8Array<ArrayBuffer> | "too_large"> {
  if (!req.body) return new Uint8Array();
  // A declared length within the limit (the common case): Bun reads exactly that many bytes at once.
  if (req.headers.has("content-length")) return new Uint8Array(await req.arrayBuffer());
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return size > max ? "too_large" : Buffer.concat(chunks);
    size += value.byteLength;
    if (size <= max) chunks.push(value);
    else if (size > max * SERVER_BODY_FACTOR) {
      await reader.cancel().catch(() => {});
      return "too_large";
    } else chunks.length = 0;
  }
}

function tooLarge(call: McpCall, how: "declared" | "streamed" | "unreadable"): Response {
  call.deps.log.debug("request body refused", { requestId: call.requestId, how });
  return json({ error: "Request body too large", code: "PAYLOAD_TOO_LARGE", requestId: call.requestId }, 413);
}
