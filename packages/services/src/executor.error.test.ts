import { describe, expect, test } from "bun:test";
import { FAKE_FIGMA_KEY, FAKE_FILE_KEY } from "../../../test/fakes/figma.ts";
import { circuitState } from "./breaker.ts";
import { executeTool, validateKey } from "./executor.ts";
import { useFakeFigma } from "./test-fixtures.ts";

const KEY = FAKE_FIGMA_KEY;
const { fake, figma } = useFakeFigma();

const getMe = (service = figma(), key = KEY, opts = {}) => executeTool(service, "get_me", {}, key, opts);

describe("executeTool: upstream failures", () => {
  test("403 → EXPIRED_CREDENTIALS with Figma's own message, without the key", async () => {
    const wrong = "figd_wrong_key_0000000000";
    const outcome = await getMe(figma(), wrong);
    expect(outcome).toMatchObject({
      ok: false,
      error: "EXPIRED_CREDENTIALS",
      status: 403,
      message: "Figma error 403: Invalid token",
    });
    expect(JSON.stringify(outcome)).not.toContain(wrong);
    expect(fake().requests[0]?.token).toBe(wrong);
  });

  test("other 4xx → UPSTREAM_ERROR with Figma's message, key redacted", async () => {
    const missing = await executeTool(figma(), "get_file", { file_key: "NoSuchFile" }, KEY);
    expect(missing).toMatchObject({
      ok: false,
      error: "UPSTREAM_ERROR",
      status: 404,
      message: "Figma error 404: Not found",
    });
    fake().failNext(400, { error: true, status: 400, message: `Token ${KEY} lacks scope` });
    const echoed = await getMe();
    expect(echoed).toMatchObject({
      ok: false,
      error: "UPSTREAM_ERROR",
      message: "Figma error 400: Token [redacted] lacks scope",
    });
  });

  test("500 → SERVICE_UNAVAILABLE; 429 → RATE_LIMITED with the upstream's wait", async () => {
    fake().failNext(500);
    expect(await getMe()).toMatchObject({ ok: false, error: "SERVICE_UNAVAILABLE", status: 500 });
    fake().failNext(429, { status: 429, err: "Rate limit exceeded" });
    expect(await getMe()).toMatchObject({
      ok: false,
      error: "RATE_LIMITED",
      status: 429,
      retryAfterMs: 30_000,
    });
  });

  test("a slow upstream times out within the bound", async () => {
    fake().delayMs = 10_000;
    const started = performance.now();
    const outcome = await getMe(figma(), KEY, { timeoutMs: 500 });
    expect(outcome).toMatchObject({ ok: false, error: "SERVICE_UNAVAILABLE" });
    expect(performance.now() - started).toBeLessThan(5_000);
    // Never retried. (On a loaded machine the deadline can pass before the request reaches the fake at all.)
    expect(fake().requests.length).toBeLessThanOrEqual(1);
  });

  test("a caller abort ends the call without counting against the service", async () => {
    fake().delayMs = 2_000;
    const service = figma();
    const outcome = await getMe(service, KEY, { signal: AbortSignal.timeout(100) });
    expect(outcome).toMatchObject({
      ok: false,
      error: "SERVICE_UNAVAILABLE",
      message: "The request was cancelled.",
    });
    for (let i = 0; i < 5; i++) await getMe(service, KEY, { signal: AbortSignal.abort() });
    expect(circuitState(service)).toBe("closed");
  });

  test("an answer over the size limit is cut there, with a note saying so", async () => {
    const outcome = await executeTool(figma(), "get_file", { file_key: FAKE_FILE_KEY }, KEY, {
      maxResponseBytes: 200,
    });
    expect(outcome).toMatchObject({ ok: true, status: 200, truncated: true });
    if (!outcome.ok) throw new Error("unreachable");
    expect(outcome.text).toContain("[Truncated: the response was");
    expect(outcome.text.length).toBeLessThan(200 + 400);
  });

  test("a compressed answer is counted as it inflates: a small declared length does not lift the limit", async () => {
    const me = { id: "1", email: "a@example.com", handle: "x".repeat(50_000), img_url: "" };
    const gzipped = Bun.gzipSync(JSON.stringify(me));
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: () =>
        new Response(gzipped, {
          headers: {
            "content-type": "application/json",
            "content-encoding": "gzip",
            "content-length": String(gzipped.byteLength),
          },
        }),
    });
    try {
      // About 200 bytes on the wire, 50 KB once inflated: over a 10 KB limit.
      expect(gzipped.byteLength).toBeLessThan(10_000);
      const service = figma(`http://127.0.0.1:${server.port}`);
      const cut = await getMe(service, KEY, { maxResponseBytes: 10_000 });
      expect(cut).toMatchObject({ ok: true, truncated: true });
      if (!cut.ok) throw new Error("unreachable");
      expect(cut.text).toContain("[Truncated: the response was");
      expect(cut.text.length).toBeLessThan(10_000 + 400);
      // Within the limit, the same answer is read whole.
      const whole = await getMe(service, KEY, { maxResponseBytes: 100_000 });
      expect(whole).toMatchObject({ ok: true });
      expect(whole.ok && whole.truncated).toBeFalsy();
      expect(whole.ok && whole.text).toContain("x".repeat(50_000));
    } finally {
      server.stop(true);
    }
  });

  test("an answer that declares its length within the limit is read whole", async () => {
    const outcome = await executeTool(figma(), "get_file", { file_key: FAKE_FILE_KEY }, KEY, {
      maxResponseBytes: 1_000_000,
    });
    expect(outcome).toMatchObject({ ok: true, status: 200 });
    expect(outcome.ok && outcome.truncated).toBeFalsy();
    expect(fake().requests).toHaveLength(1);
  });

  test("the circuit opens after 5 consecutive outages and stops calling upstream", async () => {
    const service = figma();
    for (let i = 0; i < 5; i++) {
      fake().failNext(503);
      expect(await getMe(service)).toMatchObject({ error: "SERVICE_UNAVAILABLE", status: 503 });
    }
    expect(circuitState(service)).toBe("open");
    expect(await getMe(service)).toMatchObject({ ok: false, error: "SERVICE_UNAVAILABLE" });
    expect(fake().requests).toHaveLength(5);
    // Breakers are per loaded service: another registry's figma is unaffected.
    expect(await getMe()).toMatchObject({ ok: true });
  });

  test("4xx answers do not trip the circuit", async () => {
    const service = figma();
    for (let i = 0; i < 6; i++) await getMe(service, "figd_bad_key_000000");
    expect(circuitState(service)).toBe("closed");
  });

  test("redirects are not followed, so the key never leaves the configured host", async () => {
    const redirector = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: () => new Response(null, { status: 302, headers: { Location: `${fake().url}/v1/me` } }),
    });
    try {
      expect(await getMe(figma(`http://127.0.0.1:${redirector.port}`))).toMatchObject({
        ok: false,
        status: 302,
      });
      expect(fake().requests).toHaveLength(0);
    } finally {
      redirector.stop(true);
    }
  });
});

