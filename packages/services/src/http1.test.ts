import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deflateRawSync, deflateSync, gzipSync } from "node:zlib";
import type { Socket, TCPSocketListener } from "bun";
import { closeIdleConnections, Http1Error, http1Request, idleConnectionCount } from "./http1.ts";
import { LOCALHOST_CERT, LOCALHOST_KEY } from "./test-fixtures.ts";
import { callUpstream, setUpstreamTransportForTests, upstreamTransport } from "./upstream.ts";

// A raw TCP server answering each request with what the test scripts, byte for byte, so every framing and
// every fault can be produced exactly. Each request's head is recorded with the connection it came on.
interface Seen {
  conn: number;
  head: string;
  body: string;
}
type Script = (s: Socket<{ id: number; buf: string }>, seen: Seen) => void;

let server: TCPSocketListener<{ id: number; buf: string }>;
let script: Script = () => {};
const seen: Seen[] = [];
const sockets = new Set<Socket<{ id: number; buf: string }>>();
let closedByClient = 0;
let nextConn = 0;

beforeAll(() => {
  server = Bun.listen<{ id: number; buf: string }>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(s) {
        s.data = { id: nextConn++, buf: "" };
        sockets.add(s);
      },
      data(s, chunk) {
        s.data.buf += chunk.toString("latin1");
        for (;;) {
          const end = s.data.buf.indexOf("\r\n\r\n");
          if (end < 0) return;
          const head = s.data.buf.slice(0, end);
          const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 0);
          if (s.data.buf.length < end + 4 + length) return;
          const body = s.data.buf.slice(end + 4, end + 4 + length);
          s.data.buf = s.data.buf.slice(end + 4 + length);
          const request = { conn: s.data.id, head, body };
          seen.push(request);
          script(s, request);
        }
      },
      close(s) {
        sockets.delete(s);
        closedByClient++;
      },
    },
  });
});
afterAll(() => server.stop(true));
afterEach(() => {
  closeIdleConnections();
  seen.length = 0;
  script = () => {};
});

const url = (path = "/x") => new URL(`http://127.0.0.1:${server.port}${path}`);
const get = (opts: { maxBytes?: number; signal?: AbortSignal; method?: string; body?: string } = {}) =>
  http1Request({
    method: opts.method ?? "GET",
    url: url(),
    headers: new Headers({ "x-figma-token": "secret-token" }),
    maxBytes: opts.maxBytes ?? 1024,
    ...(opts.body !== undefined && { body: opts.body }),
    ...(opts.signal && { signal: opts.signal }),
  });
