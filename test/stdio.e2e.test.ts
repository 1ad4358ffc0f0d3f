// Stdio MCP servers behind per-user instances, end to end: the reference memory server (an npm dependency,
// run locally, nothing downloaded), one process per user's credential, so two users never see each other's
// graph; the key reaches the process only through the environment its definition names.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { data, trpc } from "./client.ts";
import { type Stack, startStack } from "./harness.ts";
import { callTool, connect, mcpClient, newUser } from "./services/kit.ts";

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ serviceEnv: { ENABLED_SERVICES: "figma,memory,everything" } });
});
afterAll(async () => {
  await stack?.stop();
});

describe("stdio MCP servers (memory, everything)", () => {
  test("are in the catalogue as kind mcp", async () => {
    const services = data<{ type: string; kind: string }[]>(await trpc(stack, "services.list"));
    expect(services.filter((s) => s.kind === "mcp").map((s) => s.type)).toEqual(["everything", "memory"]);
  });

  test("two users' memory graphs are separate processes and never mix", async () => {
    const ada = await mcpClient(
      (await connect(stack, await newUser(stack), "memory", "ada-passphrase")).instanceUrl,
    );
    const bob = await mcpClient(
      (await connect(stack, await newUser(stack), "memory", "bob-passphrase")).instanceUrl,
    );
    expect((await ada.listTools()).tools.map((t) => t.name)).toContain("create_entities");
    const created = await callTool(ada, "create_entities", {
      entities: [{ name: "Ada", entityType: "person", observations: ["writes programs"] }],
    });
    expect(created.isError).toBe(false);
    const adaGraph = await callTool(ada, "read_graph");
    const bobGraph = await callTool(bob, "read_graph");
    expect(adaGraph.text).toContain("writes programs");
    expect(bobGraph.text).not.toContain("Ada");
  });

  test("the everything server's tools, prompts and resources come through", async () => {
    const client = await mcpClient(
      (await connect(stack, await newUser(stack), "everything", "any")).instanceUrl,
    );
    const tools = (await client.listTools()).tools.map((t) => t.name);
    expect(tools).toContain("echo");
    expect((await callTool(client, "echo", { message: "hi" })).text).toContain("hi");
    expect((await client.listPrompts()).prompts.length).toBeGreaterThan(0);
    expect((await client.listResources()).resources.length).toBeGreaterThan(0);
  });
});
