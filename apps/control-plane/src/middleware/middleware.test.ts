// The control plane's middleware on a bare Hono app (app.request), each on its own.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { AppError, personalOrgOf, signUp } from "@mcp/core";
import { generateKeySpec } from "@mcp/crypto";
import { requestId } from "@mcp/http";
import { Hono } from "hono";
import { testPlatform } from "../../../../packages/core/src/test-platform.ts";
import type { ControlPlaneDeps, HonoEnv } from "../deps.ts";
import { authenticate } from "./auth.ts";
import { onError } from "./errors.ts";
import { sameOrigin } from "./origin.ts";

// A real database for the session → organisation lookup; the session store itself is faked.
let platform: Awaited<ReturnType<typeof testPlatform>>;
let userId = "";
beforeAll(async () => {
  platform = await testPlatform({ encryptionKeys: generateKeySpec(1), kvPrefix: "mw:" });
  const made = await signUp(platform.deps, {
    email: `mw-${crypto.randomUUID()}@x.test`,
    password: "0123456789",
  });
  if (!made.ok) throw new Error(made.message);
  userId = made.value.id;
  deps.db = platform.deps.db;
});
afterAll(() => platform?.close());

const log = { debug() {}, info() {}, warn() {}, error() {} };
const sessions = {
  readCookie: (h: string) => /mcp_session=([^;]+)/.exec(h)?.[1] ?? null,
  validate: async (t: string) => (t === "good-session" ? { userId } : null),
};
const deps = {
  log,
  sessions,
  allowedOrigins: ["https://allowed.example"],
  db: {},
} as unknown as ControlPlaneDeps;

function app() {
  const a = new Hono<HonoEnv>();
  a.onError(onError());
  a.use(async (c, next) => {
    c.set("deps", deps);
    await next();
  });
  a.use(requestId());
  a.use(sameOrigin());
  a.use(authenticate());
  a.post("/whoami", (c) => c.json({ actor: c.var.actor }));
  a.get("/boom", () => {
    throw new Error("secret detail");
  });
  a.get("/gone", () => {
    throw new AppError("NOT_FOUND", "No such thing");
  });
  return a;
}

describe("errors", () => {
  test("AppError renders { error, code, requestId } with its status", async () => {
    const res = await app().request("/gone");
    expect(res.status).toBe(404);
    const body = (await res.json()) as Record<string, string>;
    expect(body).toEqual({
      error: "No such thing",
      code: "NOT_FOUND",
      requestId: res.headers.get("x-request-id") ?? "",
    });
  });

  test("anything else is a 500 INTERNAL without details", async () => {
    const res = await app().request("/boom");
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(text).not.toContain("secret detail");
    expect(JSON.parse(text)).toMatchObject({ code: "INTERNAL", error: "Internal error" });
  });
});

describe("sameOrigin", () => {
  test("refuses a cookie POST from another origin, allows same host and allowed origins", async () => {
    const post = (origin?: string) =>
      app().request("http://cp.local/whoami", {
        method: "POST",
        headers: { host: "cp.local", ...(origin && { origin }) },
      });
    expect((await post("https://evil.example")).status).toBe(403);
    expect((await post("not a url")).status).toBe(403);
    expect((await post("http://cp.local")).status).toBe(200);
    expect((await post("https://allowed.example")).status).toBe(200);
    expect((await post()).status).toBe(200);
  });
});

describe("authenticate", () => {
  test("session cookie → actor; unknown cookie → anonymous", async () => {
    const who = async (cookie: string) =>
      (
        (await (await app().request("/whoami", { method: "POST", headers: { cookie } })).json()) as {
          actor: unknown;
        }
      ).actor;
    const orgId = await personalOrgOf(platform.deps.db, userId);
    expect(await who("mcp_session=good-session")).toEqual({
      userId,
      orgId,
      orgRole: "owner",
      via: "session",
    });
    expect(await who("mcp_session=stale")).toBeNull();
  });

  test("a malformed bearer is a 401 at once, without touching the database", async () => {
    const res = await app().request("/whoami", { method: "POST", headers: { authorization: "Bearer nope" } });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ code: "UNAUTHORIZED" });
  });
});
