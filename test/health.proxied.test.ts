// The health monitor in front of a proxied service (definition kind `mcp`): the vendor's MCP server goes away
// (its port refuses, behind a TCP proxy this file cuts), the monitor marks the service down, and a tools/call
// through an instance is answered SERVICE_UNAVAILABLE at once without reaching for the server; back up, the
// next check restores it. An error result of the server's own carries the design's UPSTREAM_ERROR code.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { HealthMonitor } from "@mcp/core";
import type { Client } from "@modelcontextprotocol/client";
import { type RemoteMcp, startRemoteMcp } from "./fakes/remote-mcp.ts";
import { startTcpProxy, type TcpProxy } from "./fakes/tcp-proxy.ts";
import { type Stack, startStack } from "./harness.ts";
import { callTool, connect, mcpClient, newUser } from "./services/kit.ts";

let remote: RemoteMcp;
let proxy: TcpProxy;
let stack: Stack;
let monitor: HealthMonitor;
let client: Client;
const KEY = `test_ghm_${crypto.randomUUID().replaceAll("-", "")}`;

beforeAll(async () => {
  remote = await startRemoteMcp({ requiredHeaders: { authorization: [`Bearer ${KEY}`] } });
  const target = new URL(remote.url);
  proxy = await startTcpProxy(target.hostname, Number(target.port));
  const base = new URL(remote.url);
  base.port = String(proxy.port);
  stack = await startStack({
    allowPrivateUpstreams: true,
    serviceEnv: { ENABLED_SERVICES: "figma,github-mcp", SERVICE_GITHUB_MCP_BASE_URL: base.toString() },
  });
  monitor = new HealthMonitor(stack.platform.deps, {
    intervalMs: 3_600_000,
    timeoutMs: 1_000,
    historyLength: 3,
    env: {},
  });
  client = await mcpClient((await connect(stack, await newUser(stack), "github-mcp", KEY)).instanceUrl);
});
afterAll(async () => {
  await client?.close();
  await monitor?.stop();
  await stack?.stop();
  await proxy?.stop();
  await remote?.stop();
});

async function checkGithubMcp(): Promise<boolean | undefined> {
  const results = await monitor.runOnce();
  await stack.platform.deps.health?.refresh();
  return results.find((r) => r.type === "github-mcp")?.healthy;
}

test("an error result of the server's own is relayed with _meta.code UPSTREAM_ERROR", async () => {
  const failed = await client.callTool({ name: "echo", arguments: { text: 42 } });
  expect(failed.isError).toBe(true);
  expect(failed._meta).toMatchObject({ code: "UPSTREAM_ERROR" });
  expect((await callTool(client, "add", { a: 2, b: 3 })).text).toBe("5");
});

test("server gone → marked down → tools/call is SERVICE_UNAVAILABLE at once; back → served again", async () => {
  expect(await checkGithubMcp()).toBe(true);
  await proxy.down();
  expect(await checkGithubMcp()).toBe(false);
  expect(stack.platform.deps.health?.isServiceAvailable("github-mcp")).toBe(false);
  expect(stack.platform.deps.health?.isServiceAvailable("figma")).toBe(true);

  const before = remote.requests.length;
  const refused = await client.callTool({ name: "add", arguments: { a: 1, b: 1 } });
  expect(refused.isError).toBe(true);
  expect(refused._meta).toMatchObject({ code: "SERVICE_UNAVAILABLE" });
  expect(JSON.stringify(refused.content)).toContain("down");
  expect(remote.requests.length).toBe(before);

  await proxy.up();
  expect(await checkGithubMcp()).toBe(true);
  expect((await callTool(client, "add", { a: 1, b: 1 })).text).toBe("2");
});
