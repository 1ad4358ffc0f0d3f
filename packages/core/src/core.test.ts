// Domain functions on a real database (PGlite in memory, or DATABASE_URL) and the configured kv, with a
// fake Figma upstream: connect, resolve through the caches, invalidate, rotate master keys.
import { afterAll, beforeAll, describe, expect, spyOn, test } from "bun:test";
import { generateKeySpec, hashToken, parseKeyring } from "@mcp/crypto";
import { auditEvents, credentials, instances, users } from "@mcp/db";
import { asc, eq } from "drizzle-orm";
import { type FakeFigma, startFakeFigma } from "../../../test/fakes/figma.ts";
import {
  createSessionStore,
  DEFAULT_PASSWORD_HASHING,
  needsRehash,
  readSessionCookie,
  signIn,
  signUp,
} from "./auth.ts";
import type { Platform } from "./bootstrap.ts";
import { parseEnv } from "./env.ts";
import { connectInstance, revokeInstance, rotateInstance, updateCredentials } from "./instances.ts";
import { personalOrgOf } from "./orgs.ts";
import { InstanceResolver } from "./resolve.ts";
import { resealCredentials } from "./rotate-keys.ts";
import { testPlatform } from "./test-platform.ts";

let figma: FakeFigma;
let platform: Platform;
const v1 = generateKeySpec(1);

beforeAll(async () => {
  figma = await startFakeFigma({ keys: new Map() });
  platform = await testPlatform({
    encryptionKeys: v1,
    kvPrefix: "test:core:",
    serviceEnv: { SERVICE_FIGMA_BASE_URL: figma.url },
  });
});
afterAll(async () => {
  await platform.close();
  figma.stop();
});

async function userWithKey() {
  const signedUp = await signUp(platform.deps, {
    email: `core-${crypto.randomUUID()}@x.test`,
    password: "0123456789",
  });
  if (!signedUp.ok) throw new Error(signedUp.message);
  const key = `figd_${crypto.randomUUID()}`;
  figma.addKey(key, { id: "1", email: "a@b.c", handle: "core" });
  const orgId = await personalOrgOf(platform.deps.db, signedUp.value.id);
  return { actor: { userId: signedUp.value.id, orgId }, key, email: signedUp.value.email };
}

const tokenOf = (url: string) => url.split("/")[3] ?? "";

/**
 * Resolves `token` on an edge whose database read completes before `change` but whose cache write lands
 * after it (with Redis, its invalidation is still in flight): what it answers.
 */
async function slowEdgeAround(token: string, change: () => Promise<void>) {
  let release = () => {};
  const gate = new Promise<void>((r) => {
    release = r;
  });
  class SlowEdge extends InstanceResolver {
    protected override async load(tokenHash: string) {
      const row = await super.load(tokenHash);
      await gate;
      return row;
    }
  }
  const racing = new SlowEdge(platform.deps).resolve(token);
  await Bun.sleep(50); // let its read finish
  await change();
  release();
  return racing;
}

