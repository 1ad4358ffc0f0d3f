/**
 * A remote MCP server (Streamable HTTP, 2026-07-28 and the 2025 era, stateless) that misbehaves on purpose,
 * for test/proxied.faults.test.ts; and a TCP black hole.
 *
 * Behaviour is chosen per caller (the `Authorization` header, so tests sharing one server never meet), with
 * `setMode`: `serve` (default), `hang` (the HTTP request is accepted and never answered), `redirect` (every
 * request gets a 3xx to `location`). While served, the tools misbehave by name:
 * - `ok`: answers "ok";
 * - `hang`: never answers; its abort (the caller went away or cancelled) is recorded;
 * - `flood`: `count` progress (when asked for) and log notifications, then the answer;
 * - `huge_json`: a JSON-RPC response of `HUGE_BYTES` as `application/json`;
 * - `huge_sse`: the same response as one SSE event on a stream that then stays open until the reader
 *   cancels it (which is recorded).
 * Every HTTP request and every event is recorded with the caller's `Authorization` value.
 */
import { createMcpHandler, ProtocolError, ProtocolErrorCode, Server } from "@modelcontextprotocol/server";

/** A 20 MB message: over every bound the platform sets on one upstream message. */
export const HUGE_BYTES = 20 * 1024 * 1024;

export type FaultMode =
  | { kind: "serve" }
  | { kind: "hang" }
  | { kind: "redirect"; status: 301 | 302 | 303 | 307 | 308; location: string };

export interface FaultEvent {
  /** The `Authorization` value of the request ("" without one). */
  who: string;
  /** `call <tool>`, `aborted hang`, `sent huge_json <bytes>`, `cancelled huge_sse <bytes>`, ... */
  what: string;
}

export interface FaultyMcp {
  /** `http://127.0.0.1:<port>/mcp`. */
  url: string;
  port: number;
  setMode(authorization: string, mode: FaultMode): void;
  requests: { method: string; path: string; who: string }[];
  events: FaultEvent[];
  /** Events of one caller, in order. */
  eventsOf(authorization: string): string[];
  /** HTTP requests the server has not finished answering. */
  pending(): number;
  stop(): Promise<void>;
}

const VERSIONS = ["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"];
const TOOLS = ["ok", "hang", "flood", "huge_json", "huge_sse"].map((name) => ({
  name,
  inputSchema: { type: "object" as const, properties: {} },
}));

/** A response body of `HUGE_BYTES` text inside a JSON-RPC result, produced in chunks as it is read. */
function hugeBody(
  id: unknown,
  framing: "json" | "sse",
  done: (what: "sent" | "cancelled", bytes: number) => void,
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const head = `${framing === "sse" ? "event: message\ndata: " : ""}{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":{"resultType":"complete","content":[{"type":"text","text":"`;
  const tail = `"}]}}${framing === "sse" ? "\n\n" : ""}`;
  const chunk = encoder.encode("x".repeat(64 * 1024));
  let sent = 0;
  let stage: "head" | "body" | "tail" | "open" = "head";
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (stage === "head") {
        stage = "body";
        controller.enqueue(encoder.encode(head));
      } else if (stage === "body") {
        controller.enqueue(chunk);
        sent += chunk.byteLength;
        if (sent >= HUGE_BYTES) stage = "tail";
      } else if (stage === "tail") {
        controller.enqueue(encoder.encode(tail));
        if (framing === "json") {
          done("sent", sent);
          controller.close();
        } else stage = "open";
      } else {
        // An SSE stream that stays open: only the reader can end it.
        return new Promise<void>(() => {});
      }
    },
    cancel() {
      done("cancelled", sent);
    },
  });
}

