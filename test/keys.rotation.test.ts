// Master-key rotation on the real stack: instances sealed under v1 (some in the legacy pre-envelope format)
// while the edge holds v2 and v1, clients calling tools all along; the rotation runs in bounded batches, is
// stopped half-way and resumed, and no call fails. Then an edge holding only v2 serves every instance (the
// old key can go at once). The commands `keys:status` and `keys:rotate` run as processes on their own
// embedded database: an unscoped rotation of the shared test database would touch other files' rows.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type CoreDeps,
  connectInstance,
  createPlatform,
  keyStatus,
  newId,
  openCredential,
  parseEnv,
  personalOrgOf,
  resealCredentials,
  sealCredential,
} from "@mcp/core";
import { generateKeySpec, isEnvelope, parseKeyring } from "@mcp/crypto";
import { auditEvents, credentials, instances, users } from "@mcp/db";
import { createEdge } from "@mcp/edge";
import { asc, eq, inArray } from "drizzle-orm";
import { legacySeal } from "../packages/crypto/src/legacy-seal.testing.ts";
import { toolCallRequest } from "./client.ts";
import { type Stack, startStack } from "./harness.ts";
import { runKeysScript } from "./keys-cli.ts";

const v1 = generateKeySpec(1);
const v2 = generateKeySpec(2);
const INSTANCES = 48;
const BATCH = 6;
const WORKERS = 6;

let stack: Stack;
const created: string[] = [];

beforeAll(async () => {
  stack = await startStack({
    encryptionKeys: `${v2},${v1}`,
    limits: { perInstancePerMinute: 0, perUserPerMinute: 0 },
    serviceEnv: { SERVICE_FIGMA_RATE_LIMIT: "0" },
  });
});
afterAll(async () => {
  if (created.length > 0) {
    // Credentials and instances go with their users; audit events are not tied to them.
    await stack.platform.deps.db.delete(users).where(inArray(users.id, created));
    await stack.platform.deps.db.delete(auditEvents).where(inArray(auditEvents.userId, created));
  }
  await stack?.stop();
});

/** Users inserted directly: their passwords are never used, and hashing dozens of them would be slow. */
async function freshUsers(deps: CoreDeps, count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, () => newId("usr"));
  await deps.db
    .insert(users)
    .values(ids.map((id) => ({ id, email: `keys-${crypto.randomUUID()}@x.test`, passwordHash: "unused" })));
  created.push(...ids);
  return ids;
}

const rowsOf = (ids: string[]) =>
  stack.platform.deps.db
    .select()
    .from(credentials)
    .where(inArray(credentials.userId, ids))
    .orderBy(asc(credentials.id));

interface Connected {
  userId: string;
  handle: string;
  key: string;
  url: string;
}

/**
 * `count` Figma instances connected by a control plane that still has only v1 (the new key not yet rolled
 * out to it); every third credential is then rewritten in the legacy format, as stored before envelopes.
 */
async function connectedUnderV1(count: number): Promise<Connected[]> {
  const onlyV1 = parseKeyring(v1);
  const deps: CoreDeps = { ...stack.platform.deps, keyring: onlyV1 };
  const ids = await freshUsers(deps, count);
  const out = await Promise.all(
    ids.map(async (userId, i) => {
      const handle = `rot-${i}-${userId.slice(-6)}`;
      const key = `figd_${crypto.randomUUID()}`;
      stack.figma.addKey(key, { id: `fig-${userId}`, email: `${handle}@figma.test`, handle });
      const orgId = await personalOrgOf(deps.db, userId);
      const issued = await connectInstance(deps, { userId, orgId }, { serviceType: "figma", apiKey: key });
      if (!issued.ok) throw new Error(issued.message);
      return { userId, handle, key, url: issued.value.instanceUrl };
    }),
  );
  for (const [i, row] of (await rowsOf(ids)).entries()) {
    if (i % 3 !== 0) continue;
    const secret = openCredential(onlyV1, row, row);
    const legacy = legacySeal(onlyV1, 1, row, JSON.stringify(secret));
    await deps.db.update(credentials).set(legacy).where(eq(credentials.id, row.id));
  }
  return out;
}

/** One 2026-07-28 `tools/call get_me`; a failure is described, success is null. */
async function callGetMe(url: string, handle: string): Promise<string | null> {
  const res = await fetch(url, toolCallRequest("get_me"));
  const text = await res.text();
  if (res.status !== 200) return `${res.status} ${text.slice(0, 200)}`;
  const result = (JSON.parse(text) as { result?: { isError?: boolean; content?: { text: string }[] } })
    .result;
  if (!result || result.isError) return `tool error: ${text.slice(0, 200)}`;
  return result.content?.[0]?.text.includes(`"${handle}"`) ? null : `wrong account: ${text.slice(0, 200)}`;
}

