// Sign-in, sessions and CSRF of the control plane, reviewed from outside as a black box over real HTTP. Found and
// fixed: a cookie request the browser marks as cross-site was let through when it carried no Origin; tRPC ran a
// procedure without input on an empty `application/octet-stream` body; a session renewed on tRPC (the
// dashboard's API) never sent its cookie back; cookies were not Secure under an https PUBLIC_URL unless
// NODE_ENV=production; a burst of sign-ins from many addresses went far past the per-email bound; an answer
// failing its own output schema was a 400 BAD_REQUEST on tRPC; sessions per user grew without end. Kept as
// regressions, the checks that found nothing: one code path for unknown and known emails, X-Forwarded-For
// ignored without TRUST_PROXY, Authorization edge cases, Idempotency-Key scoped to its caller.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createApp } from "@mcp/control-plane";
import { createSessionStore, parseEnv, secureCookiesFor } from "@mcp/core";
import { apiKeys, instances, sessions } from "@mcp/db";
import { loopbackAllowlist } from "@mcp/http";
import { and, eq, isNull } from "drizzle-orm";
import {
  connectFigma,
  data,
  expectRestError,
  expectTrpcError,
  figmaKeyFor,
  newUser,
  rest,
  type TestUser,
  trpc,
} from "./client.ts";
import { type Stack, startStack } from "./harness.ts";

const PASSWORD = "correct horse battery";
const DAY = 86_400_000;

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.stop());

const db = () => stack.platform.deps.db;
const secretOf = (cookie: string) => cookie.slice(cookie.indexOf("=") + 1);
const sessionId = (cookie: string) => createHash("sha256").update(secretOf(cookie)).digest("hex");
/** The user's live API keys (ids), straight from the database. */
const liveKeys = async (userId: string) =>
  (
    await db()
      .select({ id: apiKeys.id })
      .from(apiKeys)
      .where(and(eq(apiKeys.userId, userId), isNull(apiKeys.revokedAt)))
  ).map((k) => k.id);
const sessionRows = (userId: string) => db().select().from(sessions).where(eq(sessions.userId, userId));

/** A raw POST to the control plane with exactly these headers and body. */
const post = (path: string, headers: Record<string, string>, body?: BodyInit) =>
  fetch(`${stack.controlPlaneUrl}${path}`, { method: "POST", headers, body });

describe("CSRF without an Origin header", () => {
  for (const site of ["cross-site", "same-site"]) {
    test(`Sec-Fetch-Site: ${site} on a cookie write → 403 FORBIDDEN on tRPC and REST; nothing changes`, async () => {
      const user = await newUser(stack);
      const key = data<{ id: string }>(
        await trpc(stack, "apiKeys.create", { name: "kept" }, { cookie: user.cookie }),
      );
      const before = await liveKeys(user.userId);
      const headers = { "content-type": "application/json", cookie: user.cookie, "sec-fetch-site": site };

      for (const [path, body] of [
        ["/trpc/apiKeys.create", { name: "planted" }],
        ["/trpc/apiKeys.revoke", { id: key.id }],
        ["/trpc/account.signOutEverywhere", null],
        ["/trpc/auth.signOut", null],
      ] as const) {
        const res = await post(path, headers, JSON.stringify(body));
        expectTrpcError(
          { status: res.status, body: (await res.json()) as Parameters<typeof expectTrpcError>[0]["body"] },
          403,
          "FORBIDDEN",
        );
        expect(res.headers.get("set-cookie")).toBeNull();
      }
      for (const [method, path, body] of [
        ["POST", "/api/v1/api-keys", { name: "planted" }],
        ["DELETE", `/api/v1/api-keys/${key.id}`, undefined],
        ["POST", "/api/v1/account/sign-out-everywhere", undefined],
      ] as const) {
        const res = await fetch(`${stack.controlPlaneUrl}${path}`, {
          method,
          headers,
          body: body && JSON.stringify(body),
        });
        expectRestError(
          { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers },
          403,
          "FORBIDDEN",
        );
      }

      expect(await liveKeys(user.userId)).toEqual(before);
      expect(await sessionRows(user.userId)).toHaveLength(1);
      const me = data<{ id: string }>(await trpc(stack, "auth.me", undefined, { cookie: user.cookie }));
      expect(me.id).toBe(user.userId);
    });
  }

  test("Sec-Fetch-Site: same-origin or none (typed by the user) goes through; so does a client sending neither", async () => {
    const user = await newUser(stack);
    for (const site of ["same-origin", "none", undefined]) {
      const res = await post(
        "/trpc/apiKeys.create",
        {
          "content-type": "application/json",
          cookie: user.cookie,
          ...(site && { "sec-fetch-site": site }),
        },
        JSON.stringify({ name: `via ${site}` }),
      );
      expect(res.status).toBe(200);
    }
    expect(await liveKeys(user.userId)).toHaveLength(3);
  });

  test("an API key is not cookie-borne: Sec-Fetch-Site does not matter to it", async () => {
    const user = await newUser(stack);
    const { key } = data<{ key: string }>(
      await trpc(stack, "apiKeys.create", { name: "k" }, { cookie: user.cookie }),
    );
    const res = await post(
      "/trpc/instances.revoke",
      { "content-type": "application/json", authorization: `Bearer ${key}`, "sec-fetch-site": "cross-site" },
      JSON.stringify({ serviceType: "figma" }),
    );
    // It reached the procedure (no instance there), not the CSRF guard.
    expect(res.status).toBe(404);
  });
});

