// The shared middleware on bare Hono apps (app.request).
import { describe, expect, test } from "bun:test";
import { Hono } from "hono";
import { addressKey, type ClientIpVariables, clientIp } from "./client-ip.ts";
import { hostGuard, isLoopbackBind, loopbackAllowlist, normaliseHost } from "./host.ts";

describe("clientIp", () => {
  function ipApp(trustProxy: boolean) {
    const a = new Hono<{ Variables: ClientIpVariables }>();
    a.use(clientIp({ trustProxy }));
    a.get("/ip", (c) => c.text(c.var.clientIp));
    return a;
  }
  const ip = async (trustProxy: boolean, xff?: string) =>
    (await ipApp(trustProxy).request("/ip", { headers: xff ? { "x-forwarded-for": xff } : {} })).text();

  test("behind a trusted proxy: the entry the proxy appended (the last), never a client-sent one", async () => {
    expect(await ip(true, "10.9.0.1, 203.0.113.9")).toBe("203.0.113.9");
    expect(await ip(true, "198.51.100.7")).toBe("198.51.100.7");
  });

  test("without TRUST_PROXY the header is ignored", async () => {
    expect(await ip(false, "203.0.113.9")).toBe("unknown"); // no socket under app.request
  });
});

describe("hosts", () => {
  test("normaliseHost: lower-case, no port, no trailing dot, IPv6 in brackets; junk → null", () => {
    expect(normaliseHost("LocalHost:3000")).toBe("localhost");
    expect(normaliseHost("[::1]:3001")).toBe("[::1]");
    expect(normaliseHost("::1")).toBe("[::1]");
    expect(normaliseHost("mcp.example.com.")).toBe("mcp.example.com");
    for (const junk of ["", "a b", "evil.example/path", "user@host", "host?x", undefined]) {
      expect(normaliseHost(junk)).toBeNull();
    }
  });

  test("loopbackAllowlist: loopback names plus public hosts on a loopback bind; nothing otherwise", () => {
    expect(loopbackAllowlist("127.0.0.1", "https://mcp.example.com/", undefined)).toEqual([
      "localhost",
      "127.0.0.1",
      "[::1]",
      "mcp.example.com",
    ]);
    expect(loopbackAllowlist("::1")).toHaveLength(3);
    expect(loopbackAllowlist("0.0.0.0", "https://mcp.example.com/")).toEqual([]);
    expect(isLoopbackBind("localhost")).toBe(true);
    expect(isLoopbackBind("10.0.0.5")).toBe(false);
  });

  test("hostGuard answers the rejection for other names and passes allowed ones", async () => {
    const a = new Hono();
    a.use(hostGuard({ allowed: loopbackAllowlist("127.0.0.1"), reject: (c) => c.text("no", 403) }));
    a.get("/", (c) => c.text("ok"));
    const at = async (host: string) => (await a.request("http://x/", { headers: { host } })).status;
    expect(await at("127.0.0.1:3000")).toBe(200);
    expect(await at("[::1]:3000")).toBe(200);
    expect(await at("rebind.attacker.example")).toBe(403);
    const open = new Hono();
    open.use(hostGuard({ allowed: [], reject: (c) => c.text("no", 403) }));
    open.get("/", (c) => c.text("ok"));
    expect((await open.request("http://x/", { headers: { host: "anything.example" } })).status).toBe(200);
  });
});

describe("addressKey", () => {
  test("IPv4 as is; IPv4-mapped IPv6 as IPv4; other IPv6 by /64, however it is written", () => {
    expect(addressKey("203.0.113.9")).toBe("203.0.113.9");
    expect(addressKey("::ffff:203.0.113.9")).toBe("203.0.113.9");
    for (const ip of [
      "2001:db8:1:2::1",
      "2001:0db8:0001:0002:ffff:0:0:1d",
      "[2001:db8:1:2::abcd]",
      "2001:DB8:1:2::9%eth0",
    ]) {
      expect([ip, addressKey(ip)]).toEqual([ip, "2001:db8:1:2::/64"]);
    }
    expect(addressKey("2001:db8:1:3::1")).not.toBe(addressKey("2001:db8:1:2::1"));
    expect(addressKey("::1")).toBe("0:0:0:0::/64");
    expect(addressKey("unknown")).toBe("unknown");
  });
});
