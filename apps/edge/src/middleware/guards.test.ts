// The edge's guard and body middleware on a bare Hono app (app.request).
import { describe, expect, test } from "bun:test";
import { requestId } from "@mcp/http";
import { Hono } from "hono";
import { DEFAULT_LIMITS, type EdgeDeps, type EdgeEnv } from "../deps.ts";
import { originAndHost, readBody } from "./guards.ts";

function app(over: Partial<EdgeDeps>) {
  const deps = {
    allowedOrigins: [],
    allowedHosts: [],
    limits: { ...DEFAULT_LIMITS, maxBodyBytes: 64 },
    ...over,
  } as EdgeDeps;
  const a = new Hono<EdgeEnv>();
  a.use(async (c, next) => {
    c.set("deps", deps);
    await next();
  });
  a.use(requestId());
  a.post("/x", originAndHost(), readBody(), (c) => c.json({ parsed: c.var.parsedBody ?? null }));
  return a;
}

describe("originAndHost", () => {
  test("a browser Origin must be allowed; clients without one pass", async () => {
    const a = app({ allowedOrigins: ["https://ok.example"] });
    expect(
      (await a.request("/x", { method: "POST", headers: { origin: "https://evil.example" } })).status,
    ).toBe(403);
    expect(
      (await a.request("/x", { method: "POST", headers: { origin: "https://ok.example" } })).status,
    ).toBe(200);
    expect((await a.request("/x", { method: "POST" })).status).toBe(200);
  });

  test("on loopback the Host must be a local or public name", async () => {
    const a = app({ allowedHosts: ["127.0.0.1", "localhost"] });
    const at = (host: string) => a.request(`http://${host}/x`, { method: "POST", headers: { host } });
    expect((await at("127.0.0.1:3001")).status).toBe(200);
    expect((await at("localhost:3001")).status).toBe(200);
    const rebound = await at("attacker.example");
    expect(rebound.status).toBe(403);
    expect(await rebound.json()).toMatchObject({ code: "FORBIDDEN" });
  });
});

describe("readBody", () => {
  test("parses JSON once, leaves non-JSON for the SDK, refuses oversized bodies", async () => {
    const a = app({});
    const post = (body: string) =>
      a.request("/x", { method: "POST", body, headers: { "content-type": "application/json" } });
    expect(await (await post('{"id":1}')).json()).toEqual({ parsed: { id: 1 } });
    expect(await (await post("not json")).json()).toEqual({ parsed: null });
    const big = await post(JSON.stringify({ pad: "x".repeat(100) }));
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ code: "PAYLOAD_TOO_LARGE" });
  });
});