const answer = (body: string, extra = "") =>
  `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n${extra}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

/** Writes `text` a few bytes at a time, so every parser state meets a packet boundary. */
async function dribble(s: Socket<unknown>, text: string, step = 3) {
  for (let i = 0; i < text.length; i += step) {
    s.write(text.slice(i, i + step));
    s.flush();
    await Bun.sleep(1);
  }
}

describe("http1Request", () => {
  test("sends the request head as written, reads a Content-Length answer and keeps the connection", async () => {
    script = (s) => s.write(answer('{"ok":1}', "x-multi: a\r\nX-Multi: b\r\n"));
    const res = await get();
    expect(res).toMatchObject({ status: 200, text: '{"ok":1}', truncated: false });
    expect(res.headers.get("Content-Type")).toBe("application/json");
    expect(res.headers.get("x-multi")).toBe("a, b");
    expect(res.headers.get("absent")).toBeNull();
    const head = seen[0]?.head.split("\r\n") ?? [];
    expect(head[0]).toBe("GET /x HTTP/1.1");
    expect(head).toContain(`host: 127.0.0.1:${server.port}`);
    expect(head).toContain("x-figma-token: secret-token");
    expect(head).toContain(`user-agent: Bun/${Bun.version}`);
    expect(head).toContain("accept-encoding: gzip, deflate");
    expect(idleConnectionCount()).toBe(1);
    // The second request goes out on the same connection.
    await get();
    expect(new Set(seen.map((r) => r.conn)).size).toBe(1);
    expect(seen).toHaveLength(2);
  });

  test("a body is sent with its byte length; a body-less POST says 0", async () => {
    script = (s) => s.write(answer("{}"));
    await get({ method: "POST", body: '{"name":"é"}' });
    await get({ method: "POST" });
    expect(seen[0]?.head).toContain("content-length: 13");
    expect(seen[0]?.body).toBe(Buffer.from('{"name":"é"}').toString("latin1"));
    expect(seen[1]?.head).toContain("content-length: 0");
  });

  test("a header value with CR or LF cannot reach the request head (Headers refuses it)", () => {
    expect(() => new Headers({ "x-token": "a\r\nx-injected: 1" })).toThrow();
  });

  test("chunked answers, with extensions and trailers, split at every byte boundary", async () => {
    const body = '{"nodes":{"0:1":null}}';
    script = (s) =>
      void dribble(
        s,
        `HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5;ext=1\r\n${body.slice(0, 5)}\r\n${(body.length - 5).toString(16)}\r\n${body.slice(5)}\r\n0\r\nx-trailer: t\r\n\r\n`,
        2,
      );
    const res = await get();
    expect(res).toMatchObject({ status: 200, text: body, truncated: false });
    expect(idleConnectionCount()).toBe(1);
  });

  test("a Content-Length body split across packets, multi-byte text intact", async () => {
    const body = JSON.stringify({ name: "Ünïcødé ✓ 📐" });
    // The bytes, cut inside the body's multi-byte characters.
    script = (s) => {
      const bytes = Buffer.from(answer(body));
      s.write(bytes.subarray(0, 40));
      setTimeout(() => s.write(bytes.subarray(40)), 5);
    };
    expect((await get()).text).toBe(body);
  });

  test("bodies past maxBytes are cut there and the connection is dropped: length, chunked, close-delimited", async () => {
    const big = "x".repeat(5000);
    script = (s) => s.write(answer(big));
    expect(await get({ maxBytes: 100 })).toMatchObject({ text: "x".repeat(100), truncated: true });
    script = (s) =>
      s.write(`HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1388\r\n${big}\r\n0\r\n\r\n`);
    expect(await get({ maxBytes: 100 })).toMatchObject({ text: "x".repeat(100), truncated: true });
    script = (s) => s.write(`HTTP/1.1 200 OK\r\n\r\n${big}`);
    expect(await get({ maxBytes: 100 })).toMatchObject({ text: "x".repeat(100), truncated: true });
    expect(idleConnectionCount()).toBe(0);
    expect(new Set(seen.map((r) => r.conn)).size).toBe(3);
  });

  test("a body framed by the connection's end is read to it, and that connection is not reused", async () => {
    script = (s) => {
      s.write("HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil ");
      setTimeout(() => s.end("the end"), 5);
    };
    expect(await get()).toMatchObject({ status: 200, text: "until the end", truncated: false });
    expect(idleConnectionCount()).toBe(0);
  });

  test("gzip and deflate answers are inflated; inflated past maxBytes they are cut", async () => {
    const body = JSON.stringify({ nodes: Array.from({ length: 200 }, (_, i) => `node ${i}`) });
    const gz = gzipSync(body);
    script = (s) => {
      s.write(`HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: ${gz.byteLength}\r\n\r\n`);
      s.write(gz);
    };
    expect(await get({ maxBytes: 100_000 })).toMatchObject({ text: body, truncated: false });
    const cut = await get({ maxBytes: 50 });
    expect(cut).toMatchObject({ text: body.slice(0, 50), truncated: true });
    // HTTP's "deflate" is the zlib format.
    const zlibWrapped = deflateSync(body);
    script = (s) => {
      s.write(
        `HTTP/1.1 200 OK\r\ncontent-encoding: deflate\r\ncontent-length: ${zlibWrapped.byteLength}\r\n\r\n`,
      );
      s.write(zlibWrapped);
    };
    expect((await get({ maxBytes: 100_000 })).text).toBe(body);
  });

  test("an empty body is empty whatever its Content-Encoding; raw deflate under that name is inflated too", async () => {
    script = (s, r) => {
      if (r.head.startsWith("HEAD"))
        s.write("HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: 99\r\n\r\n");
      else s.write("HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: 0\r\n\r\n");
    };
    expect(await get({ method: "HEAD" })).toMatchObject({ status: 200, text: "" });
    expect(await get()).toMatchObject({ status: 200, text: "" });
    const raw = deflateRawSync('{"raw":true}');
    script = (s) => {
      s.write(`HTTP/1.1 200 OK\r\ncontent-encoding: deflate\r\ncontent-length: ${raw.byteLength}\r\n\r\n`);
      s.write(raw);
    };
    expect((await get()).text).toBe('{"raw":true}');
  });

  test("the codings asked for are always the client's own, whatever the caller's headers say", async () => {
    script = (s) => s.write(answer("{}"));
    await http1Request({
      method: "GET",
      url: url(),
      headers: new Headers({ "accept-encoding": "br", te: "trailers", connection: "close" }),
      maxBytes: 10,
    });
    const head = seen[0]?.head.split("\r\n") ?? [];
    expect(head.filter((line) => /^(accept-encoding|te|connection):/i.test(line))).toEqual([
      "accept-encoding: gzip, deflate",
    ]);
  });

  test("a repeated identical Content-Length is one length", async () => {
    script = (s) => s.write("HTTP/1.1 200 OK\r\ncontent-length: 2, 2\r\nContent-Length: 2\r\n\r\n{}");
    expect((await get()).text).toBe("{}");
  });

  test("an encoding it did not ask for is refused", async () => {
    script = (s) => s.write(answer("....", "content-encoding: br\r\n"));
    await expect(get()).rejects.toBeInstanceOf(Http1Error);
  });

  test("HEAD, 204 and 304 have no body; the connection stays usable", async () => {
    script = (s, r) => {
      if (r.head.startsWith("HEAD")) s.write("HTTP/1.1 200 OK\r\ncontent-length: 1234\r\n\r\n");
      else if (r.head.includes("/x")) s.write("HTTP/1.1 204 No Content\r\n\r\n");
    };
    expect(await get({ method: "HEAD" })).toMatchObject({ status: 200, text: "" });
    expect(await get()).toMatchObject({ status: 204, text: "" });
    expect(new Set(seen.map((r) => r.conn)).size).toBe(1);
  });

  test("interim 1xx answers are skipped", async () => {
    script = (s) => s.write(`HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n${answer("{}")}`);
    expect(await get()).toMatchObject({ status: 200, text: "{}" });
  });

  test("Connection: close and HTTP/1.0 answers are not pooled", async () => {
    script = (s) => s.write(answer("{}", "connection: close\r\n"));
    await get();
    expect(idleConnectionCount()).toBe(0);
    script = (s) => s.write(answer("{}").replace("HTTP/1.1", "HTTP/1.0"));
    await get();
    expect(idleConnectionCount()).toBe(0);
  });

  test("malformed answers are refused and their connection dropped", async () => {
    const bad = [
      "SMTP/1.1 200 OK\r\n\r\n",
      "HTTP/1.1 2000 OK\r\n\r\n",
      "HTTP/1.1 200 OK\r\nno colon here\r\ncontent-length: 0\r\n\r\n",
      "HTTP/1.1 200 OK\r\n folded: x\r\ncontent-length: 0\r\n\r\n",
      "HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n",
      "HTTP/1.1 200 OK\r\ncontent-length: 1, 2\r\n\r\n",
      "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
      "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nabX\r\n",
      "HTTP/1.1 101 Switching Protocols\r\n\r\n",
      "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
      `HTTP/1.1 200 OK\r\nx-big: ${"a".repeat(70 * 1024)}\r\n\r\n`,
    ];
    for (const text of bad) {
      script = (s) => s.write(text);
      await expect(get()).rejects.toBeInstanceOf(Http1Error);
    }
    expect(idleConnectionCount()).toBe(0);
  });

  test("a connection closed before the whole answer rejects", async () => {
    script = (s) => s.end("HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc");
    await expect(get()).rejects.toBeInstanceOf(Http1Error);
  });

  test("bytes after the answer, or on an idle connection, take the connection out of the pool", async () => {
    script = (s) => s.write(`${answer("{}")}HTTP/1.1 200 OK\r\n`);
    await get();
    expect(idleConnectionCount()).toBe(0);
    script = (s) => {
      s.write(answer("{}"));
      setTimeout(() => s.write("garbage"), 20);
    };
    await get();
    await Bun.sleep(60);
    expect(idleConnectionCount()).toBe(0);
  });

  test("aborting mid-answer rejects and closes the connection", async () => {
    const stop = new AbortController();
    script = (s) => {
      s.write("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npart");
      setTimeout(() => stop.abort(), 10);
    };
    const before = closedByClient;
    await expect(get({ signal: stop.signal })).rejects.toBeInstanceOf(Http1Error);
    for (let i = 0; i < 50 && closedByClient === before; i++) await Bun.sleep(10);
    expect(closedByClient).toBe(before + 1);
    // An already aborted signal sends nothing.
    await expect(get({ signal: AbortSignal.abort() })).rejects.toBeInstanceOf(Http1Error);
    expect(seen).toHaveLength(1);
  });

  test("a pooled connection the server closed is retried on a new one for GET, not for POST", async () => {
    script = (s) => s.write(answer("{}"));
    await get();
    // The server drops its side of every idle connection.
    for (const s of sockets) s.end();
    await Bun.sleep(20);
    script = (s) => s.write(answer('{"again":1}'));
    expect((await get()).text).toBe('{"again":1}');
    // A POST on a connection that dies before any answer byte is not sent twice.
    script = (s, r) => {
      if (r.head.startsWith("POST")) s.terminate();
      else s.write(answer("{}"));
    };
    await get();
    const posts = () => seen.filter((r) => r.head.startsWith("POST")).length;
    await expect(get({ method: "POST", body: "{}" })).rejects.toThrow();
    expect(posts()).toBe(1);
  });

  test("a refused connection rejects; unsupported schemes and URL credentials are refused unsent", async () => {
    const closed = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = closed.port;
    closed.stop(true);
    const to = (href: string) =>
      http1Request({ method: "GET", url: new URL(href), headers: new Headers(), maxBytes: 10 });
    await expect(to(`http://127.0.0.1:${port}/`)).rejects.toBeDefined();
    await expect(to("ftp://127.0.0.1/")).rejects.toBeInstanceOf(Http1Error);
    await expect(to(`http://user:pass@127.0.0.1:${server.port}/`)).rejects.toBeInstanceOf(Http1Error);
    expect(seen).toHaveLength(0);
  });
});

