// Per-service edge processes (MCP_TYPE, SERVICE_MODE, PORT, SERVICE_<TYPE>_PUBLIC_URL): the control plane
// hands out a service's instance URLs on that service's own edge, that edge answers tools/call, and it
// answers any other service's token exactly as an unknown one. The Figma edge here is an edge app of its
// own (its own listener, resolver and handlers) on the stack's shared database and kv, as a PM2 process
// would be; the stack's own edge plays the default (dynamic) process.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { parseEnv, servicePublicUrls } from "@mcp/core";
import { assertServedType, createEdge, edgePort, serviceMode } from "@mcp/edge";
import { loadRegistry } from "@mcp/services";
import { connectFigma, data, figmaKeyFor, newUser, trpc } from "./client.ts";
import { type GitHubFake, startGitHubFake } from "./fakes/github.ts";
import { type Stack, startStack } from "./harness.ts";
import { callTool, connect, mcpClient } from "./services/kit.ts";

let stack: Stack;
let github: GitHubFake;
let figmaEdge: Awaited<ReturnType<typeof createEdge>>;
let figmaServer: ReturnType<typeof Bun.serve>;
let figmaEdgeUrl: string;

beforeAll(async () => {
  github = await startGitHubFake();
  // The Figma edge's address must be known before the control plane starts (SERVICE_FIGMA_PUBLIC_URL).
  let fetchFigmaEdge: (req: Request) => Response | Promise<Response> = () =>
    new Response("starting", { status: 503 });
  figmaServer = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (req) => fetchFigmaEdge(req),
    idleTimeout: 60,
  });
  figmaEdgeUrl = `http://127.0.0.1:${figmaServer.port}`;
  stack = await startStack({
    serviceEnv: {
      ENABLED_SERVICES: "figma,github",
      SERVICE_GITHUB_BASE_URL: github.url,
      // A trailing slash is dropped: instance URLs never hold `//`.
      SERVICE_FIGMA_PUBLIC_URL: `${figmaEdgeUrl}/`,
    },
  });
  figmaEdge = await createEdge(stack.platform.deps, { host: "127.0.0.1", mcpType: "figma" });
  fetchFigmaEdge = figmaEdge.fetch;
});

afterAll(async () => {
  figmaServer?.stop(true);
  await figmaEdge?.close();
  await stack?.stop();
  github?.stop();
});

const tokenOf = (instanceUrl: string) => new URL(instanceUrl).pathname.split("/")[1] ?? "";

/** A raw JSON-RPC tools/list on `base`/`token`/mcp (2025-era, no session needed for tools/list). */
function toolsList(base: string, token: string): Promise<Response> {
  return fetch(`${base}/${token}/mcp`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": "2025-06-18",
    },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
  });
}

describe("per-service edge (MCP_TYPE=figma, SERVICE_MODE=shared)", () => {
  test("instances.connect hands out a URL on the Figma edge, and tools/call through it reaches the upstream", async () => {
    const user = await newUser(stack);
    const key = figmaKeyFor(stack, "per-service-ada");
    const { instanceUrl } = await connectFigma(stack, user, key);
    expect(instanceUrl).toStartWith(`${figmaEdgeUrl}/mcp_fig_`);
    expect(instanceUrl).toEndWith("/mcp");

    const before = stack.figma.requests.length;
    const client = await mcpClient(instanceUrl);
    try {
      const me = await callTool(client, "get_me");
      expect(me.isError).toBe(false);
      expect(me.json).toMatchObject({ handle: "per-service-ada" });
    } finally {
      await client.close();
    }
    const sent = stack.figma.requests.slice(before);
    expect(sent.map((r) => `${r.method} ${r.path}`)).toContain("GET /v1/me");
    expect(sent.every((r) => r.token === key)).toBe(true);
  });

  test("instances.rotate hands out the new URL on the same edge; the old one is 401 there", async () => {
    const user = await newUser(stack);
    const first = await connectFigma(stack, user, figmaKeyFor(stack, "per-service-rotate"));
    const rotated = data<{ instanceUrl: string }>(
      await trpc(stack, "instances.rotate", { serviceType: "figma" }, { cookie: user.cookie }),
    );
    expect(rotated.instanceUrl).toStartWith(`${figmaEdgeUrl}/mcp_fig_`);
    expect((await toolsList(figmaEdgeUrl, tokenOf(rotated.instanceUrl))).status).toBe(200);
    const old = await toolsList(figmaEdgeUrl, tokenOf(first.instanceUrl));
    expect(old.status).toBe(401);
    expect(await old.json()).toMatchObject({ code: "INVALID_INSTANCE" });
  });

  test("another service's token on the Figma edge is 401 INVALID_INSTANCE, exactly as an unknown token", async () => {
    const user = await newUser(stack);
    const key = `test_gh_token_${crypto.randomUUID().replaceAll("-", "")}`;
    github.addKey(key, `octo-${crypto.randomUUID().slice(0, 8)}`);
    const { instanceUrl } = await connect(stack, user, "github", key);
    // No SERVICE_GITHUB_PUBLIC_URL: GitHub's URLs stay on PUBLIC_EDGE_URL (the stack's dynamic edge).
    expect(instanceUrl).toStartWith(`${stack.edgeUrl}/mcp_gh_`);
    const token = tokenOf(instanceUrl);
    expect((await toolsList(stack.edgeUrl, token)).status).toBe(200);

    const upstreamBefore = github.requests.length;
    const foreign = await toolsList(figmaEdgeUrl, token);
    // Same shape of token, never issued: what an unknown token gets.
    const unknown = await toolsList(figmaEdgeUrl, `mcp_gh_${"A".repeat(43)}`);
    expect(foreign.status).toBe(401);
    expect(unknown.status).toBe(401);
    const { requestId: a, ...foreignBody } = (await foreign.json()) as Record<string, unknown>;
    const { requestId: b, ...unknownBody } = (await unknown.json()) as Record<string, unknown>;
    expect(foreignBody).toEqual({ error: "Invalid instance", code: "INVALID_INSTANCE" });
    expect(foreignBody).toEqual(unknownBody);
    expect(a).toBeString();
    expect(b).toBeString();
    expect(foreign.headers.get("content-type")).toBe(unknown.headers.get("content-type"));
    expect(github.requests.length).toBe(upstreamBefore);
  });

  test("/health names the one service the Figma edge serves; the dynamic edge names every one", async () => {
    const own = await fetch(`${figmaEdgeUrl}/health`);
    expect(own.status).toBe(200);
    expect(await own.json()).toMatchObject({ status: "ok", services: ["figma"] });
    const every = await (await fetch(`${stack.edgeUrl}/health`)).json();
    expect(every.services).toEqual(["figma", "github"]);
  });

  test("the dynamic edge (the default) still serves every service, Figma included", async () => {
    const user = await newUser(stack);
    const { instanceUrl } = await connectFigma(stack, user, figmaKeyFor(stack, "per-service-dynamic"));
    const res = await toolsList(stack.edgeUrl, tokenOf(instanceUrl));
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("get_me");
  });
});

