// What an upstream sends back never carries the user's own secrets out through the edge: an echoed key
// (in a success or a failure, cut at any length, in any encoding), a custom server's header values, and
// nothing of it reaches the shared cache either. Junk behind a 200 is an error, never a cached result.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { connectFigma, data, figmaKeyFor, newUser, trpc } from "./client.ts";
import { FAKE_FILE_KEY } from "./fakes/figma.ts";
import { type RemoteMcp, startRemoteMcp } from "./fakes/remote-mcp.ts";
import { type Stack, startStack } from "./harness.ts";

let stack: Stack;
let remote: RemoteMcp;
const REMOTE_TOKEN = `rk_${crypto.randomUUID()}`;
const REMOTE_API_KEY = `xk-${crypto.randomUUID()}`;

beforeAll(async () => {
  stack = await startStack({ allowPrivateUpstreams: true });
  remote = await startRemoteMcp({
    requiredHeaders: { authorization: `Bearer ${REMOTE_TOKEN}` },
    tools: [
      {
        name: "whoami",
        description: `Reports the credentials it was called with (a careless server), e.g. ${REMOTE_TOKEN}.`,
        inputSchema: { type: "object", properties: {} },
        run: (_, ctx) => ({
          content: [
            { type: "text", text: `auth=${ctx.headers.authorization} key=${ctx.headers["x-api-key"]}` },
          ],
          structuredContent: { [REMOTE_API_KEY]: Buffer.from(REMOTE_TOKEN).toString("base64") },
        }),
      },
      {
        name: "fail_loudly",
        inputSchema: { type: "object", properties: {} },
        run: (_, ctx) => ({
          content: [{ type: "text", text: `${"x".repeat(495)} ${ctx.headers["x-api-key"]}` }],
          isError: true,
        }),
      },
    ],
  });
});
afterAll(async () => {
  await Promise.all([remote?.stop(), stack?.stop()]);
});

/** No run of 6 or more consecutive characters of `secret` appears in `text`. */
function expectNoPartOf(text: string, secret: string): void {
  for (let i = 0; i + 6 <= secret.length; i++) expect(text).not.toContain(secret.slice(i, i + 6));
}

async function clientFor(url: string): Promise<Client> {
  const client = new Client(
    { name: "edge-leaks", version: "1" },
    { versionNegotiation: { mode: { pin: "2026-07-28" } } },
  );
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

async function figmaInstance() {
  const user = await newUser(stack);
  const key = figmaKeyFor(stack, user.userId);
  const { instanceUrl } = await connectFigma(stack, user, key);
  return { user, key, client: await clientFor(instanceUrl) };
}

describe("a Figma key echoed by the upstream", () => {
  test("in an error body of ~480 characters followed by the key: no part of the key in the result", async () => {
    const { key, client } = await figmaInstance();
    for (const pad of [470, 480, 490, 497]) {
      stack.figma.failNext(400, { status: 400, err: `${"e".repeat(pad)} ${key}` });
      const result = await client.callTool({ name: "get_comments", arguments: { file_key: FAKE_FILE_KEY } });
      expect(result.isError).toBe(true);
      expectNoPartOf(JSON.stringify(result), key);
    }
    await client.close();
  });

  test("in a 200 body: redacted in the result, and in what a second call reads from the cache", async () => {
    const { key, client } = await figmaInstance();
    const args = { name: "get_file", arguments: { file_key: FAKE_FILE_KEY, depth: 1 } };
    stack.figma.failNext(200, { name: "Marketing site", note: `your token is ${key}`, b64: btoa(key) });
    const first = await client.callTool(args);
    expect(first.isError).toBeFalsy();
    expect(JSON.stringify(first)).toContain("your token is [redacted]");
    expectNoPartOf(JSON.stringify(first), key);
    const mark = stack.figma.requests.length;
    const cached = await client.callTool(args);
    expect(stack.figma.requests.length).toBe(mark); // served from the per-user cache
    expect(cached.content).toEqual(first.content);
    expect(stack.kvWrites.join("\n")).toContain("your token is [redacted]");
    expectNoPartOf(stack.kvWrites.join("\n"), key);
    await client.close();
  });
});

describe("junk behind a 200", () => {
  test("an HTML page → isError with a short excerpt, and the next call goes upstream again (not cached)", async () => {
    const { client } = await figmaInstance();
    const args = { name: "get_file", arguments: { file_key: FAKE_FILE_KEY, depth: 2 } };
    for (let i = 0; i < 2; i++) {
      const mark = stack.figma.requests.length;
      stack.figma.answerNext(200, "<!doctype html><html><body>Login required</body></html>", "text/html");
      const result = await client.callTool(args);
      expect(stack.figma.requests.length).toBe(mark + 1);
      expect(result.isError).toBe(true);
      const text = JSON.stringify(result.content);
      expect(text).toContain("not JSON");
      expect(text).toContain("Login required");
    }
    const good = await client.callTool(args);
    expect(good.isError).toBeFalsy();
    await client.close();
  });

  test("invalid JSON → isError", async () => {
    const { client } = await figmaInstance();
    stack.figma.answerNext(200, '{"name": "Marketing site", "document": {');
    const result = await client.callTool({ name: "get_me", arguments: {} });
    expect(result.isError).toBe(true);
    expect(JSON.stringify(result.content)).toContain("not JSON");
    await client.close();
  });
});

describe("a custom server that echoes its own credentials", () => {
  test("header values (and the token inside Authorization) are redacted from lists, results and errors", async () => {
    const user = await newUser(stack);
    const res = await trpc(
      stack,
      "instances.connectCustom",
      {
        name: "careless",
        url: `${remote.url}?key=${REMOTE_API_KEY}`,
        headers: { authorization: `Bearer ${REMOTE_TOKEN}`, "x-api-key": REMOTE_API_KEY },
      },
      { cookie: user.cookie },
    );
    const { instanceUrl } = data<{ instanceUrl: string }>(res);
    const client = await clientFor(instanceUrl);
    const listed = JSON.stringify(await client.listTools());
    expect(listed).toContain("whoami");
    expect(listed).toContain("[redacted]");
    const whoami = JSON.stringify(await client.callTool({ name: "whoami", arguments: {} }));
    expect(whoami).toContain("auth=[redacted]");
    const failed = await client.callTool({ name: "fail_loudly", arguments: {} });
    expect(failed.isError).toBe(true);
    for (const seen of [listed, whoami, JSON.stringify(failed)]) {
      expectNoPartOf(seen, REMOTE_TOKEN);
      expectNoPartOf(seen, REMOTE_API_KEY);
    }
    await client.close();
  });
});