describe("tRPC takes JSON bodies only", () => {
  const bodies: [string, string | undefined, BodyInit | undefined][] = [
    // tRPC's adapter hands the procedure the body stream, null when empty: `signOutEverywhere` took that as no input.
    ["application/octet-stream (empty)", "application/octet-stream", ""],
    ["application/octet-stream", "application/octet-stream", "{}"],
    ["multipart/form-data", "multipart/form-data; boundary=x", "--x--\r\n"],
    ["text/plain", "text/plain", "{}"],
    ["application/x-www-form-urlencoded", "application/x-www-form-urlencoded", "a=b"],
    ["no Content-Type", undefined, undefined],
  ];
  for (const [name, type, body] of bodies) {
    test(`${name} → 400 BAD_REQUEST before anything runs (a procedure without input included)`, async () => {
      const user = await newUser(stack);
      const second = await trpc(stack, "auth.signIn", { email: user.email, password: PASSWORD });
      const cookie2 = (second.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
      for (const path of ["account.signOutEverywhere", "auth.signOut", "apiKeys.create"]) {
        const res = await post(
          `/trpc/${path}`,
          { cookie: user.cookie, ...(type && { "content-type": type }) },
          body,
        );
        expectTrpcError(
          { status: res.status, body: (await res.json()) as Parameters<typeof expectTrpcError>[0]["body"] },
          400,
          "BAD_REQUEST",
        );
        expect(res.headers.get("set-cookie")).toBeNull();
      }
      // Nothing ran: both sessions live, no key made.
      expect(await sessionRows(user.userId)).toHaveLength(2);
      expect(await liveKeys(user.userId)).toEqual([]);
      for (const cookie of [user.cookie, cookie2]) {
        expect(data<{ id: string }>(await trpc(stack, "auth.me", undefined, { cookie })).id).toBe(
          user.userId,
        );
      }
    });
  }

  test("application/json (with a charset) still works, and queries (GET) need no Content-Type", async () => {
    const user = await newUser(stack);
    const res = await post(
      "/trpc/apiKeys.create",
      { cookie: user.cookie, "content-type": "application/json; charset=utf-8" },
      JSON.stringify({ name: "k" }),
    );
    expect(res.status).toBe(200);
    const me = await fetch(`${stack.controlPlaneUrl}/trpc/auth.me`, { headers: { cookie: user.cookie } });
    expect(me.status).toBe(200);
  });
});

describe("sliding session renewal", () => {
  /** Moves the session of `cookie` into the second half of its life (5 of 30 days left). */
  const age = (cookie: string) =>
    db()
      .update(sessions)
      .set({ expiresAt: new Date(Date.now() + 5 * DAY) })
      .where(eq(sessions.id, sessionId(cookie)));
  const expiresIn = async (cookie: string) => {
    const [row] = await db()
      .select()
      .from(sessions)
      .where(eq(sessions.id, sessionId(cookie)));
    return ((row?.expiresAt.getTime() ?? 0) - Date.now()) / DAY;
  };

  for (const [name, call] of [
    ["tRPC query (auth.me)", (u: TestUser) => trpc(stack, "auth.me", undefined, { cookie: u.cookie })],
    [
      "tRPC mutation (apiKeys.create)",
      (u: TestUser) => trpc(stack, "apiKeys.create", { name: "k" }, { cookie: u.cookie }),
    ],
    ["REST (GET /auth/me)", (u: TestUser) => rest(stack, "GET", "/auth/me", { auth: { cookie: u.cookie } })],
  ] as const) {
    test(`${name}: the session is extended and its cookie comes back with the full lifetime`, async () => {
      const user = await newUser(stack);
      await age(user.cookie);
      const res = await call(user);
      expect(res.status).toBe(200);
      const set = res.headers.getSetCookie();
      expect(set).toHaveLength(1);
      const cookie = set[0] ?? "";
      // The same secret (no new session), HttpOnly, SameSite=Lax, Path=/, 30 days again.
      expect(cookie.split(";")[0]).toBe(user.cookie);
      for (const flag of [/; HttpOnly/i, /; SameSite=Lax/i, /; Path=\/(;|$)/i, /; Max-Age=2592000(;|$)/i])
        expect(cookie).toMatch(flag);
      expect(await expiresIn(user.cookie)).toBeGreaterThan(29);
      // Once renewed, the next call sets nothing.
      expect((await call(user)).headers.getSetCookie()).toEqual([]);
    });
  }

  test("an answer that sets the cookie itself keeps the last word (sign-out clears it; a password change replaces it)", async () => {
    const a = await newUser(stack);
    await age(a.cookie);
    const out = await trpc(stack, "auth.signOut", undefined, { cookie: a.cookie });
    expect(out.status).toBe(200);
    const cleared = out.headers.getSetCookie();
    expect(cleared).toHaveLength(1);
    expect(cleared[0]).toMatch(/^mcp_session=;.*Max-Age=0/i);
    expect(await sessionRows(a.userId)).toHaveLength(0);

    const b = await newUser(stack);
    await age(b.cookie);
    const changed = await trpc(
      stack,
      "account.changePassword",
      { currentPassword: PASSWORD, newPassword: "another long passphrase" },
      { cookie: b.cookie },
    );
    expect(changed.status).toBe(200);
    const set = changed.headers.getSetCookie();
    expect(set).toHaveLength(1);
    const fresh = (set[0] ?? "").split(";")[0] ?? "";
    expect(fresh).not.toBe(b.cookie);
    expect(data<{ id: string }>(await trpc(stack, "auth.me", undefined, { cookie: fresh })).id).toBe(
      b.userId,
    );
    expect(data(await trpc(stack, "auth.me", undefined, { cookie: b.cookie }))).toBeNull();
  });

  test("an expired session is anonymous on tRPC and 401 on REST, and its row is gone", async () => {
    const user = await newUser(stack);
    await db()
      .update(sessions)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(sessions.id, sessionId(user.cookie)));
    expectRestError(
      await rest(stack, "GET", "/account/sessions", { auth: { cookie: user.cookie } }),
      401,
      "UNAUTHORIZED",
    );
    expect(data(await trpc(stack, "auth.me", undefined, { cookie: user.cookie }))).toBeNull();
    expect(await sessionRows(user.userId)).toHaveLength(0);
  });
});

