/**
 * A 2025-era MCP server that keeps sessions (the 1.x SDK's web-standard Streamable HTTP transport, one per
 * `Mcp-Session-Id`), for test/relay.faithful.test.ts: what a relay must pass through untouched, and what it
 * must survive.
 *
 * - Lists page: `tools/list`, `resources/list` and `prompts/list` answer two pages (`nextCursor: "page-2"`);
 *   `toolsPerPage` more tools (`pad_<page>_<n>`) on each page of tools; `endlessPages`: tools/list always hands
 *   out a next cursor. Each page of tools carries `_meta: { "com.example/page": <n> }`.
 * - Tools: `meta` answers the `_meta` it received (as JSON text); `rpc_error` fails with JSON-RPC error
 *   -32050 (`custom failure`, data `{ detail: "kept", auth: <the caller's Authorization> }`); `echo` echoes `text`; `hang` never answers;
 *   `unstructured` declares an output schema and answers without structured content; `client_caps` answers the
 *   capabilities its client (the relay) declared at `initialize`; `sign_in` fails with -32042 (URL elicitation
 *   required, `https://example.com/sign-in`) the first time in a session, then answers "signed in".
 * - `expireSessions()` forgets every session: the next request carrying an old id gets 404, as the spec says
 *   a server answers a session it no longer knows.
 * - `json: true` answers requests with JSON bodies instead of SSE streams.
 *
 * Every JSON-RPC message received is recorded (method, params, session id) in `messages`.
 */
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import {
  CallToolRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListToolsRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";

export interface SessionMcpMessage {
  method: string;
  params?: Record<string, unknown>;
  session: string | null;
  /** The request's Authorization header, if any. */
  authorization: string | null;
}

export interface SessionMcp {
  url: string;
  messages: SessionMcpMessage[];
  /** Methods received, in order. */
  methods(): string[];
  /** Sessions started (initialize answered). */
  sessionsStarted(): number;
  expireSessions(): void;
  stop(): Promise<void>;
}

const pageOf = <T>(cursor: unknown, first: T[], second: T[]) =>
  cursor === "page-2" ? { items: second } : { items: first, nextCursor: "page-2" };

function newServer(pad: number, endless: boolean): Server {
  let signIns = 0;
  const server = new Server(
    { name: "session-mcp", version: "1.0.0" },
    { capabilities: { tools: {}, resources: {}, prompts: {} } },
  );
  server.setRequestHandler(ListToolsRequestSchema, (req) => {
    const tool = (name: string) => ({ name, inputSchema: { type: "object" as const, properties: {} } });
    const padding = (page: number) => Array.from({ length: pad }, (_, i) => tool(`pad_${page}_${i}`));
    const page = pageOf(
      req.params?.cursor,
      [
        ...["meta", "rpc_error", "echo", "hang"].map(tool),
        {
          ...tool("unstructured"),
          outputSchema: { type: "object" as const, properties: { n: { type: "number" } }, required: ["n"] },
        },
        ...padding(1),
      ],
      [tool("second_page_tool"), ...padding(2)],
    );
    if (endless) {
      const n = Number(String(req.params?.cursor ?? "page-1").slice(5)) || 1;
      return { tools: page.items, nextCursor: `page-${n + 1}` };
    }
    return {
      tools: page.items,
      ...(page.nextCursor && { nextCursor: page.nextCursor }),
      _meta: { "com.example/page": page.nextCursor ? 1 : 2 },
    };
  });
  server.setRequestHandler(ListResourcesRequestSchema, (req) => {
    const page = pageOf(
      req.params?.cursor,
      [{ uri: "memo://one", name: "one" }],
      [{ uri: "memo://two", name: "two" }],
    );
    return { resources: page.items, ...(page.nextCursor && { nextCursor: page.nextCursor }) };
  });
  server.setRequestHandler(ListPromptsRequestSchema, (req) => {
    const page = pageOf(req.params?.cursor, [{ name: "first" }], [{ name: "second" }]);
    return { prompts: page.items, ...(page.nextCursor && { nextCursor: page.nextCursor }) };
  });
  server.setRequestHandler(CallToolRequestSchema, async (req, extra) => {
    const { name } = req.params;
    if (name === "sign_in") {
      // The 2025-11-25 way to send a user to a web page: -32042 until the user has been there (here: until the
      // call is made again).
      if (signIns++ === 0) {
        throw Object.assign(new Error("This call needs you to sign in."), {
          code: -32042,
          data: {
            elicitations: [
              { mode: "url", message: "Sign in", url: "https://example.com/sign-in", elicitationId: "e-1" },
            ],
          },
        });
      }
      return { content: [{ type: "text", text: "signed in" }] };
    }
    if (name === "client_caps") {
      return { content: [{ type: "text", text: JSON.stringify(server.getClientCapabilities() ?? null) }] };
    }
    if (name === "meta") {
      return { content: [{ type: "text", text: JSON.stringify(req.params._meta ?? null) }] };
    }
    // Not McpError: its message would carry "MCP error -32050: " on the wire.
    // Declares an output schema and answers without structured content: a careless server, whose result the
    // client (not a relay) judges.
    if (name === "unstructured") return { content: [{ type: "text", text: "no structure" }] };
    if (name === "rpc_error") {
      // Quotes the caller's Authorization in its data, as a careless server might: the relay redacts it.
      const auth = extra.requestInfo?.headers.authorization;
      throw Object.assign(new Error("custom failure"), { code: -32050, data: { detail: "kept", auth } });
    }
    if (name === "hang") {
      await new Promise<void>((resolve) => extra.signal.addEventListener("abort", () => resolve()));
      return { content: [] };
    }
    return { content: [{ type: "text", text: String(req.params.arguments?.text ?? "") }] };
  });
  return server;
}

export async function startSessionMcp(
  opts: { json?: boolean; toolsPerPage?: number; endlessPages?: boolean } = {},
): Promise<SessionMcp> {
  const messages: SessionMcpMessage[] = [];
  const sessions = new Map<string, { transport: WebStandardStreamableHTTPServerTransport; server: Server }>();
  let started = 0;

  const record = (body: unknown, session: string | null, authorization: string | null) => {
    for (const message of Array.isArray(body) ? body : [body]) {
      if (message && typeof message === "object" && "method" in message) {
        const { method, params } = message as { method: string; params?: Record<string, unknown> };
        messages.push({ method, ...(params && { params }), session, authorization });
      }
    }
  };

  const http = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    async fetch(req) {
      if (new URL(req.url).pathname !== "/mcp") return new Response("not found", { status: 404 });
      const sessionId = req.headers.get("mcp-session-id");
      let body: unknown;
      if (req.method === "POST") {
        const text = await req.text();
        try {
          body = JSON.parse(text);
        } catch {
          return new Response("bad json", { status: 400 });
        }
        record(body, sessionId, req.headers.get("authorization"));
      }
      if (sessionId) {
        const known = sessions.get(sessionId);
        if (!known) {
          return Response.json(
            { jsonrpc: "2.0", error: { code: -32001, message: "Session not found" }, id: null },
            { status: 404 },
          );
        }
        return known.transport.handleRequest(req, { parsedBody: body });
      }
      const isInitialize = (body as { method?: string } | undefined)?.method === "initialize";
      if (req.method !== "POST" || !isInitialize) {
        // `server/discover` and the like, outside a session: this is a 2025-era server.
        const id = (body as { id?: unknown } | undefined)?.id ?? null;
        return Response.json(
          { jsonrpc: "2.0", error: { code: -32600, message: "Bad Request: no session" }, id },
          { status: 400 },
        );
      }
      const server = newServer(opts.toolsPerPage ?? 0, opts.endlessPages === true);
      const transport = new WebStandardStreamableHTTPServerTransport({
        sessionIdGenerator: () => crypto.randomUUID(),
        enableJsonResponse: opts.json === true,
        onsessioninitialized: (id) => {
          started++;
          sessions.set(id, { transport, server });
        },
      });
      await server.connect(transport);
      return transport.handleRequest(req, { parsedBody: body });
    },
  });

  return {
    url: `http://127.0.0.1:${http.port}/mcp`,
    messages,
    methods: () => messages.map((m) => m.method),
    sessionsStarted: () => started,
    expireSessions() {
      const old = [...sessions.values()];
      sessions.clear();
      for (const { server } of old) void server.close().catch(() => {});
    },
    async stop() {
      await Promise.all([...sessions.values()].map((s) => s.server.close().catch(() => {})));
      sessions.clear();
      await http.stop(true);
    },
  };
}
