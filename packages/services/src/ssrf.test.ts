import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  checkUpstreamUrl,
  guardedFetch,
  type HostLookup,
  isPrivateAddress,
  pinnedTarget,
  UpstreamBlockedError,
  type UpstreamCheckOptions,
} from "./ssrf.ts";

/** The one reason every refused (well-formed) host gets. */
const NOT_ALLOWED = /^host \S+ is not allowed \(private, internal or unresolvable address\)$/;
const notAllowed = (hostname: string) =>
  `host ${hostname} is not allowed (private, internal or unresolvable address)`;

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
    // Azure's host endpoint, the 6to4 relay anycast, and the other non-routable v6 blocks
    "168.63.129.16",
    "192.88.99.1",
    "2001:2::1",
    "2001:10::1",
    "2001:1f:ffff::1",
    "2001:20::1",
    "2001:2f::1",
    "3fff::1",
    "3fff:fff::1",
    "5f00::1",
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
    "168.63.129.15",
    "168.63.129.17",
    "192.88.98.255",
    "192.88.100.1",
    "2001:3::1",
    "2001:30::1",
    "3fff:1000::1",
    "5f01::1",
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
  const refusal = async (raw: string, opts: UpstreamCheckOptions = strict) => {
    const r = await checkUpstreamUrl(raw, opts);
    if (r.ok) throw new Error(`expected ${raw} to be refused`);
    return r.reason;
  };

  test("a public host is accepted and the parsed URL and checked addresses returned", async () => {
    const r = await checkUpstreamUrl("https://mcp.example.com/mcp?token=s3cret", strict);
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.url.href).toBe("https://mcp.example.com/mcp?token=s3cret");
      expect(r.addresses).toEqual(["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]);
    }
  });

  test("a public IP literal is accepted without a DNS lookup", async () => {
    const before = lookup.calls.length;
    const v4 = await checkUpstreamUrl("http://8.8.8.8:8080/sse", strict);
    const v6 = await checkUpstreamUrl("https://[2606:4700:4700::1111]/mcp", strict);
    expect(v4.ok && v4.addresses).toEqual(["8.8.8.8"]);
    expect(v6.ok && v6.addresses).toEqual(["2606:4700:4700::1111"]);
    expect(lookup.calls.length).toBe(before);
  });

  test("a host resolving to 10.0.0.1 is refused", async () => {
    expect(await refusal("https://internal.example.com/mcp")).toBe(notAllowed("internal.example.com"));
  });

  test("a host with a public and a private answer is refused, without naming the address", async () => {
    const reason = await refusal("https://mixed.example.com/mcp");
    expect(reason).toBe(notAllowed("mixed.example.com"));
    expect(reason).not.toContain("192.168");
  });

  test("hosts resolving to a mapped loopback or to cloud metadata are refused", async () => {
    expect(await refusal("https://mapped.example.com/")).toBe(notAllowed("mapped.example.com"));
    expect(await refusal("https://metadata.example.com/")).toBe(notAllowed("metadata.example.com"));
  });

  test("a lookup that throws, or answers nothing, is refused", async () => {
    expect(await refusal("https://nope.example.com/mcp")).toBe(notAllowed("nope.example.com"));
    expect(await refusal("https://empty.example.com/mcp")).toBe(notAllowed("empty.example.com"));
  });

  test("private, local and unresolvable hosts cannot be told apart by their reason", async () => {
    const reasons = await Promise.all([
      refusal("https://internal.example.com/"),
      refusal("https://nope.example.com/"),
      refusal("https://empty.example.com/"),
      refusal("http://printer.local/"),
      refusal("http://10.0.0.1/"),
      refusal("http://[fd00::1]/"),
    ]);
    for (const reason of reasons) expect(reason).toMatch(NOT_ALLOWED);
    // Only the host the user typed differs.
    expect(new Set(reasons.map((r) => r.replace(/^host \S+ /, ""))).size).toBe(1);
  });

  test("isBlocked (test only) replaces the address rule, not the name rules", async () => {
    const loopback = fakeDns({ "rebind.invalid": ["127.0.0.1"] });
    const open = { allowPrivate: false, lookup: loopback, isBlocked: () => false };
    const r = await checkUpstreamUrl("http://rebind.invalid:8080/", open);
    expect(r.ok && r.addresses).toEqual(["127.0.0.1"]);
    expect(
      (await checkUpstreamUrl("http://rebind.invalid:8080/", { ...open, isBlocked: undefined })).ok,
    ).toBe(false);
    expect(await refusal("http://localhost/", open)).toBe(notAllowed("localhost"));
    expect(await refusal("http://8.8.8.8/", { ...strict, isBlocked: (ip) => ip === "8.8.8.8" })).toBe(
      notAllowed("8.8.8.8"),
    );
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
    expect(await refusal(raw)).toMatch(NOT_ALLOWED);
  });

  test.each([
    "http://localhost:3000/",
    "http://LOCALHOST./",
    "http://api.localhost/",
    "http://printer.local/",
    "http://metadata.google.internal/computeMetadata/v1/",
  ])("local name %p is refused without a lookup", async (raw) => {
    const before = lookup.calls.length;
    expect(await refusal(raw)).toMatch(NOT_ALLOWED);
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
    expect(await checkUpstreamUrl("http://127.0.0.1:3000/mcp", open)).toMatchObject({
      ok: true,
      addresses: [],
    });
    expect((await checkUpstreamUrl("http://localhost:3000/mcp", open)).ok).toBe(true);
    expect((await checkUpstreamUrl("https://internal.example.com/mcp", open)).ok).toBe(true);
    expect(await refusal("http://u:p@127.0.0.1/", open)).toMatch(/credentials/);
    expect(await refusal("file:///etc/passwd", open)).toMatch(/only http/);
  });
});