describe("TLS", () => {
  let tls: ReturnType<typeof Bun.serve>;
  let requests = 0;
  let caFile: string;
  beforeAll(async () => {
    tls = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      tls: { cert: LOCALHOST_CERT, key: LOCALHOST_KEY },
      fetch: (req) => {
        requests++;
        return Response.json({ token: req.headers.get("authorization") === "Bearer secret" });
      },
    });
    caFile = join(await mkdtemp(join(tmpdir(), "http1-tls-")), "ca.pem");
    await Bun.write(caFile, LOCALHOST_CERT);
  });
  afterAll(() => tls.stop(true));

  test("an untrusted certificate is refused at the handshake, before anything is written", async () => {
    const error = await http1Request({
      method: "GET",
      url: new URL(`https://127.0.0.1:${tls.port}/`),
      headers: new Headers({ authorization: "Bearer secret" }),
      maxBytes: 100,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Http1Error);
    expect(String(error)).toContain("TLS: DEPTH_ZERO_SELF_SIGNED_CERT");
    expect(requests).toBe(0);
  });

  test("a connection that never completes its handshake is given up on when the signal fires", async () => {
    // Accepts TCP, never speaks TLS.
    const mute = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      // Without the signal this would wait for ever (the test's timeout would fail it).
      const error = await http1Request({
        method: "GET",
        url: new URL(`https://127.0.0.1:${mute.port}/`),
        headers: new Headers(),
        maxBytes: 100,
        signal: AbortSignal.timeout(100),
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Http1Error);
      expect(String(error)).toContain("aborted");
    } finally {
      mute.stop(true);
    }
  });

  test("a trusted certificate (NODE_EXTRA_CA_CERTS) for the URL's host: the request goes through, twice on one connection", async () => {
    const client = `
      const { http1Request, idleConnectionCount } = await import(${JSON.stringify(join(import.meta.dir, "http1.ts"))});
      const call = () => http1Request({ method: "GET", url: new URL("https://localhost:${tls.port}/"),
        headers: new Headers({ authorization: "Bearer secret" }), maxBytes: 100 });
      const a = await call();
      const b = await call();
      console.log(JSON.stringify({ a: [a.status, a.text], b: [b.status, b.text], idle: idleConnectionCount() }));
      process.exit(0);`;
    const proc = Bun.spawn([process.execPath, "-e", client], {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: caFile },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, err] = await Promise.all([
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
    ]);
    expect(err).toBe("");
    expect(JSON.parse(out)).toEqual({
      a: [200, '{"token":true}'],
      b: [200, '{"token":true}'],
      idle: 1,
    });
  });
});