describe("auth", () => {
  test("emails are case-insensitive; wrong password and unknown email fail alike", async () => {
    const email = `Case-${crypto.randomUUID()}@X.test`;
    expect((await signUp(platform.deps, { email, password: "0123456789" })).ok).toBe(true);
    const dup = await signUp(platform.deps, { email: email.toLowerCase(), password: "0123456789" });
    expect(dup).toMatchObject({ ok: false, code: "CONFLICT" });
    expect((await signIn(platform.deps, { email: email.toUpperCase(), password: "0123456789" })).ok).toBe(
      true,
    );
    const wrong = await signIn(platform.deps, { email, password: "nope-nope-nope" });
    const unknown = await signIn(platform.deps, { email: `x${email}`, password: "0123456789" });
    expect(wrong).toEqual(unknown);
  });

  test("an unknown email costs the same work as a wrong password: one argon2id verify of a real hash", async () => {
    const { email } = await userWithKey();
    const verify = spyOn(Bun.password, "verify");
    try {
      await signIn(platform.deps, { email, password: "wrong-password" });
      await signIn(platform.deps, {
        email: `nobody-${crypto.randomUUID()}@x.test`,
        password: "wrong-password",
      });
      expect(verify).toHaveBeenCalledTimes(2);
      const [known, unknown] = verify.mock.calls.map((call) => String(call[1]));
      for (const hash of [known, unknown]) expect(hash).toMatch(/^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$/);
      // Same parameters, so the same cost; a different hash, so the dummy is not the user's.
      expect(unknown?.split("$")[3]).toBe(known?.split("$")[3]);
      expect(unknown).not.toBe(known);
    } finally {
      verify.mockRestore();
    }
  });

  test("new hashes take the configured argon2id cost; a sign-in re-hashes one made at another cost, once", async () => {
    const storedHash = async (email: string) =>
      (await platform.deps.db.select({ h: users.passwordHash }).from(users).where(eq(users.email, email)))[0]
        ?.h;
    const at = (memoryKib: number, iterations: number) => ({
      ...platform.deps,
      passwordHashing: { memoryKib, iterations },
    });
    const email = `cost-${crypto.randomUUID()}@x.test`;
    expect((await signUp(at(19_456, 2), { email, password: "0123456789" })).ok).toBe(true);
    const made = await storedHash(email);
    expect(made).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);

    // A wrong password changes nothing, whatever the cost.
    expect(await signIn(at(24_576, 3), { email, password: "wrong-password" })).toMatchObject({ ok: false });
    expect(await storedHash(email)).toBe(made);
    // The right one is re-hashed at the configured cost, and still opens the account.
    expect((await signIn(at(24_576, 3), { email, password: "0123456789" })).ok).toBe(true);
    const raised = await storedHash(email);
    expect(raised).toMatch(/^\$argon2id\$v=19\$m=24576,t=3,p=1\$/);
    expect(await Bun.password.verify("0123456789", raised ?? "")).toBe(true);
    expect((await signIn(at(24_576, 3), { email, password: "0123456789" })).ok).toBe(true);
    expect(await storedHash(email)).toBe(raised);
    // A hash of another algorithm or form is re-hashed too.
    expect(needsRehash(await Bun.password.hash("x", "bcrypt"), DEFAULT_PASSWORD_HASHING)).toBe(true);
    expect(needsRehash(raised ?? "", { memoryKib: 24_576, iterations: 3 })).toBe(false);
  });
});