describe("pinnedTarget", () => {
  test("http with an IPv4 address: host swapped, port, path and query kept, no server name", () => {
    const t = pinnedTarget(new URL("http://mcp.example.com:8080/mcp/sse?token=s3cret#f"), "93.184.216.34");
    expect(t.url.href).toBe("http://93.184.216.34:8080/mcp/sse?token=s3cret#f");
    expect(t.host).toBe("mcp.example.com:8080");
    expect(t.serverName).toBeUndefined();
  });

  test("https with an IPv6 address: bracketed, Host without the default port, server name set", () => {
    const t = pinnedTarget(new URL("https://MCP.Example.com/mcp"), "2606:2800:220:1:248:1893:25c8:1946");
    expect(t.url.href).toBe("https://[2606:2800:220:1:248:1893:25c8:1946]/mcp");
    expect(t.url.hostname).toBe("[2606:2800:220:1:248:1893:25c8:1946]");
    expect(t.host).toBe("mcp.example.com");
    expect(t.serverName).toBe("mcp.example.com");
  });

  test("https on another port with an IPv4-mapped IPv6 address; a trailing dot is not sent as SNI", () => {
    const t = pinnedTarget(new URL("https://mcp.example.com.:8443/x"), "::ffff:93.184.216.34");
    expect(t.url.href).toBe("https://[::ffff:5db8:d822]:8443/x");
    expect(t.host).toBe("mcp.example.com.:8443");
    expect(t.serverName).toBe("mcp.example.com");
  });

  test("an address the URL cannot hold is refused rather than falling back to the name", () => {
    expect(() => pinnedTarget(new URL("http://mcp.example.com/"), "fe80::1%eth0")).toThrow(
      UpstreamBlockedError,
    );
    expect(() => pinnedTarget(new URL("http://mcp.example.com/"), "not-an-ip")).toThrow(UpstreamBlockedError);
  });
});

