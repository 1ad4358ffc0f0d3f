// Error semantics at the edge: every tool error result carries `_meta.code` (and `retryAfterMs` when a wait
// is known) beside its text, and a 429 carries Retry-After plus the IETF RateLimit-Policy / RateLimit headers.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connectFigma, figmaKeyFor, newUser } from "./client.ts";
import { FAKE_FILE_KEY } from "./fakes/figma.ts";
import { type Stack, startStack } from "./harness.ts";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ limits: { perInstancePerMinute: 3 } });
});
afterAll(() => stack.stop());

const headers = {
  "content-type": "application/json",
  accept: "application/json, text/event-stream",
  "mcp-protocol-version": "2025-03-26",
};

async function call(url: string, name = "get_comments") {
  const res = await fetch(url, {
    method: "POST",
    headers,
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 7,
      method: "tools/call",
      params: { name, arguments: { file_key: FAKE_FILE_KEY } },
    }),
  });
  const text = await res.text();
  const json = text.startsWith("{") ? text : /^data: (.*)$/m.exec(text)?.[1];
  return { res, body: json ? JSON.parse(json) : undefined };
}

const fresh = async (who: string) => {
  const key = figmaKeyFor(stack, who);
  return { key, ...(await connectFigma(stack, await newUser(stack), key)) };
};

describe("tool error results carry _meta.code", () => {
  test("upstream down (500) → SERVICE_UNAVAILABLE", async () => {
    const { instanceUrl } = await fresh("e500");
    stack.figma.failNext(500, { err: "boom" });
    const { res, body } = await call(instanceUrl);
    expect(res.status).toBe(200);
    expect(body.result.isError).toBe(true);
    expect(body.result._meta).toEqual({ code: "SERVICE_UNAVAILABLE" });
  });

  test("upstream rate limit (429) → RATE_LIMIT_EXCEEDED with retryAfterMs", async () => {
    const { instanceUrl } = await fresh("e429");
    stack.figma.failNext(429, { err: "slow down" });
    const { body } = await call(instanceUrl);
    expect(body.result.isError).toBe(true);
    expect(body.result._meta).toMatchObject({ code: "RATE_LIMIT_EXCEEDED" });
    expect(body.result._meta.retryAfterMs).toBeGreaterThan(0);
    // The older field stays for clients that read it.
    expect(body.result._meta.retryAfterSeconds * 1000).toBe(body.result._meta.retryAfterMs);
  });

  test("key rejected by the upstream (and by its validation) → EXPIRED_CREDENTIALS", async () => {
    const { instanceUrl, key } = await fresh("eexp");
    stack.figma.removeKey(key);
    const { body } = await call(instanceUrl);
    expect(body.result.isError).toBe(true);
    expect(body.result._meta).toEqual({ code: "EXPIRED_CREDENTIALS" });
  });

  test("refused for this resource while the key still validates → FORBIDDEN", async () => {
    const { instanceUrl } = await fresh("e403");
    stack.figma.failNext(403, { status: 403, err: "no access to this file" });
    const { body } = await call(instanceUrl);
    expect(body.result.isError).toBe(true);
    expect(body.result._meta).toEqual({ code: "FORBIDDEN" });
  });

  test("any other upstream error (404) → UPSTREAM_ERROR", async () => {
    const { instanceUrl } = await fresh("e404");
    stack.figma.failNext(404, { status: 404, err: "Not found" });
    const { body } = await call(instanceUrl);
    expect(body.result.isError).toBe(true);
    expect(body.result._meta).toEqual({ code: "UPSTREAM_ERROR" });
  });

  test("a successful call carries no error code", async () => {
    const { instanceUrl } = await fresh("eok");
    const { body } = await call(instanceUrl);
    expect(body.result.isError).toBeUndefined();
    expect(body.result._meta?.code).toBeUndefined();
  });
});

describe("a 429 from the edge", () => {
  test("carries Retry-After, RateLimit-Policy and RateLimit of the limit that refused", async () => {
    const { instanceUrl } = await fresh("e-edge-429");
    for (let i = 0; i < 3; i++) expect((await call(instanceUrl)).res.status).toBe(200);
    const { res, body } = await call(instanceUrl);
    expect(res.status).toBe(429);
    const retryAfter = Number(res.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(res.headers.get("ratelimit-policy")).toBe('"instance";q=3;w=60');
    expect(res.headers.get("ratelimit")).toBe(`"instance";r=0;t=${retryAfter}`);
    expect(body).toMatchObject({ id: 7, error: { code: -32000, data: { code: "RATE_LIMIT_EXCEEDED" } } });
    expect(body.error.data.retryAfterMs).toBeGreaterThan(0);
    expect(Number.isInteger(body.error.data.retryAfterMs)).toBe(true); // whole milliseconds, not 59972.679…
  });
});
