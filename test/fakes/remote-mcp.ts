/**
 * Fake "user's own" remote MCP servers, for the custom-upstream feature (`instances.connectCustom`).
 *
 * - `streamable`: the v2 server SDK's `createMcpHandler` behind `Bun.serve`, at `/mcp`. Serves the
 *   2026-07-28 revision and, statelessly, the 2025 era on the same URL.
 * - `sse`: the legacy 2024-11-05 HTTP+SSE transport of the 1.x SDK on a `node:http` server:
 *   `GET /sse` opens the stream, `POST /messages?sessionId=…` carries the client's messages.
 *
 * Both listen on 127.0.0.1 (port 0), record every HTTP request, answer 401 before any MCP handling
 * when a `requiredHeaders` entry is missing or different, and expose the same tools.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Server as V1Server } from "@modelcontextprotocol/sdk/server/index.js";
import { SSEServerTransport } from "@modelcontextprotocol/sdk/server/sse.js";
import {
  CallToolRequestSchema,
  ListToolsRequestSchema,
  ErrorCode as V1ErrorCode,
  McpError as V1McpError,
} from "@modelcontextprotocol/sdk/types.js";
import {
  type CallToolResult,
  createMcpHandler,
  ProtocolError,
  ProtocolErrorCode,
  type Tool,
  Server as V2Server,
} from "@modelcontextprotocol/server";

/** Every revision the streamable fake serves: the 2026 one via `server/discover`, the 2025 ones via `initialize`. */
export const REMOTE_MCP_VERSIONS = ["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"];

export type RemoteToolResult = CallToolResult;

/** What a tool sees of the HTTP request that carried the call (header names lower-case). */
export interface RemoteToolContext {
  headers: Record<string, string>;
}

export interface RemoteTool {
  name: string;
  description?: string;
  inputSchema: Tool["inputSchema"];
  /** Advertised as is; the fake does not enforce it (a careless or hostile server may not either). */
  outputSchema?: Tool["outputSchema"];
  /** Advertised as is (e.g. `readOnlyHint`, which the platform's read-only mode relies on). */
  annotations?: Tool["annotations"];
  run(args: Record<string, unknown>, ctx: RemoteToolContext): RemoteToolResult | Promise<RemoteToolResult>;
}

export interface RemoteMcpOptions {
  kind?: "streamable" | "sse";
  /**
   * Header name → the exact value (or one of the values: several users' keys) every HTTP request must
   * carry; otherwise 401 before any MCP handling.
   */
  requiredHeaders?: Record<string, string | readonly string[]>;
  /** Extra tools, added to `echo`, `add` and `fail` (a tool of the same name replaces the default). */
  tools?: RemoteTool[];
}

export interface RemoteMcpRequest {
  method: string;
  /** Path and query, e.g. `/messages?sessionId=…`. */
  path: string;
  /** Lower-case header names. */
  headers: Record<string, string>;
}

export interface RemoteMcp {
  /** The URL a user would paste: `…/mcp` (streamable) or `…/sse` (sse). */
  url: string;
  requests: RemoteMcpRequest[];
  stop(): Promise<void>;
}

const text = (value: string, isError = false): RemoteToolResult =>
  isError
    ? { content: [{ type: "text", text: value }], isError }
    : { content: [{ type: "text", text: value }] };

/** The tools every fake exposes. */
export const DEFAULT_REMOTE_TOOLS: RemoteTool[] = [
  {
    name: "echo",
    description: "Echoes the text back, with the caller's x-user-marker header (reversed) when present.",
    inputSchema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] },
    run(args, ctx) {
      if (typeof args.text !== "string") return text("echo: `text` must be a string", true);
      const marker = ctx.headers["x-user-marker"];
      // Reversed: the platform redacts a user's header values from what their server sends back.
      const reversed = marker === undefined ? undefined : [...marker].reverse().join("");
      return text(reversed === undefined ? args.text : `${args.text} (marker reversed: ${reversed})`);
    },
  },
  {
    name: "add",
    description: "Adds two numbers.",
    inputSchema: {
      type: "object",
      properties: { a: { type: "number" }, b: { type: "number" } },
      required: ["a", "b"],
    },
    run(args) {
      if (typeof args.a !== "number" || typeof args.b !== "number") {
        return text("add: `a` and `b` must be numbers", true);
      }
      return text(String(args.a + args.b));
    },
  },
  {
    name: "fail",
    description: "Always fails, as a tool error.",
    inputSchema: { type: "object", properties: {} },
    run: () => text("fail: this tool always fails", true),
  },
];

