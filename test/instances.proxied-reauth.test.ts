// A proxied MCP service (kind `mcp`) whose key the vendor's server stops accepting: as for a REST service, the
// call is a tool error saying to reconnect (EXPIRED_CREDENTIALS), the instance shows needs_reauth, and a new key
// put in place with updateCredentials works at once on the same URL.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { data, trpc } from "./client.ts";
import { type RemoteMcp, startRemoteMcp } from "./fakes/remote-mcp.ts";
import { type Stack, startStack } from "./harness.ts";
import { callTool, connect, mcpClient, newUser } from "./services/kit.ts";

let remote: RemoteMcp;
let custom: RemoteMcp;
let stack: Stack;
const accepted: string[] = [];
/** The `x-api-key` values the custom server accepts. */
const customKeys: string[] = [];

beforeAll(async () => {
  remote = await startRemoteMcp({
    requiredHeaders: { authorization: accepted },
    tools: [
      {
        name: "whoami",
        description: "Says which token called (reversed).",
        inputSchema: { type: "object", properties: {} },
        run: (_args, ctx) => ({
          content: [{ type: "text", text: [...(ctx.headers.authorization ?? "")].reverse().join("") }],
        }),
      },
    ],
  });
  custom = await startRemoteMcp({ requiredHeaders: { "x-api-key": customKeys } });
  stack = await startStack({
    allowPrivateUpstreams: true,
    serviceEnv: { ENABLED_SERVICES: "figma,github-mcp", SERVICE_GITHUB_MCP_BASE_URL: remote.url },
  });
});
afterAll(async () => {
  await stack?.stop();
  await remote?.stop();
  await custom?.stop();
});

function token(): string {
  const key = `test_ghm_${crypto.randomUUID().replaceAll("-", "")}`;
  accepted.push(`Bearer ${key}`);
  return key;
}
const refuse = (key: string) => accepted.splice(accepted.indexOf(`Bearer ${key}`), 1);

describe("a proxied MCP service's key rejected upstream", () => {
  test("the call says to reconnect, the instance is needs_reauth; updateCredentials mends it on the same URL", async () => {
    const user = await newUser(stack);
    const key = token();
    const { instanceUrl } = await connect(stack, user, "github-mcp", key);
    const client = await mcpClient(instanceUrl);
    expect((await callTool(client, "whoami")).isError).toBe(false);

    refuse(key);
    const refused = await callTool(client, "whoami");
    expect(refused.isError).toBe(true);
    expect(refused.meta?.code).toBe("EXPIRED_CREDENTIALS");
    const status = async () =>
      data<{ status: string }>(
        await trpc(stack, "instances.get", { serviceType: "github-mcp" }, { cookie: user.cookie }),
      ).status;
    expect(await status()).toBe("needs_reauth");

    const updated = await trpc(
      stack,
      "instances.updateCredentials",
      { serviceType: "github-mcp", apiKey: token() },
      { cookie: user.cookie },
    );
    expect(updated.status).toBe(200);
    expect(await status()).toBe("active");
    const mended = await callTool(client, "whoami");
    expect(mended.isError).toBe(false);
    await client.close();
  }, 60_000);
});

describe("a custom server that stops accepting its headers", () => {
  test("the call says to reconnect, needs_reauth; connectCustom with new headers keeps the URL and clears it", async () => {
    const user = await newUser(stack);
    const first = `k_${crypto.randomUUID()}`;
    customKeys.push(first);
    const input = (key: string) => ({ name: "mine", url: custom.url, headers: { "x-api-key": key } });
    const connected = await trpc(stack, "instances.connectCustom", input(first), { cookie: user.cookie });
    const { instanceUrl } = data<{ instanceUrl: string }>(connected);
    const client = await mcpClient(instanceUrl);
    expect((await callTool(client, "echo", { text: "hi" })).isError).toBe(false);

    customKeys.splice(customKeys.indexOf(first), 1);
    const refused = await callTool(client, "echo", { text: "hi" });
    expect(refused).toMatchObject({ isError: true, meta: { code: "EXPIRED_CREDENTIALS" } });
    const status = async () =>
      data<{ status: string }>(
        await trpc(stack, "instances.get", { serviceType: "custom" }, { cookie: user.cookie }),
      ).status;
    expect(await status()).toBe("needs_reauth");

    const next = `k_${crypto.randomUUID()}`;
    customKeys.push(next);
    const again = await trpc(stack, "instances.connectCustom", input(next), { cookie: user.cookie });
    expect(data<{ instanceUrl: string }>(again).instanceUrl).toBe(instanceUrl);
    expect(await status()).toBe("active");
    expect((await callTool(client, "echo", { text: "hi" })).isError).toBe(false);
    await client.close();
  }, 60_000);
});
