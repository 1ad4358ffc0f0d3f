// A per-service edge on a loopback bind behind a local reverse proxy that keeps the Host its clients sent: the
// control plane hands out its URLs on SERVICE_<TYPE>_PUBLIC_URL (README → Running under PM2), so that host must
// be accepted by the edge's Host check (the DNS-rebinding defence), as PUBLIC_EDGE_URL's is. Before, every MCP
// request and every `/health` probe through such a proxy was a 403 `Host not allowed`: no instance URL worked,
// and the health monitor found the edge down. Any other name is still refused.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { createEdge } from "@mcp/edge";
import { connectFigma, figmaKeyFor, newUser } from "./client.ts";
import { type Stack, startStack } from "./harness.ts";
import { until } from "./wait.ts";

const SHARED_BACKENDS = Boolean(process.env.DATABASE_URL && process.env.REDIS_URL);

const toolsList = (host: string) => ({
  method: "POST",
  headers: {
    host,
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    "mcp-protocol-version": "2025-06-18",
  },
  body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
});

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

describe("a Figma edge whose public URL is https://figma.mcp.test", () => {
  let edge: Awaited<ReturnType<typeof createEdge>>;
  beforeAll(async () => {
    edge = await createEdge(
      { ...stack.platform.deps, servicePublicUrls: { SERVICE_FIGMA_PUBLIC_URL: "https://figma.mcp.test" } },
      { host: "127.0.0.1", mcpType: "figma" },
    );
  });
  afterAll(async () => {
    await edge?.close();
  });

  test("answers /health and the MCP route to that Host; any other name is 403", async () => {
    const health = await edge.app.request("http://127.0.0.1/health", { headers: { host: "figma.mcp.test" } });
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: "ok", services: ["figma"] });

    const user = await newUser(stack);
    const { instanceUrl } = await connectFigma(stack, user, figmaKeyFor(stack, "hosts"));
    const path = new URL(instanceUrl).pathname;
    const listed = await edge.app.request(`http://127.0.0.1${path}`, toolsList("figma.mcp.test"));
    expect(listed.status).toBe(200);
    expect(await listed.text()).toContain("get_file");

    const other = await edge.app.request("http://127.0.0.1/health", { headers: { host: "evil.test" } });
    expect(other.status).toBe(403);
    expect(await other.json()).toMatchObject({ code: "FORBIDDEN" });
    const otherMcp = await edge.app.request(`http://127.0.0.1${path}`, toolsList("evil.test"));
    expect(otherMcp.status).toBe(403);
    expect(await otherMcp.text()).not.toContain("get_file");
  });
});

/** A free TCP port on 127.0.0.1. */
function freePort(): number {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const { port } = server;
  server.stop(true);
  return port;
}

// The edge as its own process needs the shared PostgreSQL and Redis (it refuses to start without both).
test.skipIf(!SHARED_BACKENDS)(
  "the edge process (MCP_TYPE=figma) accepts its SERVICE_FIGMA_PUBLIC_URL host, and stops on SIGTERM with exit 0",
  async () => {
    const port = freePort();
    const proc = Bun.spawn([process.execPath, resolve(import.meta.dir, "../apps/edge/src/main.ts")], {
      env: {
        PATH: process.env.PATH ?? "",
        MCP_TYPE: "figma",
        PORT: String(port),
        DATABASE_URL: process.env.DATABASE_URL ?? "",
        REDIS_URL: process.env.REDIS_URL ?? "",
        ENCRYPTION_KEYS: "v1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        SERVICE_FIGMA_PUBLIC_URL: `http://figma.mcp.test:${port}`,
        HEALTH_CHECK_INTERVAL_MS: "0",
        LOG_LEVEL: "error",
      },
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      const health = (host: string) =>
        fetch(`http://127.0.0.1:${port}/health`, { headers: { host } }).then(
          (r) => r.status,
          () => 0,
        );
      await until(async () => (await health(`127.0.0.1:${port}`)) === 200, "the edge up", {
        timeoutMs: 60_000,
        everyMs: 100,
      });
      expect(await health(`figma.mcp.test:${port}`)).toBe(200);
      expect(await health(`evil.test:${port}`)).toBe(403);
    } finally {
      proc.kill("SIGTERM");
    }
    expect(await proc.exited).toBe(0);
    const stderr = await new Response(proc.stderr).text();
    expect(stderr).toBe("");
  },
  90_000,
);