describe("Secure session cookies when the public URL is https", () => {
  test("secureCookiesFor: production, or an https PUBLIC_URL whatever NODE_ENV says", () => {
    const env = (vars: Record<string, string>) =>
      parseEnv({ ENCRYPTION_KEYS: "v1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", ...vars });
    expect(secureCookiesFor(env({ PUBLIC_URL: "https://cp.example.test" }))).toBe(true);
    expect(secureCookiesFor(env({ NODE_ENV: "test", PUBLIC_URL: "https://cp.example.test/" }))).toBe(true);
    expect(secureCookiesFor(env({ NODE_ENV: "production" }))).toBe(true);
    expect(secureCookiesFor(env({ PUBLIC_URL: "http://127.0.0.1:3000" }))).toBe(false);
    expect(secureCookiesFor(env({}))).toBe(false);
  });

  test("a control plane built for an https PUBLIC_URL sets a __Host- Secure cookie that authenticates", async () => {
    const env = parseEnv({
      ENCRYPTION_KEYS: "v1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
      PUBLIC_URL: "https://cp.example.test",
      NODE_ENV: "development",
    });
    const app = createApp({
      ...stack.platform.deps,
      sessions: createSessionStore(stack.platform.deps.db, { secureCookies: secureCookiesFor(env) }),
      allowedOrigins: [],
      allowedHosts: loopbackAllowlist("127.0.0.1", env.PUBLIC_URL),
      limits: { signUpPerIp: 100_000, signInPerIp: 100_000 },
    });
    const email = `https-${crypto.randomUUID()}@example.test`;
    const res = await app.request("https://cp.example.test/trpc/auth.signUp", {
      method: "POST",
      headers: { host: "cp.example.test", "content-type": "application/json" },
      body: JSON.stringify({ email, password: PASSWORD }),
    });
    expect(res.status).toBe(200);
    const set = res.headers.get("set-cookie") ?? "";
    expect(set).toMatch(/^__Host-mcp_session=[A-Za-z0-9_-]{43};/);
    for (const flag of [/; Secure/i, /; HttpOnly/i, /; SameSite=Lax/i, /; Path=\/(;|$)/i])
      expect(set).toMatch(flag);
    const me = await app.request("https://cp.example.test/trpc/auth.me", {
      headers: { host: "cp.example.test", cookie: set.split(";")[0] ?? "" },
    });
    expect(((await me.json()) as { result: { data: { email: string } } }).result.data.email).toBe(email);
  });

  // The control plane's own entry point needs the shared backends (it refuses to start on the embedded ones).
  test.skipIf(!process.env.DATABASE_URL || !process.env.REDIS_URL)(
    "apps/control-plane started with PUBLIC_URL=https://… (NODE_ENV unset) sets the Secure __Host- cookie",
    async () => {
      const dataDir = mkdtempSync(join(tmpdir(), "cp-https-"));
      const proc = Bun.spawn(
        [process.execPath, resolve(import.meta.dir, "../apps/control-plane/src/main.ts")],
        {
          env: {
            PATH: process.env.PATH,
            DATABASE_URL: process.env.DATABASE_URL,
            REDIS_URL: process.env.REDIS_URL,
            ENCRYPTION_KEYS: "v1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            PUBLIC_URL: "https://cp.example.test",
            HOST: "127.0.0.1",
            PORT: "0",
            DATA_DIR: dataDir,
            HEALTH_CHECK_INTERVAL_MS: "0",
            ENABLED_SERVICES: "figma",
            PASSWORD_HASH_MEMORY_KIB: "19456",
            LOG_LEVEL: "info",
          },
          stdout: "ignore",
          stderr: "pipe",
        },
      );
      try {
        const url = await listeningUrl(proc.stderr);
        const email = `spawned-${crypto.randomUUID()}@example.test`;
        const res = await fetch(`${url}/trpc/auth.signUp`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ email, password: PASSWORD }),
        });
        expect(res.status).toBe(200);
        const set = res.headers.get("set-cookie") ?? "";
        expect(set).toMatch(/^__Host-mcp_session=[A-Za-z0-9_-]{43};/);
        expect(set).toMatch(/; Secure/i);
      } finally {
        proc.kill();
        await proc.exited;
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
    60_000,
  );
});

