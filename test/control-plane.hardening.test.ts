// Control-plane findings of the outside security review, as a black box over real HTTP: an API key cannot
// manage API keys; a malformed cookie of any name cannot break a request; a DNS-rebinding Host is refused
// on a loopback bind; production cookies are `__Host-` and Secure; every dashboard page carries the CSP.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { apiKeys } from "@mcp/db";
import { connectFigma, data, expectTrpcError, figmaKeyFor, newUser, rest, trpc } from "./client.ts";
import { type Stack, startStack } from "./harness.ts";

let stack: Stack;
let secure: Stack;

beforeAll(async () => {
  [stack, secure] = await Promise.all([startStack(), startStack({ secureCookies: true })]);
});
afterAll(async () => {
  await Promise.all([stack?.stop(), secure?.stop()]);
});

/** A user's API key rows, without `lastUsedAt`/`updatedAt` (which every use of a key moves on). */
const keysOf = async (userId: string) =>
  (await stack.platform.deps.db.select().from(apiKeys))
    .filter((k) => k.userId === userId)
    .map(({ lastUsedAt: _, updatedAt: __, ...row }) => row);

describe("a leaked API key gives no lasting access", () => {
  test("an API key cannot create, list or revoke API keys (403 FORBIDDEN); nothing is created or revoked", async () => {
    const user = await newUser(stack);
    const k1 = data<{ id: string; key: string }>(
      await trpc(stack, "apiKeys.create", { name: "k1" }, { cookie: user.cookie }),
    );
    const before = await keysOf(user.userId);
    for (const [path, input] of [
      ["apiKeys.create", { name: "k2" }],
      ["apiKeys.list", undefined],
      ["apiKeys.revoke", { id: k1.id }],
    ] as const) {
      expectTrpcError(await trpc(stack, path, input, { apiKey: k1.key }), 403, "FORBIDDEN");
    }
    expect(await keysOf(user.userId)).toEqual(before);
    // The key still does what it is for.
    expect((await trpc(stack, "instances.list", undefined, { apiKey: k1.key })).status).toBe(200);
  });

  test("once the session revokes K1, K1 can neither rotate instance URLs nor do anything else (401)", async () => {
    const user = await newUser(stack);
    await connectFigma(stack, user, figmaKeyFor(stack, user.userId));
    const k1 = data<{ id: string; key: string }>(
      await trpc(stack, "apiKeys.create", { name: "k1" }, { cookie: user.cookie }),
    );
    expect((await trpc(stack, "instances.rotate", { serviceType: "figma" }, { apiKey: k1.key })).status).toBe(
      200,
    );
    expect(data(await trpc(stack, "apiKeys.revoke", { id: k1.id }, { cookie: user.cookie }))).toEqual({
      id: k1.id,
    });
    for (const [path, input] of [
      ["instances.rotate", { serviceType: "figma" }],
      ["apiKeys.create", { name: "k2" }],
      ["instances.list", undefined],
    ] as const) {
      expectTrpcError(await trpc(stack, path, input, { apiKey: k1.key }), 401, "UNAUTHORIZED");
    }
    expect((await keysOf(user.userId)).filter((k) => k.revokedAt === null)).toEqual([]);
  });
});

describe("malformed cookies", () => {
  const BAD = "other=%E0%A4%A";

  test("an unparseable cookie on any /trpc or /api request is ignored: anonymous, never a 500", async () => {
    const mark = stack.logs.length;
    expectTrpcError(await trpc(stack, "instances.list", undefined, { cookie: BAD }), 401, "UNAUTHORIZED");
    expect(data(await trpc(stack, "auth.me", undefined, { cookie: BAD }))).toBeNull();
    expect((await trpc(stack, "services.list", undefined, { cookie: BAD })).status).toBe(200);
    const signUp = await trpc(
      stack,
      "auth.signUp",
      { email: `c-${crypto.randomUUID()}@e.test`, password: "correct horse battery" },
      { cookie: BAD },
    );
    expect(signUp.status).toBe(200);
    const listed = await rest(stack, "GET", "/user/instances", { auth: { cookie: BAD } });
    expect(listed).toMatchObject({ status: 401, body: { code: "UNAUTHORIZED" } });
    expect((await rest(stack, "GET", "/services", { auth: { cookie: BAD } })).status).toBe(200);
    expect(stack.logs.slice(mark).filter((l) => l.includes('"level":"error"'))).toEqual([]);
  });

  test("beside a valid session cookie, the bad one changes nothing: still signed in", async () => {
    const user = await newUser(stack);
    for (const cookie of [`${BAD}; ${user.cookie}`, `${user.cookie}; ${BAD}`, `${user.cookie}; x=%`]) {
      const me = data<{ id: string } | null>(await trpc(stack, "auth.me", undefined, { cookie }));
      expect(me?.id).toBe(user.userId);
    }
  });
});