function toolbox(extra: RemoteTool[] = []) {
  const byName = new Map<string, RemoteTool>();
  for (const tool of [...DEFAULT_REMOTE_TOOLS, ...extra]) byName.set(tool.name, tool);
  const list = () =>
    [...byName.values()].map(({ name, description, inputSchema, outputSchema, annotations }) => ({
      name,
      ...(description !== undefined && { description }),
      inputSchema,
      ...(outputSchema !== undefined && { outputSchema }),
      ...(annotations !== undefined && { annotations }),
    }));
  return { byName, list };
}

function headersOfRequest(req: Request): Record<string, string> {
  const out: Record<string, string> = {};
  req.headers.forEach((value, name) => {
    out[name.toLowerCase()] = value;
  });
  return out;
}

function headersOfNode(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

function missingHeader(
  headers: Record<string, string>,
  required?: Record<string, string | readonly string[]>,
): string | null {
  for (const [name, value] of Object.entries(required ?? {})) {
    const given = headers[name.toLowerCase()];
    const accepted = typeof value === "string" ? [value] : value;
    if (given === undefined || !accepted.includes(given)) return name;
  }
  return null;
}

const unauthorizedBody = (name: string) => JSON.stringify({ error: "unauthorized", missing: name });

/**
 * Resources (a text one carrying the caller's `x-user-marker`, a binary one, a template), a prompt with an
 * argument and its completions, and a log level: what a relay must pass through beside tools.
 */
function addResourcesAndPrompts(server: V2Server, headers: Record<string, string>): void {
  server.setRequestHandler("resources/list", () => ({
    resources: [
      { uri: "memo://notes", name: "notes", mimeType: "text/plain" },
      { uri: "memo://logo", name: "logo", mimeType: "image/png" },
    ],
  }));
  server.setRequestHandler("resources/templates/list", () => ({
    resourceTemplates: [{ uriTemplate: "memo://notes/{id}", name: "note" }],
  }));
  server.setRequestHandler("resources/read", (req) => {
    const { uri } = req.params;
    if (uri === "memo://notes") {
      return {
        contents: [
          { uri, mimeType: "text/plain", text: `notes for ${headers["x-user-marker"] ?? "anyone"}` },
        ],
      };
    }
    if (uri === "memo://logo") {
      return {
        contents: [{ uri, mimeType: "image/png", blob: Buffer.from([137, 80, 78, 71]).toString("base64") }],
      };
    }
    throw new ProtocolError(-32002, `Resource not found: ${uri}`);
  });
  server.setRequestHandler("prompts/list", () => ({
    prompts: [
      { name: "greet", description: "Greets someone.", arguments: [{ name: "who", required: true }] },
    ],
  }));
  server.setRequestHandler("prompts/get", (req) => {
    if (req.params.name !== "greet")
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, "Unknown prompt");
    const who = req.params.arguments?.who ?? "nobody";
    return { messages: [{ role: "user", content: { type: "text", text: `Say hello to ${who}.` } }] };
  });
  server.setRequestHandler("completion/complete", (req) => {
    const values = ["ada", "alan", "grace"].filter((v) => v.startsWith(req.params.argument.value));
    return { completion: { values, total: values.length, hasMore: false } };
  });
  server.setRequestHandler("logging/setLevel", () => ({}));
}

/** Starts a fake remote MCP server on 127.0.0.1 with a free port. */
export async function startRemoteMcp(opts: RemoteMcpOptions = {}): Promise<RemoteMcp> {
  return opts.kind === "sse" ? startSse(opts) : startStreamable(opts);
}

