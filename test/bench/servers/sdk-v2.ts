// Child process: the bare SDK v2 server, as its documentation writes a stateless one. `createMcpHandler`
// behind `Bun.serve`, a new McpServer per request from the factory, one tool `get_file_nodes` (zod input
// schema, built once) that calls the shared fake upstream with the URL's token as `X-Figma-Token`.
import { createMcpHandler, McpServer } from "@modelcontextprotocol/server";
import { z } from "zod";
import { fetchNodes, ready, serveByToken, upstreamUrl } from "../common.ts";

const upstream = upstreamUrl();
const input = z.object({ file_key: z.string(), ids: z.string() });

const handler = createMcpHandler(
  (ctx) => {
    const figmaKey = ctx.authInfo?.token ?? "";
    const server = new McpServer({ name: "bench-sdk-v2", version: "1.0.0" });
    server.registerTool(
      "get_file_nodes",
      { description: "Nodes of a Figma file by id.", inputSchema: input },
      async ({ file_key, ids }) => {
        const res = await fetchNodes(upstream, figmaKey, file_key, ids);
        return res.ok
          ? { content: [{ type: "text", text: res.text }] }
          : { content: [{ type: "text", text: `Figma answered ${res.status}: ${res.text}` }], isError: true };
      },
    );
    return server;
  },
  { legacy: "stateless" },
);

const server = serveByToken((req, token) =>
  handler.fetch(req, { authInfo: { token, clientId: "bench", scopes: [] } }),
);

ready({ url: `http://127.0.0.1:${server.port}` }, async () => {
  await handler.close();
  await server.stop(true);
});