/** The `url` of the control plane's "listening" log line (JSON on stderr). */
async function listeningUrl(stream: ReadableStream<Uint8Array>): Promise<string> {
  const decoder = new TextDecoder();
  const reader = stream.getReader();
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the control plane exited before listening: ${text}`);
    text += decoder.decode(value, { stream: true });
    for (const line of text.split("\n")) {
      if (!line.includes("control plane listening")) continue;
      reader.releaseLock();
      return (JSON.parse(line) as { url: string }).url;
    }
  }
}

describe("sign-in: nothing tells a known email from an unknown one", () => {
  test("one password verification each (a dummy hash for an unknown email), the same status and message", async () => {
    const user = await newUser(stack);
    const verify = Bun.password.verify;
    let verified = 0;
    (Bun.password as { verify: typeof verify }).verify = (async (...args: Parameters<typeof verify>) => {
      verified++;
      return verify(...args);
    }) as typeof verify;
    try {
      // Warm: the process's dummy hash exists after the first attempt.
      await trpc(stack, "auth.signIn", {
        email: `warm-${crypto.randomUUID()}@e.test`,
        password: "wrong password",
      });
      const answers = [];
      for (const email of [`nobody-${crypto.randomUUID()}@e.test`, user.email, user.email.toUpperCase()]) {
        const before = verified;
        const res = await trpc(stack, "auth.signIn", { email, password: "wrong password" });
        answers.push({ status: res.status, message: res.body.error?.message, checks: verified - before });
      }
      expect(answers).toEqual(
        Array(3).fill({ status: 401, message: "Invalid email or password", checks: 1 }) as typeof answers,
      );
    } finally {
      (Bun.password as { verify: typeof verify }).verify = verify;
    }
  });

  test("an email differing only in case or surrounding spaces is the same account (never a second one)", async () => {
    const user = await newUser(stack);
    const upper = await trpc(stack, "auth.signUp", { email: user.email.toUpperCase(), password: PASSWORD });
    expectTrpcError(upper, 409, "CONFLICT");
    const spaced = await trpc(stack, "auth.signUp", { email: ` ${user.email} `, password: PASSWORD });
    expectTrpcError(spaced, 400, "BAD_REQUEST");
    const signIn = await trpc(stack, "auth.signIn", { email: user.email.toUpperCase(), password: PASSWORD });
    expect(data<{ id: string }>(signIn).id).toBe(user.userId);
  });
});

describe("limits without TRUST_PROXY", () => {
  test("X-Forwarded-For is ignored: rotating it does not reset the wrong-password count", async () => {
    const user = await newUser(stack);
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await trpc(
        stack,
        "auth.signIn",
        { email: user.email, password: "wrong password" },
        { ip: `203.0.113.${i}` },
      );
      statuses.push(res.status);
    }
    expect(statuses).toEqual([...Array(10).fill(401), 429, 429]);
  });
});

describe("API keys in odd places", () => {
  test("Authorization: scheme in any case and extra blanks work; two credentials or another scheme → 401", async () => {
    const user = await newUser(stack);
    const { key } = data<{ key: string }>(
      await trpc(stack, "apiKeys.create", { name: "k" }, { cookie: user.cookie }),
    );
    for (const authorization of [`bearer ${key}`, `BEARER   ${key}`, `Bearer\t${key}`]) {
      const me = data<{ id: string; via: string }>(
        await trpc(stack, "auth.me", undefined, { authorization }),
      );
      expect(me).toMatchObject({ id: user.userId, via: "api_key" });
    }
    const two = new Headers({ authorization: `Bearer ${key}` });
    two.append("authorization", `Bearer ${key}`);
    for (const headers of [
      two,
      new Headers({ authorization: `Token ${key}` }),
      new Headers({ authorization: key }),
    ]) {
      const res = await fetch(`${stack.controlPlaneUrl}/trpc/auth.me`, { headers });
      expect(res.status).toBe(401);
      expect(await res.text()).not.toContain(key);
    }
  });

  test("a key in the query string authenticates nothing, and is not echoed back", async () => {
    const user = await newUser(stack);
    const { key } = data<{ key: string }>(
      await trpc(stack, "apiKeys.create", { name: "k" }, { cookie: user.cookie }),
    );
    const viaTrpc = await fetch(`${stack.controlPlaneUrl}/trpc/auth.me?access_token=${key}&api_key=${key}`);
    expect(await viaTrpc.json()).toEqual({ result: { data: null } });
    const viaRest = await fetch(`${stack.controlPlaneUrl}/api/v1/user/instances?api_key=${key}`);
    const body = await viaRest.text();
    expect(viaRest.status).toBe(400);
    expect(body).not.toContain(key);
    expect(stack.logs.join("\n")).not.toContain(key);
  });
});

describe("Idempotency-Key belongs to its caller", () => {
  test("another user sending the same key runs their own request; the first answer (with its secret) is never theirs", async () => {
    const [a, b] = [await newUser(stack), await newUser(stack)];
    const create = (cookie: string) =>
      post(
        "/trpc/apiKeys.create",
        { "content-type": "application/json", cookie, "idempotency-key": "shared-key-0001" },
        JSON.stringify({ name: "k" }),
      );
    const first = await create(a.cookie);
    const keyA = ((await first.json()) as { result: { data: { key: string } } }).result.data.key;
    const other = await create(b.cookie);
    expect(other.headers.get("idempotency-replayed")).toBeNull();
    const keyB = ((await other.json()) as { result: { data: { key: string } } }).result.data.key;
    expect(keyB).not.toBe(keyA);
    expect(await liveKeys(b.userId)).toHaveLength(1);
    // A's own repeat is the replay; the kv never held either key in the clear.
    const again = await create(a.cookie);
    expect(again.headers.get("idempotency-replayed")).toBe("true");
    expect(await liveKeys(a.userId)).toHaveLength(1);
    expect(stack.kvWrites.some((w) => w.includes(keyA) || w.includes(keyB))).toBe(false);
  });
});

describe("an answer failing its own schema is a bug, not the caller's mistake", () => {
  test("tRPC answers 500 INTERNAL like REST, with no issues or values; the details go to the log", async () => {
    const user = await newUser(stack);
    const { instanceId } = await connectFigma(stack, user, figmaKeyFor(stack, `odd-${crypto.randomUUID()}`));
    // A status this build does not know (written by a newer one, or by hand): instances.list cannot answer it.
    await db()
      .update(instances)
      .set({ status: "zz-unknown" as "active" })
      .where(eq(instances.id, instanceId));
    const viaTrpc = await trpc(stack, "instances.list", undefined, { cookie: user.cookie });
    expectTrpcError(viaTrpc, 500, "INTERNAL");
    expect(viaTrpc.body.error?.message).toBe("Internal error");
    expect(JSON.stringify(viaTrpc.body)).not.toContain("zz-unknown");
    expect(JSON.stringify(viaTrpc.body)).not.toContain("issues");
    const viaRest = await rest(stack, "GET", "/user/instances", { auth: { cookie: user.cookie } });
    expectRestError(viaRest, 500, "INTERNAL");
    expect(JSON.stringify(viaRest.body)).not.toContain("zz-unknown");
    // Bad input is still the caller's 400, with its issues.
    const bad = await trpc(stack, "instances.get", { serviceType: "Not A Type" }, { cookie: user.cookie });
    expectTrpcError(bad, 400, "BAD_REQUEST");
  });
});

describe("the per-email bound holds against a burst from many addresses", () => {
  let spread: Stack;
  beforeAll(async () => {
    spread = await startStack({ trustProxy: true, controlPlaneLimits: { signInFailuresPerEmail: 12 } });
  });
  afterAll(() => spread.stop());

  test("40 wrong passwords sent at once from 40 addresses: 12 are checked, the rest 429; the owner waits too", async () => {
    const user = await newUser(spread);
    const verify = Bun.password.verify;
    let verified = 0;
    (Bun.password as { verify: typeof verify }).verify = (async (...args: Parameters<typeof verify>) => {
      verified++;
      return verify(...args);
    }) as typeof verify;
    try {
      const answers = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          trpc(
            spread,
            "auth.signIn",
            { email: user.email, password: "wrong password" },
            { ip: `198.51.100.${i}` },
          ),
        ),
      );
      const statuses = answers.map((a) => a.status).sort();
      expect(statuses).toEqual([...Array(12).fill(401), ...Array(28).fill(429)]);
      expect(verified).toBe(12);
      for (const refused of answers.filter((a) => a.status === 429)) {
        expectTrpcError(refused, 429, "RATE_LIMIT_EXCEEDED");
        expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
      }
      const owner = await trpc(
        spread,
        "auth.signIn",
        { email: user.email, password: PASSWORD },
        { ip: "198.51.100.200" },
      );
      expectTrpcError(owner, 429, "RATE_LIMIT_EXCEEDED");
      expect(owner.headers.get("set-cookie")).toBeNull();
    } finally {
      (Bun.password as { verify: typeof verify }).verify = verify;
    }
  });

  test("one address cannot spend the email's budget: its own bound refuses first, and the owner elsewhere signs in", async () => {
    const user = await newUser(spread);
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) {
      const res = await trpc(
        spread,
        "auth.signIn",
        { email: user.email, password: "wrong password" },
        { ip: "198.51.100.77" },
      );
      statuses.push(res.status);
    }
    expect(statuses).toEqual([...Array(10).fill(401), ...Array(20).fill(429)]);
    const owner = await trpc(
      spread,
      "auth.signIn",
      { email: user.email, password: PASSWORD },
      { ip: "198.51.100.78" },
    );
    expect(owner.status).toBe(200);
  });
});

describe("sessions per user are bounded", () => {
  test("signing in again keeps the newest 100: the oldest and the expired ones go, the new and recent ones work", async () => {
    const user = await newUser(stack);
    const now = Date.now();
    // 120 older live sessions (one a minute back) and 5 expired ones, as a script signing in over and over leaves.
    const old = Array.from({ length: 120 }, (_, i) => ({
      id: createHash("sha256").update(`old-${user.userId}-${i}`).digest("hex"),
      userId: user.userId,
      createdAt: new Date(now - (i + 1) * 60_000),
      expiresAt: new Date(now + 20 * DAY),
    }));
    const expired = Array.from({ length: 5 }, (_, i) => ({
      id: createHash("sha256").update(`expired-${user.userId}-${i}`).digest("hex"),
      userId: user.userId,
      createdAt: new Date(now - 40 * DAY),
      expiresAt: new Date(now - DAY),
    }));
    await db()
      .insert(sessions)
      .values([...old, ...expired]);

    const signIn = await trpc(stack, "auth.signIn", { email: user.email, password: PASSWORD });
    expect(signIn.status).toBe(200);
    const fresh = (signIn.headers.get("set-cookie") ?? "").split(";")[0] ?? "";

    const ids = new Set((await sessionRows(user.userId)).map((r) => r.id));
    expect(ids.size).toBe(100);
    // Kept: the new session, the sign-up's, and the 98 most recent of the old ones; gone: the rest and the expired.
    expect(ids.has(sessionId(fresh))).toBe(true);
    expect(ids.has(sessionId(user.cookie))).toBe(true);
    expect(old.slice(0, 98).every((s) => ids.has(s.id))).toBe(true);
    expect(old.slice(98).some((s) => ids.has(s.id))).toBe(false);
    expect(expired.some((s) => ids.has(s.id))).toBe(false);
    for (const cookie of [fresh, user.cookie]) {
      expect(data<{ id: string }>(await trpc(stack, "auth.me", undefined, { cookie })).id).toBe(user.userId);
    }
    // The account page lists exactly what is kept.
    const listed = data<unknown[]>(await trpc(stack, "account.sessions", undefined, { cookie: fresh }));
    expect(listed).toHaveLength(100);
  });

  test("another user's sessions are never touched", async () => {
    const [a, b] = [await newUser(stack), await newUser(stack)];
    const now = Date.now();
    await db()
      .insert(sessions)
      .values(
        Array.from({ length: 110 }, (_, i) => ({
          id: createHash("sha256").update(`b-${b.userId}-${i}`).digest("hex"),
          userId: b.userId,
          createdAt: new Date(now - (i + 1) * 60_000),
          expiresAt: new Date(now + DAY),
        })),
      );
    expect((await trpc(stack, "auth.signIn", { email: a.email, password: PASSWORD })).status).toBe(200);
    expect(await sessionRows(b.userId)).toHaveLength(111);
    expect(await sessionRows(a.userId)).toHaveLength(2);
  });
});
