import { describe, expect, test } from "bun:test";
import { Hono } from "hono";
import { type RequestIdVariables, requestId } from "./request-id.ts";

const app = new Hono<{ Variables: RequestIdVariables }>();
app.use(requestId());
app.get("/", (c) => c.text(c.var.requestId));
// A handler that answers with a Response it built itself (as tRPC's adapter and the MCP handlers do).
app.get("/raw", () => new Response("raw", { headers: { "content-type": "text/plain" } }));
app.get("/own", () => new Response("own", { headers: { "x-request-id": "handler-chosen-1" } }));

describe("requestId", () => {
  test("mints a unique id (a random per-process prefix and a counter) and echoes it", async () => {
    const res = await app.request("/");
    const id = await res.text();
    expect(id).toMatch(/^req_[A-Za-z0-9_-]{18,40}$/);
    expect(res.headers.get("x-request-id")).toBe(id);
    expect(await (await app.request("/")).text()).not.toBe(id);
  });

  test("keeps a sane inbound id, replaces an unsafe one", async () => {
    expect(await (await app.request("/", { headers: { "x-request-id": "proxy-1234abcd" } })).text()).toBe(
      "proxy-1234abcd",
    );
    const injected = await (await app.request("/", { headers: { "x-request-id": 'bad"id<script>' } })).text();
    expect(injected).toMatch(/^req_/);
  });

  test("echoed on a Response the handler built itself, never over one the handler set", async () => {
    const raw = await app.request("/raw", { headers: { "x-request-id": "proxy-1234abcd" } });
    expect(raw.headers.get("x-request-id")).toBe("proxy-1234abcd");
    expect(await raw.text()).toBe("raw");
    const own = await app.request("/own");
    expect(own.headers.get("x-request-id")).toBe("handler-chosen-1");
  });
});