/** What a test server saw of a request. */
async function echo(req: Request) {
  const url = new URL(req.url);
  return {
    method: req.method,
    path: `${url.pathname}${url.search}`,
    host: req.headers.get("host"),
    custom: req.headers.get("x-custom"),
    contentType: req.headers.get("content-type"),
    body: req.body ? await req.text() : null,
  };
}

// A self-signed certificate for rebind.invalid only (valid 2020-2120), for the https pinning test.
const REBIND_CERT = `-----BEGIN CERTIFICATE-----
MIIBZDCCAQqgAwIBAgIULTjvXlImqrNIkxQunbZwVsOFz1wwCgYIKoZIzj0EAwIw
GTEXMBUGA1UEAwwOcmViaW5kLmludmFsaWQwIBcNMjAwMTAxMDAwMDAwWhgPMjEy
MDAxMDEwMDAwMDBaMBkxFzAVBgNVBAMMDnJlYmluZC5pbnZhbGlkMFkwEwYHKoZI
zj0CAQYIKoZIzj0DAQcDQgAEgiLjcbnYwmPeJkkWC1DO/Ctgj1qyq0vLvI2OPMee
4hrOIdBA/+1A6SpmPxEJfZVIAGCQfPm64ZF6FfK9HeAtD6MuMCwwGQYDVR0RBBIw
EIIOcmViaW5kLmludmFsaWQwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNI
ADBFAiBNbu003ptos2TNOVawtJyPU8Pxz8CYTneI+fy8VtY8zgIhAKT5ASrVswkw
EuH/ODOfT8zKVD+x0rolT35jQvQP7ayP
-----END CERTIFICATE-----
`;
const REBIND_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgnjnhOKuc0tT8Lmbn
PmitWPDoTEb6ZsdhwfQF8F0YlUOhRANCAASCIuNxudjCY94mSRYLUM78K2CPWrKr
S8u8jY48x57iGs4h0ED/7UDpKmY/EQl9lUgAYJB8+brhkXoV8r0d4C0P
-----END PRIVATE KEY-----
`;

/** Whether this machine can listen on ::1 (not every CI container has IPv6 loopback). */
function canListenOnV6Loopback(): boolean {
  try {
    Bun.serve({ hostname: "::1", port: 0, fetch: () => new Response() }).stop(true);
    return true;
  } catch {
    return false;
  }
}

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
          case "/echo":
            return Response.json(await echo(req));
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
    expect((error as Error).message).toBe(notAllowed("127.0.0.1"));
    expect((error as Error).message).not.toContain("s3cret");
    await expect(f(new Request(`${base}/ok`))).rejects.toThrow(NOT_ALLOWED);
    await expect(f(`http://localhost:${server.port}/ok`)).rejects.toThrow(notAllowed("localhost"));
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
    await expect(f("http://rebind.example.com/ok")).rejects.toThrow(notAllowed("rebind.example.com"));
  });

  describe("pins the connection to the checked address (no second DNS lookup)", () => {
    // rebind.invalid does not resolve (RFC 6761): a request only arrives if it went to the checked
    // address. isBlocked lets that address be the loopback test server; never set it in production.
    const pinned = (table: Record<string, string[]> = { "rebind.invalid": ["127.0.0.1"] }) => {
      const lookup = fakeDns(table);
      return { lookup, f: guardedFetch({ allowPrivate: false, lookup, isBlocked: () => false }) };
    };
    const rebind = () => `http://rebind.invalid:${server.port}`;

    test("a GET reaches the checked address with the original Host header", async () => {
      const { f, lookup } = pinned();
      const res = await f(`${rebind()}/echo?token=s3cret`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({
        method: "GET",
        path: "/echo?token=s3cret",
        host: `rebind.invalid:${server.port}`,
        custom: null,
        contentType: null,
        body: null,
      });
      expect(lookup.calls).toEqual(["rebind.invalid"]);
    });

    test("a POST keeps its body and headers; a caller's Host header is replaced", async () => {
      const { f } = pinned();
      const res = await f(new URL(`${rebind()}/echo`), {
        method: "POST",
        headers: { "x-custom": "yes", "content-type": "application/json", host: "evil.example" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }),
      });
      expect(await res.json()).toEqual({
        method: "POST",
        path: "/echo",
        host: `rebind.invalid:${server.port}`,
        custom: "yes",
        contentType: "application/json",
        body: '{"jsonrpc":"2.0","id":1,"method":"ping"}',
      });
    });

    test("a Request input keeps its method, headers and body; init still overrides it", async () => {
      const { f } = pinned();
      const request = new Request(`${rebind()}/echo`, {
        method: "PUT",
        headers: { "x-custom": "from-request" },
        body: "request body",
      });
      expect(await (await f(request)).json()).toMatchObject({
        method: "PUT",
        host: `rebind.invalid:${server.port}`,
        custom: "from-request",
        body: "request body",
      });
      const overridden = await f(new Request(`${rebind()}/echo`, { headers: { "x-custom": "old" } }), {
        method: "POST",
        headers: { "x-custom": "new" },
        body: "init body",
      });
      expect(await overridden.json()).toMatchObject({ method: "POST", custom: "new", body: "init body" });
    });

    test("the first checked address is the one used", async () => {
      // Nothing listens on 127.0.0.2 at this port: picking the second answer would fail.
      const { f } = pinned({ "rebind.invalid": ["127.0.0.1", "127.0.0.2"] });
      expect((await f(`${rebind()}/echo`)).status).toBe(200);
      const { f: other } = pinned({ "rebind.invalid": ["127.0.0.2", "127.0.0.1"] });
      await expect(other(`${rebind()}/echo`)).rejects.toThrow();
    });

    test("each request uses its own check's answer", async () => {
      let answer = ["127.0.0.1"];
      const f = guardedFetch({ allowPrivate: false, lookup: async () => answer, isBlocked: () => false });
      expect((await f(`${rebind()}/echo`)).status).toBe(200);
      answer = ["127.0.0.2"];
      await expect(f(`${rebind()}/echo`)).rejects.toThrow();
    });

    test("redirects are still refused", async () => {
      const { f } = pinned();
      await expect(f(`${rebind()}/redirect`)).rejects.toThrow(/redirects are not followed/);
    });

    test("https: SNI and certificate verification use the hostname, not the address", async () => {
      const tlsServer = Bun.serve({
        hostname: "127.0.0.1",
        port: 0,
        tls: { cert: REBIND_CERT, key: REBIND_KEY },
        fetch: async (req) => Response.json(await echo(req)),
      });
      try {
        const { f } = pinned({ "rebind.invalid": ["127.0.0.1"], "other.invalid": ["127.0.0.1"] });
        const init = { tls: { ca: REBIND_CERT } } as RequestInit;
        const res = await f(`https://rebind.invalid:${tlsServer.port}/echo`, init);
        expect(await res.json()).toMatchObject({ method: "GET", host: `rebind.invalid:${tlsServer.port}` });
        // The same address under a name the certificate does not cover is rejected by verification.
        await expect(f(`https://other.invalid:${tlsServer.port}/echo`, init)).rejects.toThrow();
      } finally {
        tlsServer.stop(true);
      }
    });

    test.skipIf(!canListenOnV6Loopback())("an IPv6 answer is connected to in brackets", async () => {
      const v6Server = Bun.serve({
        hostname: "::1",
        port: 0,
        fetch: async (req) => Response.json(await echo(req)),
      });
      try {
        const { f } = pinned({ "rebind.invalid": ["::1"] });
        const res = await f(`http://rebind.invalid:${v6Server.port}/echo`);
        expect(await res.json()).toMatchObject({ host: `rebind.invalid:${v6Server.port}` });
      } finally {
        v6Server.stop(true);
      }
    });
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