/** Clients calling tools on every instance, round robin, until stopped. */
function traffic(targets: Connected[]) {
  let stopped = false;
  const stats = { calls: 0, failures: [] as string[] };
  const workers = Array.from({ length: WORKERS }, async (_, w) => {
    for (let i = w; !stopped; i += WORKERS) {
      const target = targets[i % targets.length];
      if (!target) continue;
      const failure = await callGetMe(target.url, target.handle).catch((e: unknown) => String(e));
      stats.calls++;
      if (failure) stats.failures.push(failure);
    }
  });
  return {
    stats,
    /** Resolves once `n` more calls have completed. */
    async more(n: number) {
      const target = stats.calls + n;
      while (stats.calls < target) await Bun.sleep(2);
    },
    async stop() {
      stopped = true;
      await Promise.all(workers);
    },
  };
}

describe("online rotation while clients call tools", () => {
  test("interrupted half-way, then resumed: no call fails, every row opens, all end on v2", async () => {
    const targets = await connectedUnderV1(INSTANCES);
    const ids = targets.map((t) => t.userId);
    const deps = stack.platform.deps;
    expect(await keyStatus(deps, { userIds: ids })).toMatchObject({
      current: 2,
      keyring: [2, 1],
      versions: [{ keyVersion: 1, envelope: 32, legacy: 16, inKeyring: true }],
      pending: INSTANCES,
    });

    const load = traffic(targets);
    await load.more(INSTANCES); // instances in use (and cached) before the rotation starts

    // A first run stopped after half the batches, as by Ctrl-C or a crash between two batches; calls go on
    // between every two batches.
    const half = INSTANCES / BATCH / 2;
    for (let b = 0; b < half; b++) {
      const step = await resealCredentials(deps, { userIds: ids, batch: BATCH, maxBatches: 1 });
      expect(step).toMatchObject({ batches: 1, resealed: BATCH, changed: 0, unreadableCount: 0 });
      await load.more(WORKERS * 2);
    }
    const midway = await rowsOf(ids);
    expect(midway.map((r) => r.keyVersion)).toEqual([
      ...Array(INSTANCES / 2).fill(2),
      ...Array(INSTANCES / 2).fill(1),
    ]);
    const byUser = new Map(targets.map((t) => [t.userId, t]));
    for (const row of midway)
      expect(openCredential(deps.keyring, row, row)?.apiKey).toBe(byUser.get(row.userId)?.key);
    expect((await keyStatus(deps, { userIds: ids })).pending).toBe(INSTANCES / 2);
    // Every instance answers half-way (rotated ones and not yet rotated ones, legacy and envelope).
    for (const t of targets) expect(await callGetMe(t.url, t.handle)).toBeNull();

    // Resumed: one run to the end while the clients keep calling.
    const rest = await resealCredentials(deps, { userIds: ids, batch: BATCH });
    expect(rest).toMatchObject({ resealed: INSTANCES / 2, changed: 0, unreadable: [], done: true });
    await load.more(INSTANCES);
    await load.stop();

    expect(load.stats.failures).toEqual([]);
    expect(load.stats.calls).toBeGreaterThanOrEqual(INSTANCES * 2 + half * WORKERS * 2);

    const after = await rowsOf(ids);
    expect(after.every((r) => r.keyVersion === 2 && isEnvelope(r.ciphertext))).toBe(true);
    expect(await keyStatus({ ...deps, keyring: parseKeyring(v2) }, { userIds: ids })).toEqual({
      current: 2,
      keyring: [2],
      versions: [{ keyVersion: 2, envelope: INSTANCES, legacy: 0, inKeyring: true }],
      total: INSTANCES,
      pending: 0,
      missingKey: 0,
      wrongKey: [],
    });
    const statuses = await deps.db
      .select({ status: instances.status })
      .from(instances)
      .where(inArray(instances.userId, ids));
    expect(statuses.map((s) => s.status)).toEqual(Array(INSTANCES).fill("active"));
    expect(stack.logs.filter((l) => /credential (could not be opened|sealed under)/.test(l))).toEqual([]);
    // Nothing of the secrets reached the shared kv on the way.
    for (const t of targets) expect(stack.kvWrites.some((w) => w.includes(t.key))).toBe(false);

    // v1 can go at once: an edge holding only v2, on the same database and kv, serves every instance.
    const v2Edge = await createEdge({ ...deps, keyring: parseKeyring(v2) }, { host: "127.0.0.1" });
    const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: v2Edge.fetch });
    try {
      for (const t of targets) {
        const url = t.url.replace(stack.edgeUrl, `http://127.0.0.1:${server.port}`);
        expect(await callGetMe(url, t.handle)).toBeNull();
      }
    } finally {
      server.stop(true);
      await v2Edge.close();
    }
  }, 120_000);
});

