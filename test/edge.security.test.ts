// Black-box security tests of the edge: instance tokens (missing, malformed, forged, revoked, replaced,
// rotated) all get one bare 401 before any upstream call; revocation reaches every edge at once (also a
// second edge on the same platform, through the kv bus); Origin and Host guards; rate limits; body size;
// and no secret in any answer.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createEdge } from "@mcp/edge";
import {
  connectFigma,
  data,
  expectInstanceDead,
  figmaKeyFor,
  newUser,
  type TestUser,
  trpc,
} from "./client.ts";
import { type Stack, startStack, TEST_METRICS_TOKEN } from "./harness.ts";

const ALLOWED_ORIGIN = "https://app.allowed.example";

let stack: Stack;
let limited: Stack;

beforeAll(async () => {
  [stack, limited] = await Promise.all([
    startStack({ allowedOrigins: [ALLOWED_ORIGIN] }),
    startStack({ limits: { perInstancePerMinute: 3 } }),
  ]);
});
afterAll(async () => {
  await Promise.all([stack?.stop(), limited?.stop()]);
});

// Every secret handed out in this file, and every edge answer seen: no answer may contain a secret.
const secrets = new Set<string>();
const answers: string[] = [];

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: () => Record<string, unknown>;
}

function expectNoSecret(text: string): void {
  for (const secret of secrets) expect(text.includes(secret)).toBe(false);
}

let nextId = 1;

/** A raw MCP request to an edge URL (2026-07-28 `tools/list` unless told otherwise). */
async function send(
  url: string,
  init: {
    method?: string;
    headers?: Record<string, string>;
    body?: BodyInit | null;
    id?: string | number;
  } = {},
): Promise<Answer> {
  const method = init.method ?? "POST";
  const id = init.id ?? nextId++;
  const headers: Record<string, string> = {
    accept: "application/json, text/event-stream",
    ...(method === "POST" && {
      "content-type": "application/json",
      "mcp-protocol-version": "2026-07-28",
      "mcp-method": "tools/list",
    }),
    ...init.headers,
  };
  const body =
    init.body !== undefined
      ? init.body
      : method === "POST"
        ? JSON.stringify({
            jsonrpc: "2.0",
            id,
            method: "tools/list",
            params: {
              _meta: {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
              },
            },
          })
        : null;
  const res = await fetch(url, { method, headers, body });
  const text = await res.text();
  answers.push(text);
  expectNoSecret(text);
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}

/** A fresh user with a connected Figma instance; the key and the token are registered as secrets. */
async function connected(on: Stack = stack): Promise<{ user: TestUser; key: string; url: string }> {
  const user = await newUser(on);
  const key = figmaKeyFor(on, user.userId);
  const { instanceUrl } = await connectFigma(on, user, key);
  secrets.add(key);
  secrets.add(tokenOf(instanceUrl));
  return { user, key, url: instanceUrl };
}

const tokenOf = (url: string): string => new URL(url).pathname.split("/")[1] ?? "";
const withToken = (base: string, token: string) => `${base}/${token}/mcp`;

/** The one answer every rejected token gets: 401, and nothing about why. */
function expectInvalidInstance(answer: Answer): void {
  expect(answer.status).toBe(401);
  const body = answer.json();
  expect(Object.keys(body).sort()).toEqual(["code", "error", "requestId"]);
  expect(body.error).toBe("Invalid instance");
  expect(body.code).toBe("INVALID_INSTANCE");
  expect(body.requestId).toBeString();
}

/** The old URL answers every `method` with the one bare 401 (no secret in it), and the upstream is not called. */
function expectDead(url: string, methods = ["POST"]): Promise<void> {
  return expectInstanceDead(stack, url, async (dead) => {
    for (const method of methods) expectInvalidInstance(await send(dead, { method }));
  });
}

/** Replaces the character at `index` with another valid base64url character. */
function forge(token: string, index: number): string {
  const i = index < 0 ? token.length + index : index;
  const ch = token[i] === "A" ? "B" : "A";
  return token.slice(0, i) + ch + token.slice(i + 1);
}