// The upstream layer gives the same results whichever client sends its calls (sockets by default; fetch
// with UPSTREAM_HTTP_CLIENT=fetch or an egress proxy).
describe.each(["sockets", "fetch"] as const)("callUpstream through %s", (which) => {
  let api: ReturnType<typeof Bun.serve>;
  beforeAll(() => {
    setUpstreamTransportForTests(which);
    api = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: async (req) => {
        const path = new URL(req.url).pathname;
        if (path === "/ok")
          return Response.json({ method: req.method, key: req.headers.get("x-key"), body: await req.text() });
        if (path === "/limited")
          return new Response("slow down", { status: 429, headers: { "retry-after": "7" } });
        if (path === "/big")
          return new Response("y".repeat(10_000), { headers: { "content-type": "text/plain" } });
        if (path === "/gzip") {
          const body = gzipSync(JSON.stringify({ zipped: "z".repeat(300) }));
          return new Response(body, {
            headers: { "content-encoding": "gzip", "content-type": "application/json" },
          });
        }
        if (path === "/slow") return Bun.sleep(2_000).then(() => new Response("late"));
        return new Response("no", { status: 404 });
      },
    });
  });
  afterAll(() => {
    api.stop(true);
    setUpstreamTransportForTests(undefined);
  });
  const service = () => ({ type: `http1-${which}-${crypto.randomUUID()}` });
  const call = (
    path: string,
    opts: { method?: string; body?: string; timeoutMs?: number; maxBytes?: number } = {},
  ) =>
    callUpstream(
      service(),
      "key",
      {
        method: opts.method ?? "GET",
        url: new URL(`http://127.0.0.1:${api.port}${path}`),
        headers: new Headers({ "x-key": "k-1", "content-type": "application/json" }),
        ...(opts.body !== undefined && { body: opts.body }),
      },
      { timeoutMs: opts.timeoutMs ?? 5_000, maxBytes: opts.maxBytes ?? 1_000, backoff: false },
    );

  test("the transport in use is the one asked for", () => {
    expect(upstreamTransport()).toBe(which);
  });

  test("status, body and the headers read", async () => {
    expect(await call("/ok", { method: "POST", body: '{"a":1}' })).toMatchObject({
      kind: "status",
      status: 200,
      body: '{"method":"POST","key":"k-1","body":"{\\"a\\":1}"}',
      contentType: "application/json;charset=utf-8",
    });
    expect(await call("/limited")).toMatchObject({ kind: "status", status: 429, retryAfterMs: 7_000 });
    expect(await call("/gzip", { maxBytes: 10_000 })).toMatchObject({
      kind: "status",
      body: JSON.stringify({ zipped: "z".repeat(300) }),
    });
  });

  test("too large: the first maxBytes and the declared size", async () => {
    expect(await call("/big", { maxBytes: 100 })).toMatchObject({
      kind: "too_large",
      prefix: "y".repeat(100),
      declaredBytes: 10_000,
    });
  });

  test("timeout and network failures", async () => {
    expect(await call("/slow", { timeoutMs: 200 })).toEqual({ kind: "timeout" });
    const gone = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = gone.port;
    gone.stop(true);
    const refused = await callUpstream(
      service(),
      "key",
      { method: "POST", url: new URL(`http://127.0.0.1:${port}/`), headers: new Headers() },
      { timeoutMs: 2_000, maxBytes: 100, backoff: false },
    );
    expect(refused).toEqual({ kind: "network" });
  });
});
