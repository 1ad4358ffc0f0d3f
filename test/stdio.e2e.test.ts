// Stdio MCP servers behind per-user instances, end to end: the reference memory server (an npm dependency,
// run locally, nothing downloaded), one process per user's credential, so two users never see each other's
// graph; the key reaches the process only through the environment its definition names.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
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

  // The everything server speaks the 2025 era: it asks for sampling with a request of its own during the
  // call. A 2025-era client gets it on the call's stream; a 2026-07-28 client gets an input_required
  // result (the upstream call is held) and its retry answers the server, through the SDK's own driver.
  for (const era of ["2025 session", "2026-07-28"] as const) {
    test(`a 2025-era stdio server's sampling request reaches a ${era} client, and the answer goes back`, async () => {
      const url = (await connect(stack, await newUser(stack), "everything", "any")).instanceUrl;
      const client = new Client(
        { name: "sampling-client", version: "1.0.0" },
        {
          capabilities: { sampling: {} },
          ...(era === "2026-07-28" && { versionNegotiation: { mode: { pin: "2026-07-28" } } }),
        },
      );
      const asked: string[] = [];
      client.setRequestHandler("sampling/createMessage", async (request) => {
        asked.push(JSON.stringify(request.params.messages));
        return { model: "test-model", role: "assistant", content: { type: "text", text: "forty-two" } };
      });
      await client.connect(new StreamableHTTPClientTransport(new URL(url)));
      try {
        const result = await client.callTool({
          name: "trigger-sampling-request",
          arguments: { prompt: "What is the answer?", maxTokens: 10 },
        });
        expect(asked).toHaveLength(1);
        expect(asked[0]).toContain("What is the answer?");
        expect(JSON.stringify(result.content)).toContain("forty-two");
        expect(result.isError).toBeFalsy();
      } finally {
        await client.close();
      }
    });
  }
});
