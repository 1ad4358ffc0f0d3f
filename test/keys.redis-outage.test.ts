// Master-key rotation while Redis is out. A rewritten row's cached instance entries are refreshed through
// Redis (a reload marker and an invalidation), which is what lets `keys:rotate` say `done` and the old key go at
// once. With Redis unreachable those announcements reach the rotating process only: before, the command
// rewrote every row all the same, printed `done` and exited 0, and the edges kept serving the old ciphertexts
// from Redis's entries (unopenable once the old key was dropped). Now it writes nothing while Redis does not
// answer, stops when Redis is lost while it announces a batch, and exits 1 saying so.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CoreDeps, keyStatus, newId, personalOrgOf, resealCredentials } from "@mcp/core";
import { generateKeySpec, parseKeyring } from "@mcp/crypto";
import { auditEvents, credentials, users } from "@mcp/db";
import type { Kv } from "@mcp/kv";
import { asc, inArray } from "drizzle-orm";
import { issueInstance } from "../packages/core/src/instances.ts";
import { testPlatform } from "../packages/core/src/test-platform.ts";
import { type OwnRedis, startOwnRedis } from "./fakes/redis-server.ts";
import { runKeysScript, seedSealedCredentials } from "./keys-cli.ts";

const v1 = generateKeySpec(1);
const v2 = generateKeySpec(2);
const both = `${v2},${v1}`;

describe("bun run keys:rotate with REDIS_URL unreachable", () => {
  let dir: string;
  let redis: OwnRedis;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "keys-redis-"));
    redis = await startOwnRedis();
  });
  afterAll(async () => {
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const run = (script: string, env: Record<string, string>, ...args: string[]) =>
    runKeysScript(dir, script, env, ...args);

  const pending = async () => {
    const out = await run("keys-status.ts", { ENCRYPTION_KEYS: both }, "--json");
    return (JSON.parse(out.stdout) as { pending: number }).pending;
  };

  test("nothing is rewritten and it exits 1 naming REDIS_URL; once Redis answers, a run finishes (exit 0)", async () => {
    // Seed: 4 credentials under v1, the database then closed for the commands.
    const seeded = await seedSealedCredentials(dir, v1, 4, "redis");
    await seeded.close();
    expect(await pending()).toBe(4);

    await redis.stop();
    const refused = await run("keys-rotate.ts", { ENCRYPTION_KEYS: both, REDIS_URL: redis.url });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      "keys:rotate: Redis (REDIS_URL) does not answer: stopped before the next batch",
    );
    expect(refused.stdout).not.toContain("done");
    expect(refused.stdout).toContain("stopped after 0 batch(es)");
    for (const out of [refused.stdout, refused.stderr]) expect(out).not.toContain("figd_redis_");
    expect(await pending()).toBe(4);

    await redis.start();
    const finished = await run("keys-rotate.ts", { ENCRYPTION_KEYS: both, REDIS_URL: redis.url });
    expect(finished.stderr).toBe("");
    expect(finished.code).toBe(0);
    expect(finished.stdout).toContain("done: 4 credential(s) now under key v2");
    expect(await pending()).toBe(0);
  }, 120_000);
});

