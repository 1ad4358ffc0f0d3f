import { hostHeaderValidationResponse } from "@modelcontextprotocol/server";
import type { MiddlewareHandler } from "hono";
import type { EdgeEnv } from "../deps.ts";

/**
 * DNS-rebinding and cross-site guards from the MCP spec: a browser Origin must be allowed (403), and
 * when bound to loopback the Host header must name an allowed host (403).
 */
export function originAndHost(): MiddlewareHandler<EdgeEnv> {
  return async function guardMiddleware(c, next) {
    const { allowedOrigins, allowedHosts } = c.var.deps;
    const origin = c.req.header("origin");
    if (origin && !allowedOrigins.includes(origin)) {
      return c.json({ error: "Origin not allowed", code: "FORBIDDEN", requestId: c.var.requestId }, 403);
    }
    if (allowedHosts.length > 0) {
      const rejected = hostHeaderValidationResponse(c.req.raw, allowedHosts);
      if (rejected)
        return c.json({ error: "Host not allowed", code: "FORBIDDEN", requestId: c.var.requestId }, 403);
    }
    await next();
  };
}

/**
 * Reads a POST body once, bounded, so the rate limiter can echo the JSON-RPC id and the SDK does not
 * parse it again. Bodies that are not JSON are left for the SDK to answer with its own parse error.
 */
export function readBody(): MiddlewareHandler<EdgeEnv> {
  return async function bodyMiddleware(c, next) {
    if (c.req.method !== "POST") return next();
    const max = c.var.deps.limits.maxBodyBytes;
    const declared = Number(c.req.header("content-length") ?? 0);
    if (declared > max) return tooLarge(c.var.requestId);
    // Measured in bytes, not characters: a streamed body (no Content-Length) of multi-byte text must
    // not slip past the limit.
    const bytes = await c.req.raw.clone().arrayBuffer();
    if (bytes.byteLength > max) return tooLarge(c.var.requestId);
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      parsed = undefined;
    }
    if (Array.isArray(parsed) && parsed.length > c.var.deps.limits.maxBatchMessages) {
      const message = `Batch too large: at most ${c.var.deps.limits.maxBatchMessages} messages`;
      return Response.json({ jsonrpc: "2.0", id: null, error: { code: -32600, message } }, { status: 400 });
    }
    c.set("parsedBody", parsed);
    await next();
  };
}

const tooLarge = (requestId: string) =>
  Response.json({ error: "Request body too large", code: "PAYLOAD_TOO_LARGE", requestId }, { status: 413 });