describe("instance tokens", () => {
  test("missing tokens (path variants) → 401 INVALID_INSTANCE, no upstream call", async () => {
    const before = stack.figma.requests.length;
    for (const path of ["/mcp", "//mcp", "/x/mcp", "///mcp", "/mcp/"]) {
      expectInvalidInstance(await send(`${stack.edgeUrl}${path}`));
    }
    expect(stack.figma.requests.length).toBe(before);
  });

  test("malformed tokens → 401 before any lookup, identical bodies, no upstream call", async () => {
    const { url } = await connected();
    const secret = tokenOf(url).slice("mcp_fig_".length);
    const malformed = [
      `xyz_fig_${secret}`, // wrong scheme prefix
      `mcp_${secret}`, // no service prefix
      `mcp_f_${secret}`, // service prefix too short
      `mcp_fig_${secret.slice(0, 20)}`, // too short
      "mcp_fig_",
      `mcp_fig_${secret.slice(0, 42)}!`, // bad character
      `mcp_fig_${secret.slice(0, 42)}.`,
      `mcp_fig_${secret.slice(0, 30)}%20${secret.slice(30)}`, // encoded space
      `mcp_fig_${secret.slice(0, 30)}+${secret.slice(31)}`, // base64, not base64url
      `mcp_FIG_${secret}`, // upper-case prefix
      `mcp_fig_${"a".repeat(10 * 1024)}`, // 10 KB
    ];
    const before = stack.figma.requests.length;
    const bodies = new Set<string>();
    for (const token of malformed) {
      const answer = await send(withToken(stack.edgeUrl, token));
      expectInvalidInstance(answer);
      bodies.add(JSON.stringify({ ...answer.json(), requestId: undefined }));
    }
    expect(bodies.size).toBe(1);
    expect(stack.figma.requests.length).toBe(before);
  });

  test("well-formed but unknown tokens (another service's prefix, forged characters) → 401", async () => {
    const { url } = await connected();
    const token = tokenOf(url);
    const secret = token.slice("mcp_fig_".length);
    // Warm the caches with the real token first, so a forgery cannot ride on a cached entry.
    expect((await send(url)).status).toBe(200);
    const before = stack.figma.requests.length;
    for (const forged of [
      forge(token, -1), // last character
      forge(token, "mcp_fig_".length + 20), // a middle character
      `mcp_gh_${secret}`, // the real secret under another prefix
      `${token}A`, // one character longer
    ]) {
      expect(forged).not.toBe(token);
      expectInvalidInstance(await send(withToken(stack.edgeUrl, forged)));
    }
    expect(stack.figma.requests.length).toBe(before);
    expect((await send(url)).status).toBe(200);
  });

  test("every method on a bad token → 401 (GET, DELETE, POST)", async () => {
    const { url } = await connected();
    const bad = withToken(stack.edgeUrl, forge(tokenOf(url), -1));
    for (const method of ["GET", "DELETE", "POST"]) {
      expectInvalidInstance(await send(bad, { method }));
    }
    for (const method of ["GET", "DELETE"]) {
      expectInvalidInstance(await send(`${stack.edgeUrl}/not-a-token/mcp`, { method }));
    }
  });

  test("revoked: a token in use (cached) stops at once", async () => {
    const { user, url } = await connected();
    expect((await send(url)).status).toBe(200);
    expect((await send(url)).status).toBe(200); // now served from the caches
    const revoked = await trpc(stack, "instances.revoke", { serviceType: "figma" }, { cookie: user.cookie });
    expect(revoked.status).toBe(200);
    await expectDead(url, ["POST", "GET", "DELETE"]);
  });

  test("replaced key: connecting again keeps the URL; revoked or another account: a new one, the old stays dead", async () => {
    const { user, url: oldUrl } = await connected();
    expect((await send(oldUrl)).status).toBe(200);
    // A new key of the same Figma account (same `who`, same Figma user id).
    const newKey = figmaKeyFor(stack, user.userId);
    secrets.add(newKey);
    const { instanceUrl: sameUrl } = await connectFigma(stack, user, newKey);
    expect(sameUrl).toBe(oldUrl);
    expect((await send(oldUrl)).status).toBe(200);
    await trpc(stack, "instances.revoke", { serviceType: "figma" }, { cookie: user.cookie });
    const { instanceUrl: newUrl } = await connectFigma(stack, user, newKey);
    secrets.add(tokenOf(newUrl));
    expect(newUrl).not.toBe(oldUrl);
    await expectDead(oldUrl);
    expect((await send(newUrl)).status).toBe(200);
    // A key of another Figma account: clients must not silently switch accounts, so the URL changes too.
    const otherKey = figmaKeyFor(stack, `${user.userId}-other`);
    secrets.add(otherKey);
    const { instanceUrl: otherUrl } = await connectFigma(stack, user, otherKey);
    secrets.add(tokenOf(otherUrl));
    expect(otherUrl).not.toBe(newUrl);
    await expectDead(newUrl);
    expect((await send(otherUrl)).status).toBe(200);
  });

  test("rotated: the old URL → 401 at once, the new one works", async () => {
    const { user, url: oldUrl } = await connected();
    expect((await send(oldUrl)).status).toBe(200);
    const rotated = await trpc(stack, "instances.rotate", { serviceType: "figma" }, { cookie: user.cookie });
    const newUrl = data<{ instanceUrl: string }>(rotated).instanceUrl;
    secrets.add(tokenOf(newUrl));
    expect(newUrl).not.toBe(oldUrl);
    await expectDead(oldUrl);
    expect((await send(newUrl)).status).toBe(200);
    // A key of another Figma account: clients must not silently switch accounts, so the URL changes too.
    const otherKey = figmaKeyFor(stack, `${user.userId}-other`);
    secrets.add(otherKey);
    const { instanceUrl: otherUrl } = await connectFigma(stack, user, otherKey);
    secrets.add(tokenOf(otherUrl));
    expect(otherUrl).not.toBe(newUrl);
    await expectDead(newUrl);
    expect((await send(otherUrl)).status).toBe(200);
  });

  test("every rejection reason gets the same body", async () => {
    const reasons: Record<string, string> = {};
    reasons.malformed = withToken(stack.edgeUrl, "mcp_fig_short");
    reasons.missing = `${stack.edgeUrl}//mcp`;
    const forgedOf = await connected();
    reasons.forged = withToken(stack.edgeUrl, forge(tokenOf(forgedOf.url), 12));
    const revokedOf = await connected();
    await send(revokedOf.url);
    await trpc(stack, "instances.revoke", { serviceType: "figma" }, { cookie: revokedOf.user.cookie });
    reasons.revoked = revokedOf.url;
    const rotatedOf = await connected();
    await send(rotatedOf.url);
    const rotated = await trpc(
      stack,
      "instances.rotate",
      { serviceType: "figma" },
      { cookie: rotatedOf.user.cookie },
    );
    secrets.add(tokenOf(data<{ instanceUrl: string }>(rotated).instanceUrl));
    reasons.rotated = rotatedOf.url;

    const seen = new Map<string, string>();
    for (const [reason, url] of Object.entries(reasons)) {
      const answer = await send(url);
      expectInvalidInstance(answer);
      seen.set(reason, JSON.stringify({ ...answer.json(), requestId: undefined }));
      expect(answer.headers.get("www-authenticate")).toBeNull();
    }
    expect(new Set(seen.values()).size).toBe(1);
  });
});