async function startStreamable(opts: RemoteMcpOptions): Promise<RemoteMcp> {
  const tools = toolbox(opts.tools);
  const requests: RemoteMcpRequest[] = [];
  const handler = createMcpHandler(
    (ctx) => {
      const headers = ctx.requestInfo ? headersOfRequest(ctx.requestInfo) : {};
      const server = new V2Server(
        { name: "fake-remote-mcp", version: "1.0.0" },
        {
          capabilities: { tools: {}, resources: {}, prompts: {}, completions: {}, logging: {} },
          supportedProtocolVersions: REMOTE_MCP_VERSIONS,
        },
      );
      server.setRequestHandler("tools/list", () => ({ tools: tools.list() }));
      server.setRequestHandler("tools/call", async (req, c) => {
        const progressToken = req.params._meta?.progressToken;
        if (req.params.name === "count" && progressToken !== undefined) {
          for (let i = 1; i <= 3; i++) {
            await c.mcpReq.notify({
              method: "notifications/progress",
              params: { progressToken, progress: i, total: 3, message: `step ${i}` },
            });
          }
          return text("counted to 3");
        }
        if (req.params.name === "chatty") {
          // Quotes the caller's credentials as is, in a log message and in its progress (as a server logging
          // its own request might): the platform redacts a user's secrets from everything their server
          // sends, not only from its answers.
          const quoted = `${headers.authorization ?? ""} ${headers["x-user-marker"] ?? ""}`;
          await c.mcpReq.notify({
            method: "notifications/message",
            params: { level: "error", logger: `lg ${quoted}`, data: { request: quoted } },
          });
          if (progressToken !== undefined) {
            await c.mcpReq.notify({
              method: "notifications/progress",
              params: { progressToken, progress: 1, total: 1, message: `sent ${quoted}` },
            });
          }
          return text("chatted");
        }
        const tool = tools.byName.get(req.params.name);
        if (!tool)
          throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown tool: ${req.params.name}`);
        return tool.run(req.params.arguments ?? {}, { headers });
      });
      addResourcesAndPrompts(server, headers);
      return server;
    },
    { legacy: "stateless" },
  );
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const url = new URL(req.url);
      const headers = headersOfRequest(req);
      requests.push({ method: req.method, path: url.pathname + url.search, headers });
      const missing = missingHeader(headers, opts.requiredHeaders);
      if (missing !== null) {
        return new Response(unauthorizedBody(missing), {
          status: 401,
          headers: { "content-type": "application/json" },
        });
      }
      if (url.pathname !== "/mcp") return new Response("not found", { status: 404 });
      return handler.fetch(req);
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}/mcp`,
    requests,
    async stop() {
      await handler.close();
      await server.stop(true);
    },
  };
}

async function startSse(opts: RemoteMcpOptions): Promise<RemoteMcp> {
  const tools = toolbox(opts.tools);
  const requests: RemoteMcpRequest[] = [];
  const sessions = new Map<string, { transport: SSEServerTransport; server: V1Server }>();

  function newServer(): V1Server {
    const server = new V1Server(
      { name: "fake-remote-mcp-sse", version: "1.0.0" },
      { capabilities: { tools: {} } },
    );
    server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: tools.list() }));
    server.setRequestHandler(CallToolRequestSchema, async (req, extra) => {
      const tool = tools.byName.get(req.params.name);
      if (!tool) throw new V1McpError(V1ErrorCode.InvalidParams, `Unknown tool: ${req.params.name}`);
      // The POST that carried this call: its headers, not the ones that opened the stream.
      const headers = headersOfNode(extra.requestInfo?.headers ?? {});
      return tool.run(req.params.arguments ?? {}, { headers });
    });
    return server;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const headers = headersOfNode(req.headers);
    requests.push({ method: req.method ?? "", path: url.pathname + url.search, headers });
    const missing = missingHeader(headers, opts.requiredHeaders);
    if (missing !== null) {
      res.writeHead(401, { "content-type": "application/json" }).end(unauthorizedBody(missing));
      return;
    }
    if (req.method === "GET" && url.pathname === "/sse") {
      const transport = new SSEServerTransport("/messages", res);
      const server = newServer();
      sessions.set(transport.sessionId, { transport, server });
      transport.onclose = () => sessions.delete(transport.sessionId);
      await server.connect(transport); // starts the stream and sends the `endpoint` event
      return;
    }
    if (req.method === "POST" && url.pathname === "/messages") {
      const session = sessions.get(url.searchParams.get("sessionId") ?? "");
      if (!session) {
        res.writeHead(404, { "content-type": "text/plain" }).end("unknown session");
        return;
      }
      await session.transport.handlePostMessage(req, res);
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" }).end("not found");
  }

  const http = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end(error instanceof Error ? error.message : "internal error");
    });
  });
  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/sse`,
    requests,
    async stop() {
      await Promise.all([...sessions.values()].map((s) => s.server.close().catch(() => {})));
      sessions.clear();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
