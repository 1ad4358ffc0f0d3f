// A proxied service (definition kind `mcp`): a vendor's own remote MCP server behind per-user instances,
// exactly like a REST service — connect with a key (validated by connecting and listing tools), get a URL,
// call the vendor's tools through it with that user's key only, rotate, revoke. Here `github-mcp` points at a
// fake remote MCP server that accepts a set of bearer tokens.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { data, metricsText, trpc } from "./client.ts";
import { type RemoteMcp, startRemoteMcp } from "./fakes/remote-mcp.ts";
import { type Stack, startStack } from "./harness.ts";
import { callTool, connect, connectRaw, mcpClient, newUser } from "./services/kit.ts";

let remote: RemoteMcp;
let stack: Stack;
/** The bearer values the fake server accepts: one per (fake) GitHub token. */
const accepted: string[] = [];

beforeAll(async () => {
  remote = await startRemoteMcp({
    requiredHeaders: { authorization: accepted },
    tools: [
      {
        name: "whoami",
        description:
          "Says which token called (reversed, so the platform's redaction of the token does not hide it).",
        inputSchema: { type: "object", properties: {} },
        run: (_args, ctx) => ({
          content: [{ type: "text", text: [...(ctx.headers.authorization ?? "")].reverse().join("") }],
        }),
      },
    ],
  });
  stack = await startStack({
    // The fake listens on 127.0.0.1; a vendor's real server is public.
    allowPrivateUpstreams: true,
    serviceEnv: { ENABLED_SERVICES: "figma,github-mcp", SERVICE_GITHUB_MCP_BASE_URL: remote.url },
  });
});
afterAll(async () => {
  await stack?.stop();
  await remote?.stop();
});

function token(): string {
  const key = `test_ghm_${crypto.randomUUID().replaceAll("-", "")}`;
  accepted.push(`Bearer ${key}`);
  return key;
}

const reversed = (text: string) => [...text].reverse().join("");
const sentWith = (key: string) => remote.requests.filter((r) => r.headers.authorization === `Bearer ${key}`);