describe("revocation across edges", () => {
  test("a second edge on the same platform stops serving a revoked token it had cached", async () => {
    const second = await createEdge(stack.platform.deps, { host: "127.0.0.1" });
    const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: second.fetch, idleTimeout: 60 });
    try {
      const { user, url } = await connected();
      const token = tokenOf(url);
      const onSecond = withToken(`http://127.0.0.1:${server.port}`, token);
      // Both edges serve it and now hold it in their per-process caches.
      expect((await send(url)).status).toBe(200);
      expect((await send(onSecond)).status).toBe(200);
      expect((await send(onSecond)).status).toBe(200);

      const revoked = await trpc(
        stack,
        "instances.revoke",
        { serviceType: "figma" },
        { cookie: user.cookie },
      );
      expect(revoked.status).toBe(200);
      expectInvalidInstance(await send(onSecond));
      expectInvalidInstance(await send(url));
    } finally {
      server.stop(true);
      await second.close();
    }
  });

  test("a rotation on the control plane reaches the second edge too", async () => {
    const second = await createEdge(stack.platform.deps, { host: "127.0.0.1" });
    const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: second.fetch, idleTimeout: 60 });
    try {
      const { user, url } = await connected();
      const base = `http://127.0.0.1:${server.port}`;
      expect((await send(withToken(base, tokenOf(url)))).status).toBe(200);
      const rotated = await trpc(
        stack,
        "instances.rotate",
        { serviceType: "figma" },
        { cookie: user.cookie },
      );
      const newToken = tokenOf(data<{ instanceUrl: string }>(rotated).instanceUrl);
      secrets.add(newToken);
      expectInvalidInstance(await send(withToken(base, tokenOf(url))));
      expect((await send(withToken(base, newToken))).status).toBe(200);
    } finally {
      server.stop(true);
      await second.close();
    }
  });
});