test("a GET whose connection drops is retried once", async () => {
  let connections = 0;
  const body = JSON.stringify({ id: "1", email: "a@example.com", handle: "Ada", img_url: "" });
  // Raw TCP, because an HTTP server cannot drop a connection before answering.
  const flaky = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(socket) {
        connections++;
        if (connections === 1) socket.end();
      },
      data(socket) {
        socket.end(
          `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
        );
      },
    },
  });
  try {
    expect(await getMe(figma(`http://127.0.0.1:${flaky.port}`))).toMatchObject({
      ok: true,
      data: { handle: "Ada" },
    });
    expect(connections).toBe(2);
  } finally {
    flaky.stop(true);
  }
});

describe("validateKey", () => {
  test("an HTML 403 from something in front of the API (a WAF) says nothing about the key", async () => {
    fake().answerNext(
      403,
      "<html><title>Attention Required!</title>Sorry, you have been blocked</html>",
      "text/html",
    );
    expect(await validateKey(figma(), KEY)).toMatchObject({ ok: false, error: "SERVICE_UNAVAILABLE" });
    // The API's own refusal, in JSON, does.
    fake().answerNext(403, JSON.stringify({ status: 403, err: "Invalid token" }));
    expect(await validateKey(figma(), KEY)).toMatchObject({ ok: false, error: "INVALID_API_KEY" });
  });

  test("accepts a good key, rejects a bad one", async () => {
    expect(await validateKey(figma(), KEY)).toEqual({
      ok: true,
      account: { id: "1000001", name: "Ada", email: "ada@example.com" },
    });
    expect(fake().requests[0]).toMatchObject({ method: "GET", path: "/v1/me", token: KEY });
    const bad = await validateKey(figma(), "figd_nope_000000000");
    expect(bad).toMatchObject({ ok: false, error: "INVALID_API_KEY" });
    expect(await validateKey(figma(), "bad key\nX-Evil: 1")).toMatchObject({
      ok: false,
      error: "INVALID_API_KEY",
    });
  });

  test("a 2xx that is not JSON (a proxy's login page) proves nothing: SERVICE_UNAVAILABLE", async () => {
    fake().answerNext(200, "<html><body>Sign in to the proxy</body></html>", "text/html");
    expect(await validateKey(figma(), "figd_junk_0000000000")).toMatchObject({
      ok: false,
      error: "SERVICE_UNAVAILABLE",
    });
  });

  test("SERVICE_UNAVAILABLE when the upstream is down, failing or slow", async () => {
    fake().failNext(502);
    expect(await validateKey(figma(), KEY)).toMatchObject({ ok: false, error: "SERVICE_UNAVAILABLE" });
    fake().delayMs = 2_000;
    expect(await validateKey(figma(), KEY, { timeoutMs: 100 })).toMatchObject({
      error: "SERVICE_UNAVAILABLE",
    });
    fake().delayMs = 0;
    fake().down();
    try {
      expect(await validateKey(figma(), KEY)).toMatchObject({ ok: false, error: "SERVICE_UNAVAILABLE" });
    } finally {
      fake().up();
    }
    expect(await validateKey(figma(), KEY)).toMatchObject({ ok: true });
  });
});