describe("session cookies", () => {
  const secret = "a".repeat(43);

  test("a malformed cookie of any name is skipped, never thrown on", () => {
    for (const header of [
      `other=%E0%A4%A; mcp_session=${secret}`,
      `mcp_session=${secret}; broken=%`,
      `=x; ;;; mcp_session=${secret}`,
      `mcp_session="${secret}"`,
    ]) {
      expect(readSessionCookie(header, "mcp_session")).toBe(secret);
    }
    for (const header of ["other=%E0%A4%A", "mcp_session=%E0%A4%A", "mcp_session=short", "", "mcp_session"]) {
      expect(readSessionCookie(header, "mcp_session")).toBeNull();
    }
    // A junk value under our name does not hide a good one after it.
    expect(readSessionCookie(`mcp_session=junk; mcp_session=${secret}`, "mcp_session")).toBe(secret);
  });

  test("flags: HttpOnly, SameSite=Lax, Path=/; production adds Secure under the __Host- prefix", async () => {
    const { actor } = await userWithKey();
    const dev = await createSessionStore(platform.deps.db, { secureCookies: false }).create(actor.userId);
    expect(dev.cookie).toStartWith(`mcp_session=${dev.token};`);
    expect(dev.cookie).toMatch(/; HttpOnly/i);
    expect(dev.cookie).toMatch(/; SameSite=Lax/i);
    expect(dev.cookie).toMatch(/; Path=\//i);
    expect(dev.cookie).not.toMatch(/; Secure/i);

    const store = createSessionStore(platform.deps.db, { secureCookies: true });
    const prod = await store.create(actor.userId);
    expect(prod.cookie).toStartWith(`__Host-mcp_session=${prod.token};`);
    for (const flag of [/; HttpOnly/i, /; SameSite=Lax/i, /; Path=\/(;|$)/i, /; Secure/i])
      expect(prod.cookie).toMatch(flag);
    expect(prod.cookie).not.toMatch(/; Domain=/i);
    expect(store.readCookie(`__Host-mcp_session=${prod.token}`)).toBe(prod.token);
    // The unprefixed name (which a sibling subdomain could set) is not read in production.
    expect(store.readCookie(`mcp_session=${prod.token}`)).toBeNull();
    expect(await store.invalidate(prod.token)).toStartWith("__Host-mcp_session=;");
  });
});

describe("instances and resolution", () => {
  test("connect seals the key, issues a hashed token, and resolves through the caches", async () => {
    const { actor, key } = await userWithKey();
    const issued = await connectInstance(platform.deps, actor, { serviceType: "figma", apiKey: key });
    if (!issued.ok) throw new Error(issued.message);
    const token = tokenOf(issued.value.instanceUrl);
    const [row] = await platform.deps.db
      .select()
      .from(instances)
      .where(eq(instances.id, issued.value.instanceId));
    expect(row?.tokenHash).toBe(hashToken(token));
    const [cred] = await platform.deps.db
      .select()
      .from(credentials)
      .where(eq(credentials.userId, actor.userId));
    expect(cred?.ciphertext).not.toContain(key);

    const resolver = new InstanceResolver(platform.deps);
    await resolver.start();
    const found = await resolver.resolve(token);
    expect(found?.instanceId).toBe(issued.value.instanceId);
    expect(resolver.credential(found ?? ({} as never))?.apiKey).toBe(key);
    // The shared cache holds the credential only sealed.
    const cached = await platform.deps.kv.get(`inst2:${hashToken(token)}`);
    expect(cached).not.toContain(key);
    expect(await resolver.resolve(`${token.slice(0, -1)}${token.endsWith("A") ? "B" : "A"}`)).toBeNull();

    await revokeInstance(platform.deps, actor, { serviceType: "figma" });
    // Invalidation reaches the resolver over pub/sub; poll briefly rather than assume a delay.
    for (let i = 0; i < 100 && (await resolver.resolve(token)); i++) await Bun.sleep(20);
    expect(await resolver.resolve(token)).toBeNull();
    await resolver.stop();
  });

  test("an edge that read the row just before a revoke cannot write it back to the shared cache", async () => {
    const { actor, key } = await userWithKey();
    const issued = await connectInstance(platform.deps, actor, { serviceType: "figma", apiKey: key });
    if (!issued.ok) throw new Error(issued.message);
    const token = tokenOf(issued.value.instanceUrl);
    const racing = await slowEdgeAround(token, async () => {
      await revokeInstance(platform.deps, actor, { serviceType: "figma" });
    });
    expect(racing).not.toBeNull(); // it answered from its pre-revoke read...
    expect(await new InstanceResolver(platform.deps).resolve(token)).toBeNull(); // ...but poisoned no cache
  });

  test("an edge that read the row just before a key change cannot write the old key back to the shared cache", async () => {
    const { actor, key } = await userWithKey();
    const issued = await connectInstance(platform.deps, actor, { serviceType: "figma", apiKey: key });
    if (!issued.ok) throw new Error(issued.message);
    const token = tokenOf(issued.value.instanceUrl);
    const newKey = `figd_${crypto.randomUUID()}`;
    figma.addKey(newKey, { id: "1", email: "a@b.c", handle: "core" }); // the same Figma account
    await slowEdgeAround(token, async () => {
      const again = await connectInstance(platform.deps, actor, { serviceType: "figma", apiKey: newKey });
      if (!again.ok) throw new Error(again.message);
      expect(again.value.instanceUrl).toBe(issued.value.instanceUrl);
    });
    const fresh = new InstanceResolver(platform.deps);
    const found = await fresh.resolve(token);
    expect(found && fresh.credential(found)?.apiKey).toBe(newKey);
  });

  test("rotation retires the previous token; reconnecting keeps the current one", async () => {
    const { actor, key } = await userWithKey();
    const first = await connectInstance(platform.deps, actor, { serviceType: "figma", apiKey: key });
    const rotated = await rotateInstance(platform.deps, actor, { serviceType: "figma" });
    const again = await connectInstance(platform.deps, actor, { serviceType: "figma", apiKey: key });
    if (!first.ok || !rotated.ok || !again.ok) throw new Error("setup failed");
    expect(rotated.value.instanceId).toBe(first.value.instanceId);
    expect(again.value.instanceId).toBe(first.value.instanceId);
    expect(again.value.instanceUrl).toBe(rotated.value.instanceUrl);
    const resolver = new InstanceResolver(platform.deps);
    expect(await resolver.resolve(tokenOf(first.value.instanceUrl))).toBeNull();
    expect(await resolver.resolve(tokenOf(rotated.value.instanceUrl))).not.toBeNull();
    await revokeInstance(platform.deps, actor, { serviceType: "figma" });
    const trail = await platform.deps.db
      .select({ action: auditEvents.action, instanceId: auditEvents.instanceId })
      .from(auditEvents)
      .where(eq(auditEvents.userId, actor.userId))
      .orderBy(asc(auditEvents.createdAt));
    expect(trail.map((e) => e.action)).toEqual([
      "instance.connect",
      "instance.rotate",
      "instance.connect",
      "instance.revoke",
    ]);
    expect(trail.every((e) => e.instanceId === first.value.instanceId)).toBe(true);
  });

  test("updateCredentials replaces a live instance's key only: a revoked one stays revoked (NOT_FOUND)", async () => {
    const { actor, key } = await userWithKey();
    expect(
      await updateCredentials(platform.deps, actor, { serviceType: "figma", apiKey: key }),
    ).toMatchObject({
      code: "NOT_FOUND",
    });
    const first = await connectInstance(platform.deps, actor, { serviceType: "figma", apiKey: key });
    if (!first.ok) throw new Error("setup failed");
    expect(
      await updateCredentials(platform.deps, actor, { serviceType: "figma", apiKey: key }),
    ).toMatchObject({
      ok: true,
      value: { instanceId: first.value.instanceId, status: "active" },
    });
    await revokeInstance(platform.deps, actor, { serviceType: "figma" });
    expect(
      await updateCredentials(platform.deps, actor, { serviceType: "figma", apiKey: key }),
    ).toMatchObject({
      code: "NOT_FOUND",
    });
    const [row] = await platform.deps.db.select().from(instances).where(eq(instances.userId, actor.userId));
    expect(row?.status).toBe("revoked");
    expect(await new InstanceResolver(platform.deps).resolve(tokenOf(first.value.instanceUrl))).toBeNull();
  });

  test("concurrent first connects of one user end with one instance and one credential", async () => {
    const { actor, key } = await userWithKey();
    const results = await Promise.all(
      Array.from({ length: 4 }, () =>
        connectInstance(platform.deps, actor, { serviceType: "figma", apiKey: key }),
      ),
    );
    expect(results.every((r) => r.ok)).toBe(true);
    const rows = await platform.deps.db.select().from(instances).where(eq(instances.userId, actor.userId));
    const creds = await platform.deps.db
      .select()
      .from(credentials)
      .where(eq(credentials.userId, actor.userId));
    expect(rows).toHaveLength(1);
    expect(creds).toHaveLength(1);
    // Every connect handed back the one instance's URL (the first writer's token, kept by the others),
    // and it opens the key.
    const urls = new Set(results.map((r) => (r.ok ? r.value.instanceUrl : "")));
    expect(urls.size).toBe(1);
    const resolver = new InstanceResolver(platform.deps);
    const found = await resolver.resolve(tokenOf([...urls][0] ?? ""));
    expect(found && resolver.credential(found)?.apiKey).toBe(key);
  });

  test("unknown service, rejected key and unreachable upstream store nothing", async () => {
    const { actor } = await userWithKey();
    expect(await connectInstance(platform.deps, actor, { serviceType: "nope", apiKey: "k" })).toMatchObject({
      code: "NOT_FOUND",
    });
    expect(
      await connectInstance(platform.deps, actor, { serviceType: "figma", apiKey: "figd_bad" }),
    ).toMatchObject({
      code: "INVALID_API_KEY",
    });
    figma.failNext(502);
    expect(
      await connectInstance(platform.deps, actor, { serviceType: "figma", apiKey: "figd_bad" }),
    ).toMatchObject({
      code: "SERVICE_UNAVAILABLE",
    });
    const rows = await platform.deps.db
      .select()
      .from(credentials)
      .where(eq(credentials.userId, actor.userId));
    expect(rows).toHaveLength(0);
  });
});

describe("master key rotation", () => {
  test("re-seals credentials under the new key; the old key can then go", async () => {
    const { actor, key } = await userWithKey();
    const issued = await connectInstance(platform.deps, actor, { serviceType: "figma", apiKey: key });
    if (!issued.ok) throw new Error(issued.message);
    // An edge has the entry (sealed under v1) in the shared cache.
    expect(
      await new InstanceResolver(platform.deps).resolve(tokenOf(issued.value.instanceUrl)),
    ).not.toBeNull();
    const v2 = generateKeySpec(2);
    const both = parseKeyring(`${v2},${v1}`);
    const report = await resealCredentials({ ...platform.deps, keyring: both }, { userId: actor.userId });
    expect(report.resealed).toBeGreaterThanOrEqual(1);
    expect(report.unreadable).toEqual([]);
    const [cred] = await platform.deps.db
      .select()
      .from(credentials)
      .where(eq(credentials.userId, actor.userId));
    expect(cred?.keyVersion).toBe(2);
    // No cache flush by hand: re-sealing drops the cached (old-key) entry itself.
    const onlyNew = new InstanceResolver({ ...platform.deps, keyring: parseKeyring(v2) });
    const found = await onlyNew.resolve(tokenOf(issued.value.instanceUrl));
    expect(found && onlyNew.credential(found)?.apiKey).toBe(key);
  });
});

describe("environment", () => {
  test("rate limits are whole numbers: a blank or odd value is refused, never read as 0 (= unlimited)", () => {
    expect(parseEnv({ RATE_LIMIT_PER_INSTANCE: "0", RATE_LIMIT_PER_USER: "120" })).toMatchObject({
      RATE_LIMIT_PER_INSTANCE: 0,
      RATE_LIMIT_PER_USER: 120,
    });
    for (const bad of [" ", "1e3", "-1", "ten"]) {
      expect(() => parseEnv({ RATE_LIMIT_PER_INSTANCE: bad })).toThrow("RATE_LIMIT_PER_INSTANCE");
    }
  });

  test("every number is digits only: a blank, 1e3 or 0x10 is refused, never read as 0 (off, unlimited, any port)", () => {
    for (const name of [
      "PORT",
      "EDGE_PORT",
      "METRICS_PORT",
      "RATE_LIMIT_INVALID_TOKENS",
      "IDLE_GC_MS",
      "HEALTH_CHECK_INTERVAL_MS",
      "HEALTH_CHECK_TIMEOUT_MS",
      "HEALTH_HISTORY_LENGTH",
    ]) {
      for (const bad of [" ", "1e3", "0x10", "-1", "1.5"]) {
        expect(() => parseEnv({ [name]: bad })).toThrow(`invalid environment: ${name}: `);
      }
    }
    expect(
      parseEnv({ PORT: "8080", RATE_LIMIT_INVALID_TOKENS: "0", HEALTH_CHECK_INTERVAL_MS: "0" }),
    ).toMatchObject({
      PORT: 8080,
      RATE_LIMIT_INVALID_TOKENS: 0,
      HEALTH_CHECK_INTERVAL_MS: 0,
    });
    expect(() => parseEnv({ PORT: "65536" })).toThrow("PORT: must be at most 65535");
  });

  test("connection URLs: the driver's scheme, parseable; the refusal names the variable, never the value", () => {
    expect(
      parseEnv({ DATABASE_URL: "postgres://u:p%23ss@db:5432/x", REDIS_URL: "rediss://:pw@cache:6380/2" }),
    ).toMatchObject({
      DATABASE_URL: "postgres://u:p%23ss@db:5432/x",
      REDIS_URL: "rediss://:pw@cache:6380/2",
    });
    for (const [name, bad] of [
      ["DATABASE_URL", "postgres://user:SEC#RET@127.0.0.1:5432/x"],
      ["DATABASE_URL", "postgres://user:SEC/RET@127.0.0.1:5432/x"],
      ["DATABASE_URL", "postgres://user:SECRET@127.0.0.1:99999/x"],
      ["DATABASE_URL", "notaurl"],
      ["DATABASE_URL", "mysql://user:SECRET@127.0.0.1/x"],
      ["REDIS_URL", "redis://:SECRET@127.0.0.1:99999/9"],
      ["REDIS_URL", "http://127.0.0.1:6379"],
    ] as const) {
      let message = "";
      try {
        parseEnv({ [name]: bad });
      } catch (error) {
        message = (error as Error).message;
      }
      expect({ bad, message }).toEqual({
        bad,
        message: expect.stringContaining(`${name}: must be a URL like`),
      });
      expect(message).not.toContain("SEC");
    }
  });

  test("public URLs are http(s); ALLOWED_ORIGINS entries are trimmed http(s) origins; MCP_TYPE takes any service type", () => {
    for (const name of ["PUBLIC_EDGE_URL", "PUBLIC_URL"]) {
      for (const bad of ["javascript:alert(1)", "ftp://files.example"]) {
        expect(() => parseEnv({ [name]: bad })).toThrow(`${name}: must be an http(s) URL`);
      }
    }
    expect(
      parseEnv({ ALLOWED_ORIGINS: " https://a.example, https://b.example/ ,," }).ALLOWED_ORIGINS,
    ).toEqual(["https://a.example", "https://b.example"]);
    expect(parseEnv({}).ALLOWED_ORIGINS).toEqual([]);
    expect(() => parseEnv({ ALLOWED_ORIGINS: "https://a.example,a.example" })).toThrow("ALLOWED_ORIGINS");
    // An origin is scheme, host and port: anything more was cut away silently (a different origin allowed).
    for (const bad of ["https://a.example/app", "https://a.example?x=1", "https://a.example/#top"]) {
      expect(() => parseEnv({ ALLOWED_ORIGINS: bad })).toThrow("scheme, host and port only");
    }
    // Credentials in an entry are refused without being echoed.
    let message = "";
    try {
      parseEnv({ ALLOWED_ORIGINS: "https://ops:hunter2secret@a.example" });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain("an entry with credentials");
    expect(message).not.toContain("hunter2secret");
    expect(parseEnv({ ALLOWED_ORIGINS: "HTTPS://App.Example:443/" }).ALLOWED_ORIGINS).toEqual([
      "https://app.example",
    ]);
    // Definitions allow `_` in a type (an imported OpenAPI service, say): its per-service edge must start.
    expect(parseEnv({ MCP_TYPE: "my_api" }).MCP_TYPE).toBe("my_api");
  });

  test("argon2id's cost: Bun's defaults unless set, never below OWASP's minimum (19 MiB, two passes)", () => {
    expect(parseEnv({})).toMatchObject({ PASSWORD_HASH_MEMORY_KIB: 65_536, PASSWORD_HASH_ITERATIONS: 2 });
    expect(parseEnv({ PASSWORD_HASH_MEMORY_KIB: "19456", PASSWORD_HASH_ITERATIONS: "3" })).toMatchObject({
      PASSWORD_HASH_MEMORY_KIB: 19_456,
      PASSWORD_HASH_ITERATIONS: 3,
    });
    for (const bad of ["19455", "0", "1e9", "lots"]) {
      expect(() => parseEnv({ PASSWORD_HASH_MEMORY_KIB: bad })).toThrow("PASSWORD_HASH_MEMORY_KIB");
    }
    for (const bad of ["1", "17", "two"]) {
      expect(() => parseEnv({ PASSWORD_HASH_ITERATIONS: bad })).toThrow("PASSWORD_HASH_ITERATIONS");
    }
  });
});