describe("MCP_TYPE, SERVICE_MODE, PORT and SERVICE_<TYPE>_PUBLIC_URL from the environment", () => {
  test("the mode follows MCP_TYPE when SERVICE_MODE is unset; contradictions are refused", () => {
    expect(serviceMode(parseEnv({}))).toEqual({ mode: "dynamic" });
    expect(serviceMode(parseEnv({ MCP_TYPE: "figma" }))).toEqual({ mode: "shared", mcpType: "figma" });
    expect(serviceMode(parseEnv({ MCP_TYPE: "figma", SERVICE_MODE: "shared" }))).toEqual({
      mode: "shared",
      mcpType: "figma",
    });
    expect(serviceMode(parseEnv({ SERVICE_MODE: "dynamic" }))).toEqual({ mode: "dynamic" });
    expect(() => serviceMode(parseEnv({ SERVICE_MODE: "shared" }))).toThrow(
      "SERVICE_MODE=shared needs MCP_TYPE",
    );
    expect(() => serviceMode(parseEnv({ SERVICE_MODE: "dynamic", MCP_TYPE: "figma" }))).toThrow(
      "MCP_TYPE is set but SERVICE_MODE=dynamic",
    );
  });

  test("malformed SERVICE_MODE and MCP_TYPE values are refused by name", () => {
    expect(() => parseEnv({ SERVICE_MODE: "both" })).toThrow("SERVICE_MODE");
    expect(() => parseEnv({ MCP_TYPE: "Figma!" })).toThrow("MCP_TYPE: must be a service type");
  });

  test("MCP_TYPE must name a service of the registry, or custom", () => {
    const registry = loadRegistry(undefined, { ENABLED_SERVICES: "figma" });
    expect(() => assertServedType("figma", registry)).not.toThrow();
    expect(() => assertServedType("custom", registry)).not.toThrow();
    expect(() => assertServedType(undefined, registry)).not.toThrow();
    expect(() => assertServedType("github", registry)).toThrow(
      "MCP_TYPE=github is not a service of the registry (figma, custom)",
    );
  });

  test("PORT, when set, is the edge's port; otherwise EDGE_PORT", () => {
    expect(edgePort(parseEnv({ PORT: "3101", EDGE_PORT: "4001" }), { PORT: "3101" })).toBe(3101);
    expect(edgePort(parseEnv({ EDGE_PORT: "4001" }), {})).toBe(4001);
    expect(edgePort(parseEnv({}), {})).toBe(3001);
  });

  test("SERVICE_<TYPE>_PUBLIC_URL values are read as http(s) URLs without a trailing slash", () => {
    expect(
      servicePublicUrls({
        SERVICE_FIGMA_PUBLIC_URL: "https://figma.mcp.example.com/",
        SERVICE_GITHUB_MCP_PUBLIC_URL: "http://127.0.0.1:3109",
        SERVICE_FIGMA_BASE_URL: "http://127.0.0.1:9",
        SERVICE_SLACK_PUBLIC_URL: "",
      }),
    ).toEqual({
      SERVICE_FIGMA_PUBLIC_URL: "https://figma.mcp.example.com",
      SERVICE_GITHUB_MCP_PUBLIC_URL: "http://127.0.0.1:3109",
    });
    expect(() => servicePublicUrls({ SERVICE_FIGMA_PUBLIC_URL: "figma.example.com" })).toThrow(
      "SERVICE_FIGMA_PUBLIC_URL: must be an http(s) URL",
    );
    expect(() => servicePublicUrls({ SERVICE_FIGMA_PUBLIC_URL: "ftp://figma.example.com" })).toThrow(
      "SERVICE_FIGMA_PUBLIC_URL: must be an http(s) URL",
    );
  });

  test("the edge process refuses to start with SERVICE_MODE=shared and no MCP_TYPE", async () => {
    const proc = Bun.spawn([process.execPath, resolve(import.meta.dir, "../apps/edge/src/main.ts")], {
      env: { PATH: process.env.PATH ?? "", SERVICE_MODE: "shared", LOG_LEVEL: "error" },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
    expect(code).toBe(1);
    expect(stderr).toContain("SERVICE_MODE=shared needs MCP_TYPE");
  });
});
