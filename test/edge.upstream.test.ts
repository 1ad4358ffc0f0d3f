// Upstream refusals and failures through the whole stack: a 403 only means "reconnect" once the key
// itself fails re-validation, and one tenant's failing calls never pause the service for the others.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { connectFigma, data, figmaKeyFor, newUser, type TestUser, trpc } from "./client.ts";
import { FAKE_FILE_KEY } from "./fakes/figma.ts";
import { type Stack, startStack } from "./harness.ts";

let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

interface Connected {
  user: TestUser;
  key: string;
  client: Client;
}

async function connected(): Promise<Connected> {
  const user = await newUser(stack);
  const key = figmaKeyFor(stack, user.userId);
  const { instanceUrl } = await connectFigma(stack, user, key);
  const client = new Client({ name: "edge-upstream", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(instanceUrl)));
  return { user, key, client };
}

const textOf = (result: unknown): string => {
  const content = (result as { content?: { type: string; text?: string }[] }).content;
  return (content ?? []).map((c) => c.text ?? "").join("\n");
};

async function statusOf(user: TestUser): Promise<string | undefined> {
  const list = await trpc(stack, "instances.list", undefined, { cookie: user.cookie });
  return data<{ status: string }[]>(list)[0]?.status;
}

const getFile = { name: "get_file", arguments: { file_key: FAKE_FILE_KEY } };

describe("a 403 from the upstream", () => {
  test("for a key that still validates → access refused with Figma's message; the instance stays active", async () => {
    const { user, key, client } = await connected();
    const mark = stack.figma.requests.length;
    stack.figma.failNext(403, { status: 403, err: "Forbidden" });
    const result = await client.callTool(getFile);
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/access/i);
    expect(textOf(result)).toMatch(/permission/i);
    expect(textOf(result)).toContain("Forbidden");
    expect(textOf(result)).not.toMatch(/reconnect/i);
    expect(textOf(result)).not.toContain(key);
    // The refused call, then the re-validation of the same key.
    expect(stack.figma.requests.slice(mark).map((r) => [r.path, r.token])).toEqual([
      [`/v1/files/${FAKE_FILE_KEY}`, key],
      ["/v1/me", key],
    ]);
    expect(await statusOf(user)).toBe("active");
    // The instance keeps working.
    const again = await client.callTool(getFile);
    expect(again.isError).toBeFalsy();
    await client.close();

    await stack.edge.deps.audit.flush();
    const rows = await stack.platform.deps.db.query.auditEvents.findMany({
      where: (t, { eq }) => eq(t.userId, user.userId),
    });
    const refused = rows.find((r) => r.action === "tool.call" && r.status !== "ok");
    expect(refused).toMatchObject({ tool: "get_file", status: "UPSTREAM_ERROR" });
  });

  test("for a key the upstream no longer accepts → reconnect; the instance shows needs_reauth", async () => {
    const { user, key, client } = await connected();
    stack.figma.removeKey(key);
    const result = await client.callTool(getFile);
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/reconnect/i);
    expect(textOf(result)).not.toContain(key);
    expect(await statusOf(user)).toBe("needs_reauth");
    await client.close();
  });

  test("when the key cannot be re-checked (upstream failing) → unavailable; nothing is marked", async () => {
    const { user, key, client } = await connected();
    stack.figma.failNext(403, { status: 403, err: "Forbidden" });
    stack.figma.failNext(503, { status: 503, err: "Service unavailable" });
    const result = await client.callTool(getFile);
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/unavailable/i);
    expect(textOf(result)).not.toMatch(/reconnect/i);
    expect(textOf(result)).not.toContain(key);
    expect(await statusOf(user)).toBe("active");
    await client.close();
  });
});

describe("circuit breaking is per tenant for failures a tenant can cause", () => {
  test("Ada's 5 × 500 pause Ada's calls only; Bob's call reaches Figma; the service stays healthy", async () => {
    const ada = await connected();
    const bob = await connected();
    for (let i = 0; i < 5; i++) {
      stack.figma.failNext(500, { status: 500, err: "Render timeout" });
      const r = await ada.client.callTool({ name: "get_me", arguments: {} });
      expect(textOf(r)).toMatch(/unavailable/i);
    }
    const mark = stack.figma.requests.length;
    const paused = await ada.client.callTool({ name: "get_me", arguments: {} });
    expect(paused.isError).toBe(true);
    expect(stack.figma.requests.length).toBe(mark);

    const ok = await bob.client.callTool({ name: "get_me", arguments: {} });
    expect(ok.isError).toBeFalsy();
    expect(stack.figma.requests.slice(mark).map((r) => r.token)).toEqual([bob.key]);

    const services = data<{ type: string; healthy: boolean }[]>(await trpc(stack, "services.list"));
    expect(services.find((s) => s.type === "figma")?.healthy).toBe(true);
    await Promise.all([ada.client.close(), bob.client.close()]);
  });
});