describe("resealCredentials and the kv", () => {
  let platform: Awaited<ReturnType<typeof testPlatform>>;
  const created: string[] = [];
  beforeAll(async () => {
    platform = await testPlatform({ encryptionKeys: v1, kvPrefix: "test:rotate-redis:" });
  });
  afterAll(async () => {
    if (created.length > 0) {
      await platform.deps.db.delete(users).where(inArray(users.id, created));
      await platform.deps.db.delete(auditEvents).where(inArray(auditEvents.userId, created));
    }
    await platform?.close();
  });

  /** Users with a Figma instance each, their credentials sealed under v1. */
  async function connectedUnderV1(count: number): Promise<string[]> {
    const deps = platform.deps;
    const ids = Array.from({ length: count }, () => newId("usr"));
    await deps.db
      .insert(users)
      .values(
        ids.map((id) => ({ id, email: `rotate-redis-${crypto.randomUUID()}@x.test`, passwordHash: "u" })),
      );
    created.push(...ids);
    for (const userId of ids) {
      const actor = { userId, orgId: await personalOrgOf(deps.db, userId) };
      await issueInstance(deps, actor, "figma", "fig", { apiKey: `figd_${crypto.randomUUID()}` });
    }
    return ids;
  }
  const versionsOf = async (ids: string[]) =>
    (
      await platform.deps.db
        .select({ keyVersion: credentials.keyVersion })
        .from(credentials)
        .where(inArray(credentials.userId, ids))
        .orderBy(asc(credentials.id))
    ).map((r) => r.keyVersion);

  /** The platform's kv, seen as Redis that is up or out (`out.now`), and lost on the first write once `loseOnSet`. */
  function flakyKv(out: { now: boolean; loseOnSet?: boolean }): Kv {
    const kv = platform.deps.kv;
    return {
      ...kv,
      ping: async () => !out.now && kv.ping(),
      degraded: () => out.now,
      set: async (key, value, ttlMs) => {
        if (out.loseOnSet) out.now = true;
        return kv.set(key, value, ttlMs);
      },
    };
  }

  test("Redis out before a batch: nothing read or written, reported; Redis lost while announcing: stops after that batch", async () => {
    const ids = await connectedUnderV1(4);
    const out = { now: true, loseOnSet: false };
    const deps: CoreDeps = { ...platform.deps, keyring: parseKeyring(both), kv: flakyKv(out) };

    const before = await resealCredentials(deps, { userIds: ids, batch: 2 });
    expect(before).toMatchObject({ done: false, batches: 0, resealed: 0, kvUnavailable: "before-batch" });
    expect(await versionsOf(ids)).toEqual([1, 1, 1, 1]);

    out.now = false;
    out.loseOnSet = true;
    const lost = await resealCredentials(deps, { userIds: ids, batch: 2 });
    expect(lost).toMatchObject({ done: false, batches: 1, resealed: 2, kvUnavailable: "announcing" });
    expect((await versionsOf(ids)).sort()).toEqual([1, 1, 2, 2]);

    out.now = false;
    out.loseOnSet = false;
    const rest = await resealCredentials(deps, { userIds: ids, batch: 2 });
    expect(rest).toMatchObject({ done: true, resealed: 2, kvUnavailable: null });
    expect(await versionsOf(ids)).toEqual([2, 2, 2, 2]);
    expect((await keyStatus(deps, { userIds: ids })).pending).toBe(0);
  });
});

describe("resealCredentials stopped during --pause-ms", () => {
  let platform: Awaited<ReturnType<typeof testPlatform>>;
  const created: string[] = [];
  beforeAll(async () => {
    platform = await testPlatform({ encryptionKeys: v1, kvPrefix: "test:rotate-pause:" });
  });
  afterAll(async () => {
    if (created.length > 0) await platform.deps.db.delete(users).where(inArray(users.id, created));
    await platform?.close();
  });

  // Ctrl-C (the signal) while the run waits out a long pause between batches: it stops then, not after the pause
  // (60 s here, past this test's own timeout).
  test("an abort during the pause ends the run at once, after the batch written", async () => {
    const deps = platform.deps;
    const ids = Array.from({ length: 3 }, () => newId("usr"));
    await deps.db
      .insert(users)
      .values(
        ids.map((id) => ({ id, email: `rotate-pause-${crypto.randomUUID()}@x.test`, passwordHash: "u" })),
      );
    created.push(...ids);
    for (const userId of ids) {
      const actor = { userId, orgId: await personalOrgOf(deps.db, userId) };
      await issueInstance(deps, actor, "figma", "fig", { apiKey: `figd_${crypto.randomUUID()}` });
    }
    const stop = new AbortController();
    const report = await resealCredentials(
      { ...deps, keyring: parseKeyring(both) },
      {
        userIds: ids,
        batch: 1,
        pauseMs: 60_000,
        signal: stop.signal,
        onBatch: () => setTimeout(() => stop.abort(), 50),
      },
    );
    expect(report).toMatchObject({ batches: 1, resealed: 1, done: false, kvUnavailable: null });
  }, 20_000);
});