describe("origin and host", () => {
  test("a foreign Origin → 403 with a JSON-RPC error that has no id (spec), no upstream call", async () => {
    const { url } = await connected();
    const before = stack.figma.requests.length;
    const answer = await send(url, { headers: { origin: "https://evil.example" } });
    expect(answer.status).toBe(403);
    const body = answer.json();
    expect(body).toMatchObject({
      jsonrpc: "2.0",
      error: { code: -32000, message: "Forbidden: Origin not allowed", data: { code: "FORBIDDEN" } },
    });
    expect(Object.keys(body).sort()).toEqual(["error", "jsonrpc"]);
    expect(stack.figma.requests.length).toBe(before);
  });

  test("an allowed Origin works; no Origin (non-browser clients) works", async () => {
    const { url } = await connected();
    expect((await send(url, { headers: { origin: ALLOWED_ORIGIN } })).status).toBe(200);
    expect((await send(url)).status).toBe(200);
    // An origin that only resembles the allowed one is refused.
    expect((await send(url, { headers: { origin: `${ALLOWED_ORIGIN}.evil.example` } })).status).toBe(403);
    expect((await send(url, { headers: { origin: "null" } })).status).toBe(403);
  });

  test("CORS: an allowed Origin gets its preflight and readable answers; a foreign one neither", async () => {
    const { url } = await connected();
    const before = stack.figma.requests.length;
    const preflight = await fetch(url, {
      method: "OPTIONS",
      headers: {
        origin: ALLOWED_ORIGIN,
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type, mcp-protocol-version",
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe(ALLOWED_ORIGIN);
    expect(preflight.headers.get("access-control-allow-methods")).toContain("POST");
    expect(preflight.headers.get("access-control-allow-headers")).toContain("mcp-protocol-version");
    expect(preflight.headers.get("access-control-allow-credentials")).toBeNull();
    // A tool's Mcp-Param-* headers (SEP-2243) are the tool's to name: allowed as asked, nothing else is.
    const params = await fetch(url, {
      method: "OPTIONS",
      headers: {
        origin: ALLOWED_ORIGIN,
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type, Mcp-Param-Region, mcp-param-x, x-evil, mcp-paramx",
      },
    });
    const allowed = (params.headers.get("access-control-allow-headers") ?? "").split(", ");
    expect(allowed).toContain("mcp-param-region");
    expect(allowed).toContain("mcp-param-x");
    expect(allowed).toContain("mcp-method");
    expect(allowed).not.toContain("x-evil");
    expect(allowed).not.toContain("mcp-paramx");
    // A preflight of an unknown token is answered alike: it carries no credentials and learns nothing.
    const unknown = await fetch(url.replace(/mcp_[^/]+/, `mcp_fig_${"A".repeat(43)}`), {
      method: "OPTIONS",
      headers: { origin: ALLOWED_ORIGIN, "access-control-request-method": "POST" },
    });
    expect(unknown.status).toBe(204);
    const answer = await send(url, { headers: { origin: ALLOWED_ORIGIN } });
    expect(answer.status).toBe(200);
    expect(answer.headers.get("access-control-allow-origin")).toBe(ALLOWED_ORIGIN);
    expect(answer.headers.get("access-control-expose-headers")).toContain("mcp-session-id");
    // Without an Origin (non-browser clients) no CORS headers; a foreign Origin's preflight is refused.
    expect((await send(url)).headers.get("access-control-allow-origin")).toBeNull();
    const foreign = await fetch(url, {
      method: "OPTIONS",
      headers: { origin: "https://evil.example", "access-control-request-method": "POST" },
    });
    expect(foreign.status).toBe(403);
    expect(foreign.headers.get("access-control-allow-origin")).toBeNull();
    expect(stack.figma.requests.length).toBe(before);
  });

  test("a Host header that is neither loopback nor the public host → 403 (DNS rebinding)", async () => {
    const { url } = await connected();
    const port = new URL(stack.edgeUrl).port;
    for (const host of ["evil.example", `evil.example:${port}`, `127.0.0.1.evil.example:${port}`]) {
      const answer = await send(url, { headers: { host } });
      expect(answer.status).toBe(403);
      expect(answer.json()).toMatchObject({ error: { data: { code: "FORBIDDEN" } } });
    }
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, "[::1]"]) {
      expect([host, (await send(url, { headers: { host } })).status]).toEqual([host, 200]);
    }
  });

  test("health, readiness, metrics and unknown paths are Host-guarded too (403 with our error shape)", async () => {
    const port = new URL(stack.edgeUrl).port;
    const bearer = { authorization: `Bearer ${TEST_METRICS_TOKEN}` };
    for (const path of ["/health", "/ready", "/metrics", "/nowhere"]) {
      for (const host of ["evil.example", `evil.example:${port}`, `127.0.0.1.evil.example:${port}`]) {
        const res = await fetch(`${stack.edgeUrl}${path}`, { headers: { host, ...bearer } });
        const text = await res.text();
        expect([path, host, res.status]).toEqual([path, host, 403]);
        expect(JSON.parse(text)).toMatchObject({ code: "FORBIDDEN", requestId: expect.any(String) });
        expect(text).not.toContain("mcp_edge_");
      }
      const ours = await fetch(`${stack.edgeUrl}${path}`, {
        headers: { host: `localhost:${port}`, ...bearer },
      });
      expect([path, ours.status]).toEqual([path, path === "/nowhere" ? 404 : 200]);
    }
  });
});

describe("rate limits and body size", () => {
  test("the 4th POST in a minute → 429 with Retry-After and a JSON-RPC error echoing the id", async () => {
    const { url } = await connected(limited);
    for (let i = 0; i < 3; i++) expect((await send(url)).status).toBe(200);
    const before = limited.figma.requests.length;
    const answer = await send(url, { id: "req-four" });
    expect(answer.status).toBe(429);
    expect(Number(answer.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    const body = answer.json() as {
      jsonrpc: string;
      id: unknown;
      error: { code: number; data: { code: string } };
    };
    expect(body.jsonrpc).toBe("2.0");
    expect(body.id).toBe("req-four");
    expect(body.error.data.code).toBe("RATE_LIMIT_EXCEEDED");
    expect(limited.figma.requests.length).toBe(before);
    // Numeric ids are echoed too.
    const numeric = await send(url, { id: 4242 });
    expect(numeric.status).toBe(429);
    expect((numeric.json() as { id: unknown }).id).toBe(4242);
  });

  test("another user's instance is unaffected by a limited neighbour", async () => {
    const a = await connected(limited);
    const b = await connected(limited);
    for (let i = 0; i < 3; i++) expect((await send(a.url)).status).toBe(200);
    expect((await send(a.url)).status).toBe(429);
    expect((await send(b.url)).status).toBe(200);
  });

  test("a body over 1 MB → 413 (declared or streamed), before the MCP handler", async () => {
    const { url } = await connected();
    const big = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", pad: "x".repeat(1024 * 1024) });
    const declared = await send(url, { body: big });
    expect(declared.status).toBe(413);
    expect(declared.json()).toMatchObject({ code: "PAYLOAD_TOO_LARGE" });

    // Streamed without a Content-Length, in multi-byte characters (under 1 M chars, over 1 MB).
    const chunk = new TextEncoder().encode("é".repeat(64 * 1024));
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"jsonrpc":"2.0","id":1,"method":"tools/list","pad":"'));
        for (let i = 0; i < 9; i++) controller.enqueue(chunk); // 9 × 128 KB
        controller.enqueue(new TextEncoder().encode('"}'));
        controller.close();
      },
    });
    const streamed = await send(url, { body: stream });
    expect(streamed.status).toBe(413);
    expect(streamed.json()).toMatchObject({ code: "PAYLOAD_TOO_LARGE" });
    // A normal request still works afterwards.
    expect((await send(url)).status).toBe(200);
  });

  test("JSON nested deeper than 64 levels → 400 -32600 before any upstream call, not a 500; 64 levels pass the check", async () => {
    const { url } = await connected();
    const mark = stack.logs.length;
    const before = stack.figma.requests.length;
    // The body as text: 400,000 levels would overflow JSON.stringify here too. `fileKey` is JSON text.
    const call = (fileKey: string, era: "2026-07-28" | "2025-06-18") =>
      send(url, {
        headers: { "mcp-method": "tools/call", "mcp-name": "get_file", "mcp-protocol-version": era },
        body:
          `{"jsonrpc":"2.0","id":${nextId++},"method":"tools/call","params":{"name":"get_file",` +
          `"arguments":{"file_key":${fileKey}},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",` +
          `"io.modelcontextprotocol/clientCapabilities":{}}}}`,
      });
    const nested = (levels: number) => `${"[".repeat(levels)}${"]".repeat(levels)}`;
    // The report's body: 400,000 levels, about 800 KB (under the 1 MB limit); and one level past the bound.
    for (const levels of [400_000, 62]) {
      for (const era of ["2026-07-28", "2025-06-18"] as const) {
        const res = await call(nested(levels), era);
        expect(res.status).toBe(400);
        expect(res.json()).toMatchObject({ error: { code: -32600 } });
        expect((res.json() as { error: { message: string } }).error.message).toContain(
          "nested deeper than 64 levels",
        );
      }
    }
    // The body's own three levels (params, arguments, file_key) plus 61: 64 in all, not refused for depth;
    // the tool's schema refuses the argument (a string is expected) as a tool error.
    const within = await call(nested(61), "2026-07-28");
    expect(within.status).toBe(200);
    expect(within.text).toContain('"isError":true');
    // Brackets inside strings are text, not nesting.
    expect((await call(JSON.stringify("[{".repeat(5000)), "2026-07-28")).text).not.toContain("nested deeper");
    expect(stack.figma.requests.length).toBe(before);
    expect(stack.logs.slice(mark).filter((l) => l.startsWith('{"level":"error"'))).toEqual([]);
  });

  test("a chunked flood past the server's own cap → 413, a client mistake: nothing logged as an error", async () => {
    const { url } = await connected();
    const mark = stack.logs.length;
    const chunk = new TextEncoder().encode("x".repeat(1024 * 1024));
    const flood = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 20; i++) controller.enqueue(chunk); // 20 MB, past the 16 MB cap
        controller.close();
      },
    });
    const answer = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: flood,
    });
    expect(answer.status).toBe(413);
    await answer.text();
    const logged = stack.logs.slice(mark);
    expect(logged.filter((l) => l.startsWith('{"level":"error"'))).toEqual([]);
    expect(logged.some((l) => l.includes("request body refused"))).toBe(true);
    expect((await send(url)).status).toBe(200);
  });
});

