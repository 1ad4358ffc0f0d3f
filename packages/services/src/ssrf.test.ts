import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  checkUpstreamUrl,
  guardedFetch,
  type HostLookup,
  isPrivateAddress,
  UpstreamBlockedError,
} from "./ssrf.ts";

describe("isPrivateAddress", () => {
  const privateAddresses = [
    // IPv4 ranges, first and last addresses where it matters
    "0.0.0.0",
    "0.255.255.255",
    "10.0.0.1",
    "10.255.255.255",
    "100.64.0.1",
    "100.127.255.255",
    "127.0.0.1",
    "127.255.255.254",
    "169.254.0.1",
    "169.254.169.254",
    "172.16.0.1",
    "172.31.255.255",
    "192.0.0.8",
    "192.0.2.1",
    "192.168.1.1",
    "198.18.0.1",
    "198.19.255.255",
    "198.51.100.7",
    "203.0.113.9",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    // IPv6
    "::",
    "::1",
    "0:0:0:0:0:0:0:1",
    "[::1]",
    "fc00::1",
    "fd12:3456:789a::1",
    "fe80::1",
    "fe80::1%eth0",
    "febf:ffff::1",
    "ff02::1",
    "ff05::fb",
    "2001:db8::1",
    "2001:db8:ffff::1",
    // IPv4-mapped, dotted and hex
    "::ffff:127.0.0.1",
    "::ffff:7f00:1",
    "::FFFF:7F00:0001",
    "0:0:0:0:0:ffff:10.0.0.1",
    "::ffff:a9fe:a9fe", // 169.254.169.254
    "::ffff:0.0.0.0",
    // IPv4-translated, IPv4-compatible
    "::ffff:0:7f00:1",
    "::127.0.0.1",
    "::8.8.8.8",
    // NAT64 of private v4
    "64:ff9b::10.0.0.1",
    "64:ff9b::7f00:1",
    "64:ff9b::a9fe:a9fe",
    "64:ff9b:1::1",
    // 6to4 of private v4, Teredo, discard-only
    "2002:7f00:1::1",
    "2002:c0a8:101::1",
    "2001:0:4136:e378::1",
    "100::1",
    // unparsable → fail closed
    "",
    "localhost",
    "example.com",
    "1.2.3",
    "1.2.3.4.5",
    "256.1.1.1",
    "010.0.0.1",
    "0x7f.0.0.1",
    "2130706433",
    "1::2::3",
    "1:2:3:4:5:6:7:8:9",
    "::ffff:1.2.3.4.5",
    "gggg::1",
    "[::1",
  ];
  const publicAddresses = [
    "1.1.1.1",
    "8.8.8.8",
    "9.255.255.255",
    "11.0.0.1",
    "100.63.255.255",
    "100.128.0.1",
    "126.255.255.255",
    "128.0.0.1",
    "169.253.255.255",
    "169.255.0.1",
    "172.15.255.255",
    "172.32.0.1",
    "192.0.1.1",
    "192.0.3.1",
    "192.167.255.255",
    "192.169.0.1",
    "198.17.255.255",
    "198.20.0.1",
    "203.0.114.1",
    "223.255.255.255",
    " 8.8.8.8 ",
    "2606:4700:4700::1111",
    "2001:4860:4860::8888",
    "2001:db9::1",
    "2a00:1450:4001::1",
    "[2606:4700::1]",
    "::ffff:8.8.8.8",
    "::ffff:808:808",
    "64:ff9b::8.8.8.8",
    "64:ff9b::808:808",
    "2002:808:808::1",
    "fbff::1", // just below fc00::/7
  ];

  test.each(privateAddresses)("%p is private", (ip) => {
    expect(isPrivateAddress(ip)).toBe(true);
  });
  test.each(publicAddresses)("%p is public", (ip) => {
    expect(isPrivateAddress(ip)).toBe(false);
  });
});

/** A fake resolver: unknown names fail like NXDOMAIN. */
function fakeDns(table: Record<string, string[]>): HostLookup & { calls: string[] } {
  const calls: string[] = [];
  const lookup = async (host: string) => {
    calls.push(host);
    const answer = table[host];
    if (!answer) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND" });
    return answer;
  };
  return Object.assign(lookup, { calls });
}