/** No run of `min` or more consecutive characters of `secret` appears in `text`. */
function expectNoPartOf(text: string, secret: string, min = 6): void {
  for (let i = 0; i + min <= secret.length; i++) expect(text).not.toContain(secret.slice(i, i + min));
}

describe("executeTool: secrets never come back out of an answer", () => {
  // Characters that change under each encoding, so every form differs from the raw key.
  const ODD_KEY = 'figd_Zq/+=8"w\\v~u_1234567890';

  test("an error body that puts the key right at the 500-character cut leaves no part of it", async () => {
    for (const pad of [470, 485, 490, 495, 499]) {
      fake().failNext(400, { status: 400, err: `${"x".repeat(pad)}${KEY}` });
      const outcome = await getMe();
      expect(outcome).toMatchObject({ ok: false, error: "UPSTREAM_ERROR", status: 400 });
      expectNoPartOf(JSON.stringify(outcome), KEY);
    }
  });

  test("a successful body that echoes the key is redacted (and so is what would be cached)", async () => {
    fake().failNext(200, { message: `your token is ${KEY}`, nested: { [KEY]: [KEY] } });
    const outcome = await getMe();
    expect(outcome).toMatchObject({
      ok: true,
      data: { message: "your token is [redacted]", nested: { "[redacted]": ["[redacted]"] } },
    });
    expectNoPartOf(JSON.stringify(outcome), KEY);
  });

  test.each([
    ["URL-encoded", encodeURIComponent(ODD_KEY)],
    ["base64", Buffer.from(ODD_KEY).toString("base64")],
    ["base64 inside a Basic credential", Buffer.from(`ada:${ODD_KEY}`).toString("base64")],
    ["JSON-escaped", JSON.stringify(ODD_KEY).slice(1, -1)],
  ])("the key %s in a 2xx or an error body is redacted", async (_, form) => {
    for (const status of [200, 400]) {
      fake().answerNext(status, JSON.stringify({ message: `sent ${form}` }));
      const outcome = await executeTool(figma(), "get_me", {}, ODD_KEY);
      const seen = JSON.stringify(outcome);
      expect(seen).toContain("[redacted]");
      expect(seen).not.toContain(form);
      expectNoPartOf(seen, ODD_KEY, 8);
    }
  });

  test("a key spelled with JSON \\u escapes is redacted after parsing", async () => {
    const escaped = [...KEY].map((ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`).join("");
    fake().answerNext(200, `{"echo":"${escaped}"}`);
    expect(await getMe()).toMatchObject({ ok: true, status: 200, data: { echo: "[redacted]" } });
  });

  test("values of additional credentials are redacted too", async () => {
    const credential = { apiKey: KEY, additional: { email: "ada.secret@example.com", site: "acme-42" } };
    fake().failNext(200, { you: "ada.secret@example.com", at: "https://acme-42.example.net" });
    const outcome = await executeTool(figma(), "get_me", {}, credential);
    expect(outcome).toMatchObject({
      ok: true,
      data: { you: "[redacted]", at: "https://[redacted].example.net" },
    });
    fake().failNext(404, { status: 404, err: "no user ada.secret@example.com" });
    const failed = await executeTool(figma(), "get_me", {}, credential);
    expect(failed).toMatchObject({ ok: false, message: "Figma error 404: no user [redacted]" });
  });
});

describe("executeTool: an answer cut at the size limit", () => {
  test("shows no spelling of the key: \\u escapes are spelled out before redaction, the cut tail dropped", async () => {
    const escaped = [...KEY].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`).join("");
    const body = `{"echo":"${escaped}","raw":"${KEY}","pad":"${"x".repeat(200_000)}"}`;
    fake().answerNext(200, body);
    const outcome = await executeTool(figma(), "get_me", {}, KEY, { maxResponseBytes: 150_000 });
    expect(outcome).toMatchObject({ ok: true, truncated: true });
    if (!outcome.ok) throw new Error("unreachable");
    expect(outcome.text).toContain('"echo":"[redacted]"');
    expect(outcome.text).not.toContain(escaped);
    expectNoPartOf(outcome.text, KEY);
  });
});

describe("executeTool: redaction keeps JSON intact", () => {
  test("a secret that is also a number in the body: the JSON stays valid, strings are redacted", async () => {
    const credential = { apiKey: KEY, additional: { accountId: "9876543210" } };
    fake().answerNext(200, '{"id":9876543210,"label":"account 9876543210"}');
    const outcome = await executeTool(figma(), "get_me", {}, credential);
    expect(outcome).toMatchObject({
      ok: true,
      status: 200,
      data: { id: 9876543210, label: "account [redacted]" },
    });
  });
});

describe("executeTool: a 2xx that is not JSON is an error, never a result", () => {
  test("an HTML page behind a 200 → UPSTREAM_ERROR with a short excerpt", async () => {
    const page = `<html>\n<body>\n<h1>Service temporarily unavailable</h1>${"<p>filler</p>".repeat(100)}</body></html>`;
    fake().answerNext(200, page, "text/html; charset=utf-8");
    const outcome = await getMe();
    expect(outcome).toMatchObject({ ok: false, error: "UPSTREAM_ERROR", status: 200 });
    if (outcome.ok) throw new Error("unreachable");
    expect(outcome.message).toStartWith(
      "Figma sent a response that is not JSON (HTTP 200, text/html): <html> <body> <h1>Service temporarily",
    );
    expect(outcome.message.length).toBeLessThan(300);
  });

  test("truncated JSON behind a 200 → UPSTREAM_ERROR; the excerpt is redacted of the key", async () => {
    fake().answerNext(200, `{"name": "Marketing site", "token": "${KEY}`);
    const outcome = await getMe();
    expect(outcome).toMatchObject({ ok: false, error: "UPSTREAM_ERROR", status: 200 });
    expectNoPartOf(JSON.stringify(outcome), KEY);
  });

  test("an empty 2xx body is a success with no data", async () => {
    fake().answerNext(204, "");
    expect(await getMe()).toEqual({ ok: true, status: 204, data: null, text: "null" });
  });
});