export async function startFaultyMcp(): Promise<FaultyMcp> {
  const modes = new Map<string, FaultMode>();
  const requests: FaultyMcp["requests"] = [];
  const events: FaultEvent[] = [];
  const record = (who: string, what: string) => events.push({ who, what });

  const handler = createMcpHandler(
    (ctx) => {
      const who = ctx.requestInfo?.headers.get("authorization") ?? "";
      const server = new Server(
        { name: "faulty-mcp", version: "1.0.0" },
        { capabilities: { tools: {}, logging: {} }, supportedProtocolVersions: VERSIONS },
      );
      server.setRequestHandler("tools/list", () => ({ tools: TOOLS }));
      server.setRequestHandler("tools/call", async (req, c) => {
        const name = req.params.name;
        record(who, `call ${name}`);
        if (name === "ok") return { content: [{ type: "text", text: "ok" }] };
        if (name === "hang") {
          const signal = c.mcpReq.signal;
          await new Promise<void>((resolve) => {
            if (signal.aborted) resolve();
            signal.addEventListener("abort", () => resolve(), { once: true });
          });
          record(who, "aborted hang");
          throw new ProtocolError(ProtocolErrorCode.InternalError, "cancelled");
        }
        if (name === "flood") {
          const count = Number(req.params.arguments?.count ?? 5000);
          const progressToken = req.params._meta?.progressToken;
          for (let i = 1; i <= count; i++) {
            if (progressToken !== undefined) {
              await c.mcpReq.notify({
                method: "notifications/progress",
                params: { progressToken, progress: i, total: count },
              });
            }
            await c.mcpReq.notify({
              method: "notifications/message",
              params: { level: "info", data: `flood ${i}` },
            });
          }
          record(who, `flooded ${count}`);
          return { content: [{ type: "text", text: `flooded ${count}` }] };
        }
        throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown tool: ${name}`);
      });
      return server;
    },
    { legacy: "stateless" },
  );

  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    async fetch(req) {
      const url = new URL(req.url);
      const who = req.headers.get("authorization") ?? "";
      requests.push({ method: req.method, path: url.pathname + url.search, who });
      const mode = modes.get(who) ?? { kind: "serve" };
      if (mode.kind === "redirect") {
        return new Response(null, { status: mode.status, headers: { location: mode.location } });
      }
      if (mode.kind === "hang") {
        record(who, `hang ${req.method}`);
        // Accepted, never answered: only the caller going away ends it.
        await new Promise<void>((resolve) => req.signal.addEventListener("abort", () => resolve()));
        record(who, `gone ${req.method}`);
        return new Response(null, { status: 499 });
      }
      if (url.pathname !== "/mcp") return new Response("not found", { status: 404 });
      let parsedBody: unknown;
      if (req.method === "POST") {
        try {
          parsedBody = JSON.parse(await req.text());
        } catch {
          return new Response("bad json", { status: 400 });
        }
        const message = parsedBody as { id?: unknown; method?: string; params?: { name?: string } };
        const tool = message.method === "tools/call" ? message.params?.name : undefined;
        if (tool === "huge_json" || tool === "huge_sse") {
          record(who, `call ${tool}`);
          const framing = tool === "huge_json" ? "json" : "sse";
          const body = hugeBody(message.id, framing, (what, bytes) =>
            record(who, `${what} ${tool} ${bytes}`),
          );
          const type = framing === "json" ? "application/json" : "text/event-stream";
          return new Response(body, { headers: { "content-type": type } });
        }
      }
      return handler.fetch(req, parsedBody === undefined ? undefined : { parsedBody });
    },
  });

  return {
    url: `http://127.0.0.1:${server.port}/mcp`,
    port: server.port ?? 0,
    setMode: (authorization, mode) => void modes.set(authorization, mode),
    requests,
    events,
    eventsOf: (authorization) => events.filter((e) => e.who === authorization).map((e) => e.what),
    pending: () => server.pendingRequests,
    async stop() {
      await handler.close();
      await server.stop(true);
    },
  };
}

export interface BlackHole {
  /** `http://127.0.0.1:<port>/mcp`. */
  url: string;
  /** Connections accepted so far. */
  accepted(): number;
  /** Connections still open. */
  open(): number;
  stop(): void;
}

/** A TCP server that accepts every connection and never sends a byte. */
export function startBlackHole(): BlackHole {
  let accepted = 0;
  const open = new Set<unknown>();
  const listener = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(socket) {
        accepted++;
        open.add(socket);
      },
      data() {},
      close(socket) {
        open.delete(socket);
      },
      error(socket) {
        open.delete(socket);
      },
    },
  });
  return {
    url: `http://127.0.0.1:${listener.port}/mcp`,
    accepted: () => accepted,
    open: () => open.size,
    stop: () => listener.stop(true),
  };
}