describe("checkUpstreamUrl", () => {
  const lookup = fakeDns({
    "mcp.example.com": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
    "internal.example.com": ["10.0.0.1"],
    "mixed.example.com": ["93.184.216.34", "192.168.0.10"],
    "mapped.example.com": ["::ffff:127.0.0.1"],
    "metadata.example.com": ["169.254.169.254"],
    "empty.example.com": [],
  });
  const strict = { allowPrivate: false, lookup };
  const refusal = async (raw: string, opts = strict) => {
    const r = await checkUpstreamUrl(raw, opts);
    if (r.ok) throw new Error(`expected ${raw} to be refused`);
    return r.reason;
  };

  test("a public host is accepted and the parsed URL returned", async () => {
    const r = await checkUpstreamUrl("https://mcp.example.com/mcp?token=s3cret", strict);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.url.href).toBe("https://mcp.example.com/mcp?token=s3cret");
  });

  test("a public IP literal is accepted without a DNS lookup", async () => {
    const before = lookup.calls.length;
    expect((await checkUpstreamUrl("http://8.8.8.8:8080/sse", strict)).ok).toBe(true);
    expect((await checkUpstreamUrl("https://[2606:4700:4700::1111]/mcp", strict)).ok).toBe(true);
    expect(lookup.calls.length).toBe(before);
  });

  test("a host resolving to 10.0.0.1 is refused", async () => {
    expect(await refusal("https://internal.example.com/mcp")).toMatch(/internal\.example\.com.*private/);
  });

  test("a host with a public and a private answer is refused", async () => {
    expect(await refusal("https://mixed.example.com/mcp")).toMatch(/private address \(192\.168\.0\.10\)/);
  });

  test("hosts resolving to a mapped loopback or to cloud metadata are refused", async () => {
    expect(await refusal("https://mapped.example.com/")).toMatch(/private/);
    expect(await refusal("https://metadata.example.com/")).toMatch(/private/);
  });

  test("a lookup that throws, or answers nothing, is refused", async () => {
    expect(await refusal("https://nope.example.com/mcp")).toBe("cannot resolve host nope.example.com");
    expect(await refusal("https://empty.example.com/mcp")).toBe("cannot resolve host empty.example.com");
  });

  test.each([
    "http://127.0.0.1:3000/mcp",
    "http://2130706433/",
    "http://0x7f.1/",
    "http://017700000001/",
    "http://0x7f000001/",
    "http://127.1/",
    "http://127.0.0.1./",
    "http://0/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[64:ff9b::a00:1]/",
    "http://[fd00::1]:8080/",
  ])("private IP literal %p is refused", async (raw) => {
    expect(await refusal(raw)).toMatch(/private address/);
  });

  test.each([
    "http://localhost:3000/",
    "http://LOCALHOST./",
    "http://api.localhost/",
    "http://printer.local/",
    "http://metadata.google.internal/computeMetadata/v1/",
  ])("local name %p is refused without a lookup", async (raw) => {
    const before = lookup.calls.length;
    expect(await refusal(raw)).toMatch(/local name/);
    expect(lookup.calls.length).toBe(before);
  });

  test("scheme, credentials, length and shape are checked", async () => {
    expect(await refusal("ftp://mcp.example.com/")).toMatch(/only http and https/);
    expect(await refusal("file:///etc/passwd")).toMatch(/only http and https/);
    expect(await refusal("ws://mcp.example.com/")).toMatch(/only http and https/);
    expect(await refusal("not a url")).toBe("not a valid URL");
    expect(await refusal("https://user:hunter2@mcp.example.com/")).toMatch(/put credentials in headers/);
    expect(await refusal("https://token@mcp.example.com/")).toMatch(/put credentials in headers/);
    const long = `https://mcp.example.com/?q=${"a".repeat(2048)}`;
    expect(await refusal(long)).toMatch(/too long/);
    expect((await checkUpstreamUrl(`https://mcp.example.com/${"a".repeat(2000)}`, strict)).ok).toBe(true);
  });

  test("reasons never echo the URL's path, query or credentials", async () => {
    const reasons = await Promise.all([
      refusal("https://user:hunter2@mcp.example.com/?token=s3cret"),
      refusal("https://internal.example.com/x?token=s3cret"),
      refusal("https://nope.example.com/x?token=s3cret"),
      refusal("http://127.0.0.1/x?token=s3cret"),
      refusal("gopher://x/?token=s3cret"),
      refusal(`https://mcp.example.com/?token=s3cret${"a".repeat(2048)}`),
    ]);
    for (const reason of reasons) {
      expect(reason).not.toContain("s3cret");
      expect(reason).not.toContain("hunter2");
    }
  });

  test("allowPrivate lets private hosts through but keeps the other rules", async () => {
    const open = { allowPrivate: true, lookup };
    expect((await checkUpstreamUrl("http://127.0.0.1:3000/mcp", open)).ok).toBe(true);
    expect((await checkUpstreamUrl("http://localhost:3000/mcp", open)).ok).toBe(true);
    expect((await checkUpstreamUrl("https://internal.example.com/mcp", open)).ok).toBe(true);
    expect(await refusal("http://u:p@127.0.0.1/", open)).toMatch(/credentials/);
    expect(await refusal("file:///etc/passwd", open)).toMatch(/only http/);
  });

  test("the default lookup resolves through the system resolver", async () => {
    // "localhost" is refused by name before any lookup; a *.localhost-free name that resolves to
    // loopback is not portable, so only check that a resolver failure is reported as such.
    const r = await checkUpstreamUrl("https://does-not-exist.invalid/", { allowPrivate: false });
    expect(r).toEqual({ ok: false, reason: "cannot resolve host does-not-exist.invalid" });
  });
});

