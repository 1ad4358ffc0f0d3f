// Child process: the hand-written floor, what serving one tools/call cannot go below. Hono on Bun parses the
// JSON-RPC call by hand, makes one kv GET of the URL's token (a Redis GET through ioredis when REDIS_URL is
// set, else a Map lookup) for the upstream key, makes the upstream call and writes the JSON-RPC result by
// hand. No MCP SDK, no validation beyond what the answer needs, the same answer for every protocol era.
import { Hono } from "hono";
import { Redis } from "ioredis";
import { FAKE_FIGMA_KEY, fetchNodes, ready, upstreamUrl } from "../common.ts";

const upstream = upstreamUrl();
const token = `floor_${crypto.randomUUID()}`;
const prefix = `bench:floor:${crypto.randomUUID()}:`;

interface Kv {
  get(key: string): Promise<string | null>;
  close(): Promise<void>;
}
async function openKv(): Promise<Kv> {
  const url = process.env.REDIS_URL;
  if (!url) {
    const map = new Map([[prefix + token, FAKE_FIGMA_KEY]]);
    return { get: async (key) => map.get(key) ?? null, close: async () => {} };
  }
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  await redis.set(prefix + token, FAKE_FIGMA_KEY, "EX", 3600);
  return {
    get: (key) => redis.get(key),
    close: async () => {
      await redis.del(prefix + token);
      await redis.quit();
    },
  };
}
const kv = await openKv();

interface Call {
  id?: unknown;
  method?: unknown;
  params?: { name?: unknown; arguments?: { file_key?: unknown; ids?: unknown } };
}
const rpcError = (id: unknown, code: number, message: string) => ({
  jsonrpc: "2.0",
  id: id ?? null,
  error: { code, message },
});

const app = new Hono();
app.post("/:token/mcp", async (c) => {
  let call: Call;
  try {
    call = (await c.req.json()) as Call;
  } catch {
    return c.json(rpcError(null, -32700, "Parse error"), 400);
  }
  const figmaKey = await kv.get(prefix + c.req.param("token"));
  if (figmaKey === null) return c.json({ error: "Invalid instance" }, 401);
  const args = call.params?.arguments;
  if (
    call.method !== "tools/call" ||
    call.params?.name !== "get_file_nodes" ||
    typeof args?.file_key !== "string" ||
    typeof args.ids !== "string"
  ) {
    return c.json(rpcError(call.id, -32602, "Only get_file_nodes is served"));
  }
  const res = await fetchNodes(upstream, figmaKey, args.file_key, args.ids);
  const result = res.ok
    ? { content: [{ type: "text", text: res.text }] }
    : { content: [{ type: "text", text: `Figma answered ${res.status}: ${res.text}` }], isError: true };
  return c.json({ jsonrpc: "2.0", id: call.id, result });
});

const server = Bun.serve({ hostname: "127.0.0.1", port: 0, idleTimeout: 60, fetch: app.fetch });

ready(
  { url: `http://127.0.0.1:${server.port}/${token}/mcp`, kv: process.env.REDIS_URL ? "redis" : "map" },
  async () => {
    await server.stop(true);
    await kv.close();
  },
);
