import { hostAllowed, LOOPBACK_HOSTS } from "@mcp/http";
import type { Context, MiddlewareHandler } from "hono";
import { type EdgeEnv, SERVER_BODY_FACTOR } from "../deps.ts";

/**
 * The spec's answer to a refused Origin: 403 with "a JSON-RPC error response that has no id"; our code
 * and the request id ride in `data`.
 */
const forbidden = (c: Context<EdgeEnv>, message: string) =>
  c.json(
    {
      jsonrpc: "2.0",
      error: { code: -32000, message, data: { code: "FORBIDDEN", requestId: c.get("requestId") } },
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
 * when bound to loopback the Host header must name an allowed host (403).
 */
export function originAndHost(): MiddlewareHandler<EdgeEnv> {
  return async function guardMiddleware(c, next) {
    const { allowedOrigins, allowedHosts } = c.get("deps");
    const origin = c.req.header("origin");
    if (origin && !allowedOrigins.includes(origin) && !loopbackOrigin(origin, allowedHosts)) {
      return forbidden(c, "Forbidden: Origin not allowed");
    }
    if (!hostAllowed(c.req.header("host"), allowedHosts)) {
      return forbidden(c, "Forbidden: Host not allowed");
    }
    if (!origin) return next();
    // An allowed browser page (the dashboard's "Test connection", a web MCP client): CORS for it alone. A
    // preflight is answered here, before any token lookup (it carries no credentials and learns nothing).
    if (c.req.method === "OPTIONS") {
      return new Response(null, { status: 204, headers: { ...corsHeaders(origin), ...PREFLIGHT } });
    }
    await next();
    try {
      for (const [name, value] of Object.entries(corsHeaders(origin))) c.res.headers.set(name, value);
    } catch {
      // Immutable headers (an upstream Response passed through): the browser then refuses to read it.
    }
  };
}

/** What an allowed page may read of an answer: the body, and the MCP headers a client needs. */
const corsHeaders = (origin: string) => ({
  "access-control-allow-origin": origin,
  "access-control-expose-headers":
    "mcp-session-id, mcp-protocol-version, x-request-id, retry-after, www-authenticate",
  vary: "Origin",
});

const PREFLIGHT = {
  "access-control-allow-methods": "GET, POST, DELETE",
  "access-control-allow-headers":
    "content-type, accept, mcp-protocol-version, mcp-session-id, mcp-method, mcp-name, last-event-id, authorization",
  "access-control-max-age": "600",
};

/**
 * Reads a POST body once, bounded, so the rate limiter can echo the JSON-RPC id and the SDK does not
 * parse it again. A body that is not JSON is handed on as bytes for the SDK to answer with its own parse
 * or media-type error. Too large — declared, counted while streaming, or cut off by the server's own
 * cap — is the client's mistake: 413, logged at debug only.
 */
export function readBody(): MiddlewareHandler<EdgeEnv> {
  return async function bodyMiddleware(c, next) {
    if (c.req.method !== "POST") return next();
    const max = c.get("deps").limits.maxBodyBytes;
    const declared = Number(c.req.header("content-length") ?? 0);
    if (declared > max) return tooLarge(c, "declared");
    const bytes = await readBounded(c.req.raw, max).catch(() => null);
    if (bytes === null) return tooLarge(c, "unreadable");
    if (bytes === "too_large") return tooLarge(c, "streamed");
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      parsed = undefined;
    }
    c.set("parsedBody", parsed);
    c.set("bodyBytes", bytes);
    await next();
  };
}

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

function tooLarge(c: Context<EdgeEnv>, how: "declared" | "streamed" | "unreadable"): Response {
  c.get("deps").log.debug("request body refused", { requestId: c.get("requestId"), how });
  return c.json(
    { error: "Request body too large", code: "PAYLOAD_TOO_LARGE", requestId: c.get("requestId") },
    413,
  );
}