describe("guardedFetch", () => {
  const seen: string[] = [];
  let server: ReturnType<typeof Bun.serve>;
  let base: string;

  beforeAll(() => {
    server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(req) {
        const url = new URL(req.url);
        seen.push(`${req.method} ${url.pathname}`);
        switch (url.pathname) {
          case "/ok":
            return Response.json({ ok: true, method: req.method, body: req.body ? await req.text() : null });
          case "/big":
            return new Response("x".repeat(5000));
          case "/redirect":
            return new Response(null, { status: 302, headers: { location: "http://169.254.169.254/" } });
          case "/slow-headers":
            await Bun.sleep(1000);
            return new Response("late");
          case "/slow-body": {
            const stream = new ReadableStream({
              async start(controller) {
                controller.enqueue(new TextEncoder().encode("first,"));
                await Bun.sleep(400);
                controller.enqueue(new TextEncoder().encode("second"));
                controller.close();
              },
            });
            return new Response(stream, { headers: { "content-type": "text/plain" } });
          }
          default:
            return new Response("not found", { status: 404 });
        }
      },
    });
    base = `http://127.0.0.1:${server.port}`;
  });
  afterAll(() => server.stop(true));

  test("allowPrivate: a request goes through (string, URL and Request inputs)", async () => {
    const f = guardedFetch({ allowPrivate: true });
    expect(await (await f(`${base}/ok`)).json()).toEqual({ ok: true, method: "GET", body: null });
    expect((await f(new URL(`${base}/ok`))).status).toBe(200);
    const res = await f(new Request(`${base}/ok`, { method: "POST", body: "hello" }));
    expect(await res.json()).toEqual({ ok: true, method: "POST", body: "hello" });
    const res2 = await f(`${base}/ok`, { method: "POST", body: "init body" });
    expect(await res2.json()).toEqual({ ok: true, method: "POST", body: "init body" });
  });

  test("a body over maxResponseBytes fails to read instead of filling memory", async () => {
    const f = guardedFetch({ allowPrivate: true, maxResponseBytes: 1000 });
    const res = await f(`${base}/big`);
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow(/exceeded 1000 bytes/);
    expect((await (await guardedFetch({ allowPrivate: true })(`${base}/big`)).text()).length).toBe(5000);
  });

  test("a 3xx is not followed: it rejects", async () => {
    const f = guardedFetch({ allowPrivate: true });
    const before = seen.length;
    const error = await f(`${base}/redirect`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UpstreamBlockedError);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toMatch(/redirects are not followed/);
    expect(seen.slice(before)).toEqual(["GET /redirect"]);
  });

  test("not allowPrivate: a loopback URL is refused before anything is sent", async () => {
    const f = guardedFetch({ allowPrivate: false });
    const before = seen.length;
    const error = await f(`${base}/ok?token=s3cret`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UpstreamBlockedError);
    expect((error as UpstreamBlockedError).code).toBe("UPSTREAM_REFUSED");
    expect((error as Error).message).toMatch(/private address/);
    expect((error as Error).message).not.toContain("s3cret");
    await expect(f(new Request(`${base}/ok`))).rejects.toThrow(/private address/);
    await expect(f(`http://localhost:${server.port}/ok`)).rejects.toThrow(/local name/);
    expect(seen.length).toBe(before);
  });

  test("every request re-runs the DNS check (rebinding after connect)", async () => {
    let answer = ["93.184.216.34"];
    const lookup: HostLookup = async () => answer;
    const f = guardedFetch({ allowPrivate: false, lookup });
    expect((await checkUpstreamUrl("http://rebind.example.com/", { allowPrivate: false, lookup })).ok).toBe(
      true,
    );
    answer = ["127.0.0.1"];
    await expect(f("http://rebind.example.com/ok")).rejects.toThrow(/resolves to a private address/);
  });

  test("the timeout bounds the wait for headers, not a streaming body", async () => {
    const f = guardedFetch({ allowPrivate: true, timeoutMs: 200 });
    await expect(f(`${base}/slow-headers`)).rejects.toThrow(/200 ms|timed out|abort/i);
    const res = await f(`${base}/slow-body`);
    expect(await res.text()).toBe("first,second");
  });

  test("the caller's signal still aborts", async () => {
    const f = guardedFetch({ allowPrivate: true });
    const controller = new AbortController();
    const pending = f(`${base}/slow-headers`, { signal: controller.signal });
    controller.abort();
    await expect(pending).rejects.toThrow();
  });
});
