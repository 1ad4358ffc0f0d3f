// Child process: the bare SDK 1.x server, stateless (`sessionIdGenerator: undefined`) with JSON responses,
// on Bun.serve through the SDK's web-standard Streamable HTTP transport (the one its node:http transport
// wraps). One tool `get_file_nodes` (zod input schema, built once) that calls the shared fake upstream with
// the URL's token as `X-Figma-Token`.
//
// What is shared: the SDK 1.x refuses to reuse a stateless transport ("Create a new transport per
// request") and a server connected to one transport cannot connect another until it is closed, so one
// McpServer cannot serve concurrent requests. Server construction is shared as far as that permits: a pool
// of McpServers (one per request in flight, at most the number of connections), each reconnected to a
// fresh transport per request, all with ONE JSON-schema validator. BENCH_SDK1_MODE=fresh builds a new
// McpServer per request instead (still with the shared validator), as the SDK's stateless example does.
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv";
import { z } from "zod";
import { fetchNodes, ready, serveByToken, upstreamUrl } from "../common.ts";

const upstream = upstreamUrl();
const fresh = process.env.BENCH_SDK1_MODE === "fresh";
const jsonSchemaValidator = new AjvJsonSchemaValidator();
const input = { file_key: z.string(), ids: z.string() };
let built = 0;

function newServer(): McpServer {
  built++;
  const server = new McpServer({ name: "bench-sdk-v1", version: "1.0.0" }, { jsonSchemaValidator });
  server.registerTool(
    "get_file_nodes",
    { description: "Nodes of a Figma file by id.", inputSchema: input },
    async ({ file_key, ids }, extra) => {
      const res = await fetchNodes(upstream, extra.authInfo?.token ?? "", file_key, ids);
      return res.ok
        ? { content: [{ type: "text", text: res.text }] }
        : { content: [{ type: "text", text: `Figma answered ${res.status}: ${res.text}` }], isError: true };
    },
  );
  return server;
}

const idle: McpServer[] = [];

async function handle(req: Request, token: string): Promise<Response> {
  const server = (!fresh && idle.pop()) || newServer();
  const transport = new WebStandardStreamableHTTPServerTransport({
    sessionIdGenerator: undefined,
    enableJsonResponse: true,
  });
  try {
    await server.connect(transport);
    return await transport.handleRequest(req, { authInfo: { token, clientId: "bench", scopes: [] } });
  } finally {
    // Closing the transport disconnects the server, which can then take the next request's transport.
    await transport.close();
    if (!fresh) idle.push(server);
  }
}

const server = serveByToken(handle);

ready({ url: `http://127.0.0.1:${server.port}`, mode: fresh ? "fresh" : "pool" }, async () => {
  process.stderr.write(`sdk-v1: ${built} McpServer(s) built\n`);
  await server.stop(true);
});
