// Edge rate limits beyond the per-instance basics: JSON-RPC batches (2025-03-26 clients) are bounded and
// charged per message, and all users of a service share its allowance.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connectFigma, figmaKeyFor, newUser } from "./client.ts";
import { FAKE_FILE_KEY } from "./fakes/figma.ts";
import { type Stack, startStack } from "./harness.ts";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ limits: { perInstancePerMinute: 8, maxBatchMessages: 5 } });
});
afterAll(() => stack.stop());

const headers = {
  "content-type": "application/json",
  accept: "application/json, text/event-stream",
  "mcp-protocol-version": "2025-03-26",
};
const call = (id: number) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name: "post_comment", arguments: { file_key: FAKE_FILE_KEY, message: `m${id}` } },
});

describe("JSON-RPC batches", () => {
  test("a batch over the cap is refused with -32600 before any upstream call", async () => {
    const { instanceUrl } = await connectFigma(stack, await newUser(stack), figmaKeyFor(stack, "batch1"));
    const before = stack.figma.requests.length;
    const res = await fetch(instanceUrl, {
      method: "POST",
      headers,
      body: JSON.stringify([1, 2, 3, 4, 5, 6].map(call)),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: -32600 } });
    expect(stack.figma.requests.length).toBe(before);
  });

  test("each message of a batch counts against the limit", async () => {
    const { instanceUrl } = await connectFigma(stack, await newUser(stack), figmaKeyFor(stack, "batch2"));
    const post = (body: unknown) =>
      fetch(instanceUrl, { method: "POST", headers, body: JSON.stringify(body) });
    const first = await post([1, 2, 3, 4, 5].map(call)); // 5 of 8
    expect(first.status).not.toBe(429);
    await first.arrayBuffer();
    const before = stack.figma.requests.length;
    const second = await post([6, 7, 8, 9].map(call)); // would be 9 of 8
    expect(second.status).toBe(429);
    expect(await second.json()).toMatchObject({ error: { data: { code: "RATE_LIMIT_EXCEEDED" } } });
    expect(stack.figma.requests.length).toBe(before);
  });
});

describe("per-service limit", () => {
  let tight: Stack;
  beforeAll(async () => {
    tight = await startStack({ serviceEnv: { SERVICE_FIGMA_RATE_LIMIT: "3" } });
  });
  afterAll(() => tight.stop());

  test("all users of a service share its allowance: the 4th request of anyone → 429", async () => {
    const urls = [];
    for (const who of ["s1", "s2"]) {
      urls.push((await connectFigma(tight, await newUser(tight), figmaKeyFor(tight, who))).instanceUrl);
    }
    const post = (url: string, id: number) =>
      fetch(url, {
        method: "POST",
        headers,
        body: JSON.stringify({ jsonrpc: "2.0", id, method: "tools/list" }),
      });
    const statuses = [];
    for (const [i, url] of [urls[0], urls[1], urls[0], urls[1]].entries()) {
      const res = await post(url ?? "", i);
      await res.arrayBuffer();
      statuses.push(res.status);
    }
    expect(statuses.slice(0, 3).every((s) => s !== 429)).toBe(true);
    expect(statuses[3]).toBe(429);
  });
});

describe("limits are charged narrowest first", () => {
  let mixed: Stack;
  beforeAll(async () => {
    mixed = await startStack({
      limits: { perInstancePerMinute: 3 },
      serviceEnv: { SERVICE_FIGMA_RATE_LIMIT: "10" },
    });
  });
  afterAll(() => mixed.stop());

  test("requests refused by an instance's own limit do not spend the service-wide budget", async () => {
    const [a, b] = [
      (await connectFigma(mixed, await newUser(mixed), figmaKeyFor(mixed, "greedy"))).instanceUrl,
      (await connectFigma(mixed, await newUser(mixed), figmaKeyFor(mixed, "polite"))).instanceUrl,
    ];
    const post = async (url: string, id: number) => {
      const res = await fetch(url, {
        method: "POST",
        headers,
        body: JSON.stringify({ jsonrpc: "2.0", id, method: "tools/list" }),
      });
      await res.arrayBuffer();
      return res.status;
    };
    const greedy = [];
    for (let i = 0; i < 20; i++) greedy.push(await post(a, i));
    expect(greedy.filter((s) => s === 429)).toHaveLength(17);
    // 3 of the service's 10 were spent; the other user still gets their own 3.
    const polite = [await post(b, 1), await post(b, 2), await post(b, 3)];
    expect(polite.every((s) => s !== 429)).toBe(true);
  });
});
