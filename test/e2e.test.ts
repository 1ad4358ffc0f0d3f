// The walking skeleton end to end: two users sign up, connect Figma with their own keys, and MCP
// clients of both protocol eras (and the 1.x SDK) call every Figma tool through their instance URLs.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { Client as V1Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport as V1Transport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { connectFigma, expectInstanceDead, figmaKeyFor, newUser, type TestUser, trpc } from "./client.ts";
import { FAKE_FILE_KEY } from "./fakes/figma.ts";
import { type Stack, startStack } from "./harness.ts";

let stack: Stack;
let alice: TestUser;
let bob: TestUser;
let aliceKey: string;
let bobKey: string;
let aliceUrl: string;
let bobUrl: string;

beforeAll(async () => {
  stack = await startStack();
  [alice, bob] = await Promise.all([newUser(stack), newUser(stack)]);
  aliceKey = figmaKeyFor(stack, "alice");
  bobKey = figmaKeyFor(stack, "bob");
  aliceUrl = (await connectFigma(stack, alice, aliceKey)).instanceUrl;
  bobUrl = (await connectFigma(stack, bob, bobKey)).instanceUrl;
});
afterAll(() => stack.stop());

type Mode = "legacy" | "auto" | { pin: string };
async function v2Client(url: string, mode: Mode): Promise<Client> {
  const client = new Client({ name: "e2e", version: "1.0.0" }, { versionNegotiation: { mode } });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

const FIGMA_TOOLS = ["get_comments", "get_file", "get_file_nodes", "get_images", "get_me", "post_comment"];

const text = (result: unknown): string => {
  const content = (result as { content?: { type: string; text?: string }[] }).content;
  return content?.[0]?.text ?? "";
};

describe("end to end", () => {
  test("instance URLs are personal, well-formed and different per user", () => {
    expect(aliceUrl).toMatch(new RegExp(`^${stack.edgeUrl}/mcp_fig_[A-Za-z0-9_-]{43}/mcp$`));
    expect(bobUrl).not.toBe(aliceUrl);
  });

  for (const [label, mode] of [
    ["2026-07-28 client", { pin: "2026-07-28" }],
    ["2025-11-25 client (legacy initialize)", "legacy"],
    ["auto-negotiating client", "auto"],
  ] as const) {
    test(`${label}: lists and calls every Figma tool with the owner's key`, async () => {
      const client = await v2Client(aliceUrl, mode);
      const expected = mode === "legacy" ? "2025-11-25" : "2026-07-28";
      expect(client.getNegotiatedProtocolVersion()).toBe(expected);
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual(FIGMA_TOOLS);
      expect(tools.find((t) => t.name === "get_me")?.annotations?.readOnlyHint).toBe(true);

      const before = stack.figma.requests.length;
      const me = await client.callTool({ name: "get_me", arguments: {} });
      expect(me.isError).toBeFalsy();
      expect(JSON.parse(text(me)).handle).toBe("alice");
      const file = await client.callTool({ name: "get_file", arguments: { file_key: FAKE_FILE_KEY } });
      expect(JSON.parse(text(file)).name).toBeString();
      const nodes = await client.callTool({
        name: "get_file_nodes",
        arguments: { file_key: FAKE_FILE_KEY, ids: "0:1" },
      });
      expect(JSON.parse(text(nodes)).nodes).toBeObject();
      const message = `hello from ${label}`;
      const posted = await client.callTool({
        name: "post_comment",
        arguments: { file_key: FAKE_FILE_KEY, message },
      });
      expect(JSON.parse(text(posted)).message).toBe(message);
      const comments = await client.callTool({
        name: "get_comments",
        arguments: { file_key: FAKE_FILE_KEY },
      });
      expect(
        JSON.parse(text(comments)).comments.some((c: { message: string }) => c.message === message),
      ).toBe(true);
      const images = await client.callTool({
        name: "get_images",
        arguments: { file_key: FAKE_FILE_KEY, ids: "0:1" },
      });
      expect(JSON.parse(text(images)).images).toBeObject();

      const seen = stack.figma.requests.slice(before);
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.every((r) => r.token === aliceKey)).toBe(true);
      await client.close();
    });
  }

  test("reads are cached per user; a write by that user refreshes them", async () => {
    const client = await v2Client(aliceUrl, { pin: "2026-07-28" });
    const read = { name: "get_comments", arguments: { file_key: FAKE_FILE_KEY } };
    await client.callTool(read);
    const before = stack.figma.requests.length;
    await client.callTool(read);
    expect(stack.figma.requests.length).toBe(before);
    await client.callTool({ name: "post_comment", arguments: { file_key: FAKE_FILE_KEY, message: "fresh" } });
    const after = await client.callTool(read);
    expect(JSON.parse(text(after)).comments.some((c: { message: string }) => c.message === "fresh")).toBe(
      true,
    );
    // Bob's identical read is not served from Alice's cache.
    const bobClient = await v2Client(bobUrl, "legacy");
    const mark = stack.figma.requests.length;
    await bobClient.callTool(read);
    expect(stack.figma.requests.slice(mark).map((r) => r.token)).toEqual([bobKey]);
    await Promise.all([client.close(), bobClient.close()]);
  });

  test("the 1.x SDK client works against the same URL", async () => {
    const client = new V1Client({ name: "v1", version: "1.0.0" });
    await client.connect(new V1Transport(new URL(bobUrl)));
    const { tools } = await client.listTools();
    expect(tools).toHaveLength(FIGMA_TOOLS.length);
    const before = stack.figma.requests.length;
    const me = await client.callTool({ name: "get_me", arguments: {} });
    expect(JSON.parse(text(me)).handle).toBe("bob");
    expect(stack.figma.requests.slice(before).every((r) => r.token === bobKey)).toBe(true);
    await client.close();
  });

  test("the upstream sees each user's own key, never the other's", async () => {
    const a = await v2Client(aliceUrl, { pin: "2026-07-28" });
    const b = await v2Client(bobUrl, "legacy");
    const before = stack.figma.requests.length;
    const comment = (message: string) => ({
      name: "post_comment",
      arguments: { file_key: FAKE_FILE_KEY, message },
    });
    const [ra, rb] = await Promise.all([a.callTool(comment("from a")), b.callTool(comment("from b"))]);
    expect(JSON.parse(text(ra)).user.handle).toBe("alice");
    expect(JSON.parse(text(rb)).user.handle).toBe("bob");
    const tokens = stack.figma.requests
      .slice(before)
      .map((r) => r.token)
      .sort();
    expect(tokens).toEqual([aliceKey, bobKey].sort());
    await Promise.all([a.close(), b.close()]);
  });

  test("server/discover lists the current and every 2025 version served", async () => {
    const res = await fetch(aliceUrl, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-protocol-version": "2026-07-28",
        "mcp-method": "server/discover",
      },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "server/discover",
        params: {
          _meta: {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": { name: "raw", version: "1" },
          },
        },
      }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      result: { supportedVersions: string[]; capabilities: { tools?: object } };
    };
    expect(body.result.supportedVersions).toEqual(["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"]);
    expect(body.result.capabilities.tools).toBeDefined();
  });

  test("list, get, revoke: the URL answers 401 from then on", async () => {
    const carol = await newUser(stack);
    const { instanceUrl, instanceId } = await connectFigma(stack, carol, figmaKeyFor(stack, "carol"));
    const list = await trpc(stack, "instances.list", undefined, { cookie: carol.cookie });
    expect(list.body.result?.data).toEqual([
      expect.objectContaining({ instanceId, serviceType: "figma", isActive: true, status: "active" }),
    ]);
    const client = await v2Client(instanceUrl, { pin: "2026-07-28" });
    await client.callTool({ name: "get_me", arguments: {} });
    await client.close();

    const got = await trpc(stack, "instances.get", { serviceType: "figma" }, { cookie: carol.cookie });
    expect(got.body.result?.data).toMatchObject({ instanceId, isActive: true });

    const revoked = await trpc(stack, "instances.revoke", { serviceType: "figma" }, { cookie: carol.cookie });
    expect(revoked.status).toBe(200);
    await expectInstanceDead(stack, instanceUrl);
    const after = await trpc(stack, "instances.list", undefined, { cookie: carol.cookie });
    expect(after.body.result?.data).toEqual([
      expect.objectContaining({ instanceId, isActive: false, status: "revoked" }),
    ]);
  });
});
