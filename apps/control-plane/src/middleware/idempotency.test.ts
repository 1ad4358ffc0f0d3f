// The Idempotency-Key middleware on a bare Hono app (app.request) with an in-process kv and a real keyring.
import { describe, expect, test } from "bun:test";
import { AppError } from "@mcp/core";
import { parseKeyring } from "@mcp/crypto";
import { requestId } from "@mcp/http";
import { createMemoryKv, type Kv } from "@mcp/kv";
import { Hono } from "hono";
import type { ControlPlaneDeps, HonoEnv } from "../deps.ts";
import { onError } from "./errors.ts";
import { idempotency } from "./idempotency.ts";

const log = { debug() {}, info() {}, warn() {}, error() {} };
const keyring = parseKeyring("v1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
const SECRET = "mcp_fig_the-secret-shown-once";

function setup(opts: { maxBodyBytes?: number } = {}) {
  const kv: Kv = createMemoryKv({ prefix: `t:${crypto.randomUUID()}:` });
  const writes: string[] = [];
  const deps = {
    log,
    keyring,
    kv: {
      ...kv,
      set: (k: string, v: string, t: number) => {
        writes.push(v);
        return kv.set(k, v, t);
      },
      setIfAbsent: (k: string, v: string, t: number) => {
        writes.push(v);
        return kv.setIfAbsent(k, v, t);
      },
    },
  } as unknown as ControlPlaneDeps;
  const runs: string[] = [];
  let gate: Promise<void> = Promise.resolve();
  const app = new Hono<HonoEnv>();
  app.onError(onError());
  app.use(async (c, next) => {
    c.set("deps", deps);
    await next();
  });
  app.use(requestId());
  app.use(async (c, next) => {
    const who = c.req.header("x-user");
    c.set(
      "actor",
      who
        ? {
            userId: who,
            orgId: c.req.header("x-org") ?? "org_test",
            orgRole: "owner",
            via: "api_key",
            keyId: c.req.header("x-key") ?? "key_1",
          }
        : null,
    );
    c.set("sessionToken", null);
    await next();
  });
  app.use("/api/*", idempotency(opts));
  app.post("/api/things", async (c) => {
    const body = await c.req.json<{ name: string; status?: number }>();
    runs.push(body.name);
    await gate;
    if (body.status === 503) throw new AppError("SERVICE_UNAVAILABLE", "Upstream down");
    if (body.status === 429) throw new AppError("RATE_LIMIT_EXCEEDED", "Slow down", { retryAfterMs: 1000 });
    if (body.status === 404) throw new AppError("NOT_FOUND", "No such thing");
    c.header("set-cookie", "session=abc");
    return c.json({ name: body.name, url: SECRET, n: runs.length, pad: "x".repeat(body.name.length * 10) });
  });
  app.get("/api/things", (c) => {
    runs.push("get");
    return c.json({ n: runs.length });
  });
  const call = (body: unknown, headers: Record<string, string> = {}, method = "POST") =>
    app.request("/api/things", {
      method,
      headers: { "content-type": "application/json", "x-user": "usr_a", ...headers },
      body: method === "GET" ? undefined : JSON.stringify(body),
    });
  const hold = (p: Promise<void>) => {
    gate = p;
  };
  return { app, runs, writes, call, hold };
}

describe("idempotency middleware", () => {
  test("the same key and body run once; the repeat replays status and body, marked, without cookies", async () => {
    const { runs, call } = setup();
    const first = await call({ name: "a" }, { "idempotency-key": "k1" });
    expect(first.status).toBe(200);
    expect(first.headers.get("idempotency-replayed")).toBeNull();
    const again = await call({ name: "a" }, { "idempotency-key": "k1" });
    expect(again.status).toBe(200);
    expect(again.headers.get("idempotency-replayed")).toBe("true");
    expect(again.headers.get("content-type")).toStartWith("application/json");
    expect(again.headers.get("set-cookie")).toBeNull();
    expect(again.headers.get("x-request-id")).not.toBe(first.headers.get("x-request-id"));
    expect(await again.json()).toEqual(await first.json());
    expect(runs).toEqual(["a"]);
  });

  test("the stored answer is sealed: the secret it holds is never written in the clear", async () => {
    const { writes, call } = setup();
    await call({ name: "a" }, { "idempotency-key": "k1" });
    // The in-flight marker, then the answer.
    expect(writes).toHaveLength(2);
    expect(writes.join()).not.toContain(SECRET);
    expect(writes.join()).not.toContain("session=abc");
  });

  test("no hash of the request is stored: a body (a password) cannot be guessed offline from Redis", async () => {
    const { writes, call, runs } = setup();
    await call({ name: "correct horse battery staple" }, { "idempotency-key": "k1" });
    expect(writes.length).toBeGreaterThan(0);
    // The fingerprint was a SHA-256 in hex, beside the sealed answer.
    for (const written of writes) expect(written).not.toMatch(/[0-9a-f]{64}/);
    // Still told apart: the same request replays, another one under the key is refused.
    expect(
      (await call({ name: "correct horse battery staple" }, { "idempotency-key": "k1" })).headers.get(
        "idempotency-replayed",
      ),
    ).toBe("true");
    expect((await call({ name: "correct horse battery stapler" }, { "idempotency-key": "k1" })).status).toBe(
      422,
    );
    expect(runs).toHaveLength(1);
  });

  test("the same key with another body or method → 422 IDEMPOTENCY_CONFLICT, nothing run", async () => {
    const { runs, call } = setup();
    await call({ name: "a" }, { "idempotency-key": "k1" });
    const res = await call({ name: "b" }, { "idempotency-key": "k1" });
    expect(res.status).toBe(422);
    expect(await res.json()).toMatchObject({ code: "IDEMPOTENCY_CONFLICT" });
    const put = await call({ name: "a" }, { "idempotency-key": "k1" }, "PUT");
    expect(put.status).toBe(422);
    expect(runs).toEqual(["a"]);
  });

  test("a repeat while the first is still running → 409 CONFLICT; afterwards it replays", async () => {
    const { runs, call, hold } = setup();
    let release = () => {};
    hold(
      new Promise<void>((r) => {
        release = r;
      }),
    );
    const first = call({ name: "a" }, { "idempotency-key": "k1" });
    while (runs.length === 0) await Bun.sleep(1);
    const during = await call({ name: "a" }, { "idempotency-key": "k1" });
    expect(during.status).toBe(409);
    expect(await during.json()).toMatchObject({ code: "CONFLICT" });
    const differs = await call({ name: "b" }, { "idempotency-key": "k1" });
    expect(differs.status).toBe(422);
    release();
    expect((await first).status).toBe(200);
    const after = await call({ name: "a" }, { "idempotency-key": "k1" });
    expect(after.headers.get("idempotency-replayed")).toBe("true");
    expect(runs).toEqual(["a"]);
  });

  test("5xx and 429 answers are not kept: the retry runs again; 4xx are kept", async () => {
    const { runs, call } = setup();
    for (const status of [503, 429]) {
      const body = { name: "a", status };
      expect((await call(body, { "idempotency-key": `k${status}` })).status).toBe(status);
      expect((await call(body, { "idempotency-key": `k${status}` })).status).toBe(status);
    }
    const missing = { name: "a", status: 404 };
    expect((await call(missing, { "idempotency-key": "k404" })).status).toBe(404);
    const replayed = await call(missing, { "idempotency-key": "k404" });
    expect(replayed.status).toBe(404);
    expect(replayed.headers.get("idempotency-replayed")).toBe("true");
    expect(runs).toEqual(["a", "a", "a", "a", "a"]);
  });

  test("keys are per caller: another user, API key or organisation with the same key runs on its own", async () => {
    const { runs, call } = setup();
    await call({ name: "a" }, { "idempotency-key": "k1" });
    const otherUser = await call({ name: "a" }, { "idempotency-key": "k1", "x-user": "usr_b" });
    const otherKey = await call({ name: "a" }, { "idempotency-key": "k1", "x-key": "key_2" });
    // The same session acting in another organisation (X-Org-Id) is another request, not a replay.
    const otherOrg = await call({ name: "a" }, { "idempotency-key": "k1", "x-org": "org_other" });
    for (const res of [otherUser, otherKey, otherOrg]) {
      expect(res.status).toBe(200);
      expect(res.headers.get("idempotency-replayed")).toBeNull();
    }
    expect(runs).toEqual(["a", "a", "a", "a"]);
  });

  test("a malformed key → 400 BAD_REQUEST before anything runs", async () => {
    const { runs, call } = setup();
    for (const key of ["", "k".repeat(256), "caf\u00e9"]) {
      const res = await call({ name: "a" }, { "idempotency-key": key });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ code: "BAD_REQUEST" });
    }
    expect(runs).toEqual([]);
    const longest = await call({ name: "a" }, { "idempotency-key": "k".repeat(255) });
    expect(longest.status).toBe(200);
  });

  test("reads and anonymous callers are passed through untouched", async () => {
    const { runs, call } = setup();
    await call(undefined, { "idempotency-key": "k1" }, "GET");
    const read = await call(undefined, { "idempotency-key": "k1" }, "GET");
    expect(read.headers.get("idempotency-replayed")).toBeNull();
    await call({ name: "a" }, { "idempotency-key": "k2", "x-user": "" });
    const anon = await call({ name: "a" }, { "idempotency-key": "k2", "x-user": "" });
    expect(anon.headers.get("idempotency-replayed")).toBeNull();
    // Ignored means ignored: even a malformed key (the route's own auth answers an anonymous caller).
    const malformed = await call({ name: "b" }, { "idempotency-key": "", "x-user": "" });
    expect(malformed.status).toBe(200);
    expect(runs).toEqual(["get", "get", "a", "a", "b"]);
  });

  test("an answer too large to keep makes a repeat 409, never a second run", async () => {
    const { runs, call } = setup({ maxBodyBytes: 100 });
    expect((await call({ name: "long-name" }, { "idempotency-key": "k1" })).status).toBe(200);
    const again = await call({ name: "long-name" }, { "idempotency-key": "k1" });
    expect(again.status).toBe(409);
    expect(runs).toEqual(["long-name"]);
  });
});