describe("Host header on a loopback bind (DNS rebinding)", () => {
  const at = (path: string, host: string, init: RequestInit = {}) =>
    fetch(`${stack.controlPlaneUrl}${path}`, { ...init, headers: { ...init.headers, host } });

  test("a foreign Host → 403 FORBIDDEN on tRPC, REST and the dashboard; nothing runs", async () => {
    const email = `rebind-${crypto.randomUUID()}@e.test`;
    for (const host of ["attacker.example", "attacker.example:80", "127.0.0.1.nip.io"]) {
      const signUp = await at("/trpc/auth.signUp", host, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email, password: "correct horse battery" }),
      });
      expect(signUp.status).toBe(403);
      expect(await signUp.json()).toMatchObject({ error: { data: { appCode: "FORBIDDEN" } } });
      const services = await at("/api/v1/services", host);
      expect(services.status).toBe(403);
      expect(await services.json()).toMatchObject({ code: "FORBIDDEN" });
      expect((await at("/", host)).status).toBe(403);
    }
    // The sign-up never happened: the same email is still free.
    const real = await trpc(stack, "auth.signUp", { email, password: "correct horse battery" });
    expect(real.status).toBe(200);
  });

  test("loopback names (IPv4, IPv6 in brackets, localhost) are served", async () => {
    const port = new URL(stack.controlPlaneUrl).port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, "LOCALHOST"]) {
      expect([host, (await at("/api/v1/services", host)).status]).toEqual([host, 200]);
    }
  });
});

describe("production session cookie", () => {
  test("__Host- prefixed, Secure, HttpOnly, SameSite=Lax, Path=/, no Domain; and it authenticates", async () => {
    const email = `secure-${crypto.randomUUID()}@e.test`;
    const res = await trpc(secure, "auth.signUp", { email, password: "correct horse battery" });
    const setCookie = res.headers.get("set-cookie") ?? "";
    expect(setCookie).toMatch(/^__Host-mcp_session=[A-Za-z0-9_-]{43};/);
    for (const flag of [/; Secure/i, /; HttpOnly/i, /; SameSite=Lax/i, /; Path=\/(;|$)/i])
      expect(setCookie).toMatch(flag);
    expect(setCookie).not.toMatch(/; Domain=/i);
    const cookie = setCookie.split(";")[0] ?? "";
    const me = data<{ email: string } | null>(await trpc(secure, "auth.me", undefined, { cookie }));
    expect(me?.email).toBe(email);
    // The same secret under the unprefixed name (settable by a sibling subdomain) is not accepted.
    const unprefixed = cookie.replace("__Host-", "");
    expect(data(await trpc(secure, "auth.me", undefined, { cookie: unprefixed }))).toBeNull();
  });
});

describe("Content-Security-Policy", () => {
  test("every dashboard page and asset carries the strict policy", async () => {
    const index = await fetch(`${stack.controlPlaneUrl}/`);
    const html = await index.text();
    const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1] ?? "");
    expect(assets.length).toBeGreaterThan(0);
    for (const path of ["/", "/index.html", "/instances", "/deep/link/anywhere", ...assets]) {
      const res = await fetch(`${stack.controlPlaneUrl}${path}`);
      expect([path, res.status]).toEqual([path, 200]);
      const csp = res.headers.get("content-security-policy") ?? "";
      for (const directive of [
        "default-src 'self'",
        "script-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
      ]) {
        expect([path, csp.includes(directive)]).toEqual([path, true]);
      }
      expect(csp).not.toContain("unsafe-inline");
    }
  });

  test("a build file that is not there (an old chunk after a deploy) is a 404, not the page", async () => {
    for (const path of ["/assets/Account-OLDHASH.js", "/assets/index-gone.css", "/assets/"]) {
      const res = await fetch(`${stack.controlPlaneUrl}${path}`);
      expect([path, res.status]).toEqual([path, 404]);
      expect(((await res.json()) as { code: string }).code).toBe("NOT_FOUND");
    }
    // Any other unknown path is the dashboard's own route (its page says what is not found).
    expect((await fetch(`${stack.controlPlaneUrl}/no/such/page`)).status).toBe(200);
  });
});

describe("procedures that take no input", () => {
  const NO_INPUT = [
    "auth.me",
    "auth.signOut",
    "apiKeys.list",
    "services.list",
    "instances.list",
    "account.sessions",
    "account.signOutEverywhere",
    "orgs.list",
  ];

  test("a field, or anything but nothing, null or {}, → 400 BAD_REQUEST naming it; nothing runs (still signed in)", async () => {
    const user = await newUser(stack);
    for (const path of NO_INPUT) {
      for (const input of [{ x: 1 }, "hello", [1], 7]) {
        const res = await trpc(stack, path, input, { cookie: user.cookie });
        expectTrpcError(res, 400, "BAD_REQUEST");
        if (typeof input === "object" && !Array.isArray(input))
          expect(res.body.error?.message).toContain("x");
      }
    }
    // Neither sign-out ran: the session still works.
    expect(
      data<{ id: string } | null>(await trpc(stack, "auth.me", undefined, { cookie: user.cookie }))?.id,
    ).toBe(user.userId);
  });

  test("nothing, null or {} is what they take", async () => {
    const user = await newUser(stack);
    for (const path of NO_INPUT.filter((p) => !p.includes("signOut"))) {
      for (const input of [undefined, null, {}]) {
        const res = await trpc(stack, path, input, { cookie: user.cookie });
        expect({ path, status: res.status }).toEqual({ path, status: 200 });
      }
    }
    for (const input of [undefined, {}]) {
      const other = await newUser(stack);
      const res = await trpc(stack, "auth.signOut", input, { cookie: other.cookie });
      expect(res.status).toBe(200);
    }
  });
});
