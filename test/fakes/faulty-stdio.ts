// A stdio MCP server that misbehaves on purpose, for test/proxied.faults.test.ts. It is run by the stdio pool
// (`bun faulty-stdio.ts <control dir>`, the user's key in `KEY`) and speaks just enough JSON-RPC by hand for a
// 2025-era client, so that it can also break the protocol.
//
// - Start-up: `<control dir>/<key>.mode` (written by the test; absent = `serve`) picks how it starts: `serve`,
//   `exit` (prints the key on stderr, exits with code 3), `garbage` (prints lines that are not JSON-RPC, the key
//   among them, then idles) or `silent` (never answers anything).
// - Per call, by tool name: `ok`, `hang` (never answers; a `notifications/cancelled` for it is recorded),
//   `flood` (`count` progress and log notifications, then the answer), `garbage` (prints lines that are not
//   JSON-RPC instead of answering).
// - Every pid it ran as is appended to `<control dir>/<key>.pids`, every event to `<control dir>/<key>.events`,
//   so a test can check that each process is gone and what the server saw.
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

const dir = process.argv[2] ?? ".";
const key = process.env.KEY ?? "no-key";
const file = (suffix: string) => join(dir, `${key}.${suffix}`);
const record = (event: string) => appendFileSync(file("events"), `${event}\n`);

appendFileSync(file("pids"), `${process.pid}\n`);
const mode = existsSync(file("mode")) ? readFileSync(file("mode"), "utf8").trim() : "serve";
record(`start ${mode}`);

const idle = () => setInterval(() => {}, 60_000);
const write = (message: Record<string, unknown>) =>
  process.stdout.write(`${JSON.stringify({ jsonrpc: "2.0", ...message })}\n`);
const garbage = (lines: number) => {
  for (let i = 0; i < lines; i++) console.log(`not JSON-RPC, line ${i}, key ${key}`);
};

if (mode === "exit") {
  console.error(`giving up with key ${key}`);
  process.exit(3);
} else if (mode === "garbage") {
  garbage(200);
  idle();
} else if (mode === "silent") {
  idle();
} else {
  serve();
}

function call(id: unknown, params: { name?: string; arguments?: Record<string, unknown>; _meta?: unknown }) {
  const name = params.name ?? "";
  const text = (t: string) => write({ id, result: { content: [{ type: "text", text: t }] } });
  record(`call ${name} ${JSON.stringify(id)}`);
  if (name === "ok") return text("ok");
  if (name === "hang") return; // never answered
  if (name === "garbage") return garbage(200);
  if (name === "flood") {
    const count = Number(params.arguments?.count ?? 5000);
    const progressToken = (params._meta as { progressToken?: unknown } | undefined)?.progressToken;
    for (let i = 1; i <= count; i++) {
      if (progressToken !== undefined) {
        write({ method: "notifications/progress", params: { progressToken, progress: i, total: count } });
      }
      write({ method: "notifications/message", params: { level: "info", data: `flood ${i}` } });
    }
    return text(`flooded ${count}`);
  }
  write({ id, error: { code: -32602, message: `Unknown tool: ${name}` } });
}

function serve() {
  const tools = ["ok", "hang", "flood", "garbage"].map((name) => ({
    name,
    inputSchema: { type: "object" as const },
  }));
  let buffer = "";
  process.stdin.on("data", (chunk) => {
    buffer += chunk.toString();
    for (let nl = buffer.indexOf("\n"); nl !== -1; nl = buffer.indexOf("\n")) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      const msg = JSON.parse(line);
      if (msg.method === "notifications/cancelled")
        record(`cancelled ${JSON.stringify(msg.params?.requestId)}`);
      if (msg.id === undefined) continue;
      if (msg.method === "initialize") {
        write({
          id: msg.id,
          result: {
            protocolVersion: msg.params.protocolVersion,
            capabilities: { tools: {}, logging: {} },
            serverInfo: { name: "faulty-stdio", version: "1.0.0" },
          },
        });
      } else if (msg.method === "tools/list") write({ id: msg.id, result: { tools } });
      else if (msg.method === "tools/call") call(msg.id, msg.params ?? {});
      else if (msg.method === "ping") write({ id: msg.id, result: {} });
      else write({ id: msg.id, error: { code: -32601, message: `Method not found: ${msg.method}` } });
    }
  });
}