describe("secrets", () => {
  test("tool results and errors carry neither the Figma key nor the token", async () => {
    const { url, key } = await connected();
    const token = tokenOf(url);
    const call = (name: string, args: Record<string, unknown>) =>
      send(url, {
        headers: { "mcp-method": "tools/call", "mcp-name": name },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: nextId++,
          method: "tools/call",
          params: {
            name,
            arguments: args,
            _meta: {
              "io.modelcontextprotocol/protocolVersion": "2026-07-28",
              "io.modelcontextprotocol/clientCapabilities": {},
            },
          },
        }),
      });
    const results = [
      await call("get_me", {}),
      await call("get_file", { file_key: "missing-file" }),
      await call("nope", {}),
    ];
    // Upstreams that echo the key back in an error have it redacted.
    stack.figma.failNext(404, { status: 404, err: `No file visible to ${key}` });
    results.push(await call("get_file", { file_key: "abc" }));
    stack.figma.failNext(500, { status: 500, err: `boom ${key}` });
    results.push(await call("get_comments", { file_key: "abc" }));
    stack.figma.failNext(403, { status: 403, err: `Invalid token ${key}` });
    results.push(await call("get_images", { file_key: "abc", ids: "1:2" }));
    for (const r of results) {
      expect(r.text.includes(key)).toBe(false);
      expect(r.text.includes(token)).toBe(false);
    }
  });

  test("no edge answer in this file contained a key or a token", () => {
    expect(answers.length).toBeGreaterThan(50);
    expect(secrets.size).toBeGreaterThan(10);
    for (const text of answers) expectNoSecret(text);
  });
});