describe("a proxied MCP service", () => {
  test("is in the catalogue as kind mcp", async () => {
    const services = data<{ type: string; kind: string; tools: unknown[] }[]>(
      await trpc(stack, "services.list"),
    );
    expect(services.find((s) => s.type === "github-mcp")).toMatchObject({ kind: "mcp", tools: [] });
  });

  test("connect checks the key by listing the server's tools; a refused key stores nothing", async () => {
    const user = await newUser(stack);
    const before = remote.requests.length;
    const refused = await connectRaw(stack, user, "github-mcp", "test_ghm_not_accepted");
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ error: { data: { appCode: "INVALID_API_KEY" } } });
    expect(remote.requests.length).toBeGreaterThan(before);
    const list = data<unknown[]>(await trpc(stack, "instances.list", undefined, { cookie: user.cookie }));
    expect(list).toEqual([]);
  });

  test("each user's calls reach the vendor's server with that user's key only, and its tools come through", async () => {
    const [a, b] = [token(), token()];
    const clientA = await mcpClient(
      (await connect(stack, await newUser(stack), "github-mcp", a)).instanceUrl,
    );
    const clientB = await mcpClient(
      (await connect(stack, await newUser(stack), "github-mcp", b)).instanceUrl,
    );
    const names = (await clientA.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(["echo", "add", "whoami"]));
    expect((await callTool(clientA, "add", { a: 2, b: 3 })).text).toBe("5");
    expect((await callTool(clientA, "whoami")).text).toBe(reversed(`Bearer ${a}`));
    expect((await callTool(clientB, "whoami")).text).toBe(reversed(`Bearer ${b}`));
    expect(sentWith(a).length).toBeGreaterThan(0);
    expect(sentWith(b).length).toBeGreaterThan(0);
    for (const r of [...sentWith(a), ...sentWith(b)])
      expect([`Bearer ${a}`, `Bearer ${b}`]).toContain(r.headers.authorization ?? "");
  });

  test("metrics label a call with its tool only when the server listed it: names a client makes up are one series", async () => {
    const client = await mcpClient(
      (await connect(stack, await newUser(stack), "github-mcp", token())).instanceUrl,
    );
    const made = `made_up_${crypto.randomUUID().replaceAll("-", "")}`;
    // Before any list, not even a real tool's name is vouched for in this process.
    for (let i = 0; i < 20; i++) await client.callTool({ name: `${made}_${i}` }).catch(() => undefined);
    await client.listTools();
    expect((await callTool(client, "add", { a: 1, b: 1 })).text).toBe("2");
    const metrics = (await metricsText(stack))
      .split("\n")
      .filter((l) => l.startsWith('mcp_edge_tool_calls_total{service="github-mcp"'));
    expect(metrics.filter((l) => l.includes(made))).toEqual([]);
    expect(metrics).toContainEqual(
      expect.stringMatching(/tool="\*",outcome="BAD_REQUEST"\} ([2-9]\d|\d{3,})$/),
    );
    expect(metrics).toContainEqual(expect.stringContaining('tool="add",outcome="ok"'));
  });

  test("the key never comes back: a server that echoes it has it redacted", async () => {
    const key = token();
    const client = await mcpClient(
      (await connect(stack, await newUser(stack), "github-mcp", key)).instanceUrl,
    );
    const answer = await callTool(client, "echo", { text: `you sent ${key}` });
    expect(answer.text).not.toContain(key);
    expect(answer.text).toContain("[redacted]");
  });

  test("resources, prompts, completions, the log level and progress come through too", async () => {
    const key = token();
    const client = await mcpClient(
      (await connect(stack, await newUser(stack), "github-mcp", key)).instanceUrl,
    );
    expect((await client.listResources()).resources.map((r) => r.uri)).toEqual([
      "memo://notes",
      "memo://logo",
    ]);
    expect((await client.listResourceTemplates()).resourceTemplates).toEqual([
      { uriTemplate: "memo://notes/{id}", name: "note" },
    ]);
    expect((await client.readResource({ uri: "memo://notes" })).contents[0]).toMatchObject({
      text: "notes for anyone",
    });
    expect((await client.readResource({ uri: "memo://logo" })).contents[0]).toMatchObject({
      mimeType: "image/png",
      blob: Buffer.from([137, 80, 78, 71]).toString("base64"),
    });
    // The server's own error comes back as a JSON-RPC error, code and message.
    await expect(client.readResource({ uri: "memo://nope" })).rejects.toThrow(
      "Resource not found: memo://nope",
    );
    expect((await client.listPrompts()).prompts.map((p) => p.name)).toEqual(["greet"]);
    expect((await client.getPrompt({ name: "greet", arguments: { who: "Ada" } })).messages[0]).toMatchObject({
      content: { type: "text", text: "Say hello to Ada." },
    });
    const completed = await client.complete({
      ref: { type: "ref/prompt", name: "greet" },
      argument: { name: "who", value: "a" },
    });
    expect(completed.completion.values).toEqual(["ada", "alan"]);
    await client.setLoggingLevel("warning");
    const progress: number[] = [];
    const counted = await client.callTool(
      { name: "count", arguments: {} },
      { onprogress: (p) => void progress.push(p.progress) },
    );
    expect(counted.content).toEqual([{ type: "text", text: "counted to 3" }]);
    expect(progress).toEqual([1, 2, 3]);
  });

  test("revoke stops the URL at once", async () => {
    const user = await newUser(stack);
    const key = token();
    const { instanceUrl } = await connect(stack, user, "github-mcp", key);
    const client = await mcpClient(instanceUrl);
    expect((await callTool(client, "add", { a: 1, b: 1 })).text).toBe("2");
    expect(
      (await trpc(stack, "instances.revoke", { serviceType: "github-mcp" }, { cookie: user.cookie })).status,
    ).toBe(200);
    const res = await fetch(instanceUrl, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(res.status).toBe(401);
  });
});