describe("bun run keys:status / keys:rotate", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "keys-cli-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** The command as an operator runs it: its own process, embedded database under `dir`, no Redis. */
  const run = (script: string, keys: string | Record<string, string>, ...args: string[]) =>
    runKeysScript(dir, script, typeof keys === "string" ? { ENCRYPTION_KEYS: keys } : keys, ...args);

  const status = async (keys: string) => {
    const out = await run("keys-status.ts", keys, "--json");
    return { code: out.code, status: JSON.parse(out.stdout) as Awaited<ReturnType<typeof keyStatus>> };
  };

  test("status per version and format, rotation in batches resumed, missing keys and bad flags refused", async () => {
    // Seed the embedded database: 5 envelopes and 2 legacy values under v1, then close it for the commands.
    const seeded = await createPlatform(
      parseEnv({ DATA_DIR: dir, ENCRYPTION_KEYS: v1, LOG_LEVEL: "error", HEALTH_CHECK_INTERVAL_MS: "0" }),
    );
    const ring = seeded.deps.keyring;
    const ids = Array.from({ length: 7 }, () => newId("usr"));
    await seeded.deps.db
      .insert(users)
      .values(ids.map((id) => ({ id, email: `${id}@x.test`, passwordHash: "unused" })));
    const orgIds = await Promise.all(ids.map((id) => personalOrgOf(seeded.deps.db, id)));
    const rows = ids.map((userId, i) => {
      const row = { id: newId("cred"), userId, orgId: orgIds[i] ?? "", serviceType: "figma" };
      const plain = JSON.stringify({ apiKey: `figd_cli_${i}` });
      const sealed =
        i < 2 ? legacySeal(ring, 1, row, plain) : sealCredential(ring, row, { apiKey: `figd_cli_${i}` });
      return { ...row, ...sealed };
    });
    await seeded.deps.db.insert(credentials).values(rows);
    await seeded.close();
    const both = `${v2},${v1}`;

    const first = await run("keys-status.ts", both);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain("ENCRYPTION_KEYS: v2 (current), v1");
    expect(first.stdout).toContain("v1: 5 envelope, 2 legacy");
    expect(first.stdout).toContain("7 to rotate");
    expect((await status(both)).status).toMatchObject({ total: 7, pending: 7, missingKey: 0 });

    // Bad flags: refused with exit 2 and a message, nothing read or written.
    for (const bad of [
      ["--batch", "0"],
      ["--batch", "abc"],
      ["--batch", "5001"],
      ["--pause-ms", "-1"],
      ["--bogus"],
    ]) {
      const refused = await run("keys-rotate.ts", both, ...bad);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain("usage: bun run keys:rotate");
      // The message names the option as typed (`--batch`, not the parsed field `batch`).
      expect(refused.stderr.split("\n")[0]).toContain(bad[0] as string);
    }
    // On PostgreSQL without the edges' Redis the reload markers would reach no edge: refused, exit 2, before
    // anything is read. A malformed DATABASE_URL is one line naming the variable, never its password or a stack.
    const noRedis = await run("keys-rotate.ts", {
      ENCRYPTION_KEYS: both,
      // Nothing listens there: the refusal comes before any connection (and a run that did connect would fail).
      DATABASE_URL: "postgres://root@127.0.0.1:1/none",
    });
    expect(noRedis.code).toBe(2);
    expect(noRedis.stderr).toContain("needs the REDIS_URL");
    for (const script of ["keys-rotate.ts", "keys-status.ts"]) {
      const malformed = await run(script, {
        ENCRYPTION_KEYS: both,
        DATABASE_URL: "postgres://user:SEC#RET@127.0.0.1:5432/x",
        REDIS_URL: "redis://:PW_SECRET@127.0.0.1:99999/9",
      });
      expect(malformed.code).toBe(1);
      expect(malformed.stderr).toContain("invalid environment: DATABASE_URL: must be a URL like");
      expect(malformed.stderr).toContain("REDIS_URL: must be a URL like");
      for (const secret of ["SEC#RET", "RET@", "PW_SECRET"]) expect(malformed.stderr).not.toContain(secret);
      expect(malformed.stderr).not.toContain("    at ");
    }
    expect((await status(both)).status).toMatchObject({ pending: 7 });

    // Stopped after 2 batches of 2, then resumed.
    const partial = await run("keys-rotate.ts", both, "--batch", "2", "--max-batches", "2");
    expect(partial.code).toBe(0);
    expect(partial.stdout).toContain("batch 2: ");
    expect(partial.stdout).toContain("stopped after 2 batch(es); run again to continue: 4 credential(s)");
    // Rows go in id order (random ids), so which of the v1 rows are the legacy ones varies.
    const midway = (await status(both)).status;
    expect(midway).toMatchObject({ total: 7, pending: 3 });
    expect(midway.versions[0]).toEqual({ keyVersion: 2, envelope: 4, legacy: 0, inKeyring: true });
    expect(midway.versions[1]).toMatchObject({ keyVersion: 1, inKeyring: true });
    expect((midway.versions[1]?.envelope ?? 0) + (midway.versions[1]?.legacy ?? 0)).toBe(3);
    const resumed = await run("keys-rotate.ts", both, "--batch", "2");
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain("done: 3 credential(s) now under key v2");

    // v1 removed: every row is on v2 and opens.
    const onlyV2 = await run("keys-status.ts", v2);
    expect(onlyV2.code).toBe(0);
    expect(onlyV2.stdout).toContain("v2: 7 envelope, 0 legacy");
    expect(onlyV2.stdout).toContain("every credential is an envelope under v2");

    // A process given only v1 (v2 forgotten in a deploy): every row's key is missing, exit 1.
    const missing = await status(v1);
    expect(missing.code).toBe(1);
    expect(missing.status).toMatchObject({ missingKey: 7, versions: [{ keyVersion: 2, inKeyring: false }] });
    const text = await run("keys-status.ts", v1);
    expect(text.code).toBe(1);
    expect(text.stdout).toContain("MISSING from ENCRYPTION_KEYS");
    // Rotating with such a ring opens nothing and changes nothing: exit 1, the rows listed.
    const stuck = await run("keys-rotate.ts", v1);
    expect(stuck.code).toBe(1);
    expect(stuck.stdout).toContain("7 unreadable");
    expect((await status(v2)).status).toMatchObject({ total: 7, pending: 0, missingKey: 0 });
    // The commands print counts and ids, never a secret.
    for (const out of [first, partial, resumed, onlyV2, text, stuck])
      expect(out.stdout).not.toContain("figd_cli_");
  }, 120_000);

  test("--generate without ENCRYPTION_KEYS builds on the development key in DATA_DIR, which every process uses", async () => {
    const devDir = join(dir, "dev");
    mkdirSync(devDir);
    const devKey = generateKeySpec(1);
    writeFileSync(join(devDir, "encryption-keys"), `${devKey}\n`);
    const generated = await run("keys-rotate.ts", { DATA_DIR: devDir }, "--generate");
    expect(generated.code).toBe(0);
    expect(generated.stderr).toContain("the new key goes before the development key in");
    const ring = parseKeyring(generated.stdout.trim().replace(/^ENCRYPTION_KEYS=/, ""));
    expect(ring.versions()).toEqual([2, 1]);
    expect(ring.key(1)).toEqual(parseKeyring(devKey).key(1));
    // No development key yet (nothing stored), or in production (which never reads it): a first key, v1.
    const fresh = await run("keys-rotate.ts", { DATA_DIR: join(dir, "none") }, "--generate");
    expect(parseKeyring(fresh.stdout.trim().replace(/^ENCRYPTION_KEYS=/, "")).versions()).toEqual([1]);
    const production = await run(
      "keys-rotate.ts",
      { DATA_DIR: devDir, NODE_ENV: "production" },
      "--generate",
    );
    expect(parseKeyring(production.stdout.trim().replace(/^ENCRYPTION_KEYS=/, "")).versions()).toEqual([1]);
  });

  test("a malformed ENCRYPTION_KEYS or ENABLED_SERVICES is one line naming it, never a stack trace", async () => {
    const secret = "v1:bm90LWEta2V5LW9mLTMyLWJ5dGVz";
    for (const [script, ...args] of [
      ["keys-rotate.ts", "--generate"],
      ["keys-rotate.ts"],
      ["keys-status.ts"],
    ]) {
      const out = await run(script as string, { ENCRYPTION_KEYS: secret }, ...args);
      expect(out.code).toBe(1);
      expect(out.stderr).toContain("ENCRYPTION_KEYS v1 must decode to 32 bytes");
      expect(out.stderr).not.toContain("    at ");
      expect(out.stderr).not.toContain(secret.slice(3));
    }
    for (const script of ["keys-rotate.ts", "keys-status.ts"]) {
      const out = await run(script, { ENCRYPTION_KEYS: generateKeySpec(1), ENABLED_SERVICES: "figmaa" });
      expect(out.code).toBe(1);
      expect(out.stderr).toContain('invalid environment: ENABLED_SERVICES: no definition for "figmaa"');
      expect(out.stderr).not.toContain("    at ");
    }
  });
});
