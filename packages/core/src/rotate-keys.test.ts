// Master-key rotation racing reconnects, on a real database (PGlite in memory, or DATABASE_URL) and the
// configured kv. Each round has its own fresh users (other test files may share the database), removed
// afterwards, and only they are re-sealed.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { generateKeySpec, isEnvelope, parseKeyring } from "@mcp/crypto";
import { auditEvents, credentials, users } from "@mcp/db";
import { asc, eq, inArray } from "drizzle-orm";
import { legacySeal } from "../../crypto/src/legacy-seal.testing.ts";
import type { Platform } from "./bootstrap.ts";
import { openCredential } from "./credentials.ts";
import type { CoreDeps } from "./deps.ts";
import { newId } from "./ids.ts";
import { issueInstance } from "./instances.ts";
import { personalOrgOf } from "./orgs.ts";
import { keyStatus, type RotationProgress, resealCredentials } from "./rotate-keys.ts";
import { testPlatform } from "./test-platform.ts";

const USERS = 30;
const ROUNDS = 4;
const v1 = generateKeySpec(1);
const v2 = generateKeySpec(2);

let platform: Platform;
const created: string[] = [];

beforeAll(async () => {
  platform = await testPlatform({ encryptionKeys: v1, kvPrefix: "test:rotate:" });
});
afterAll(async () => {
  if (created.length > 0) {
    // Credentials and instances go with their users; audit events are not tied to them.
    await platform.deps.db.delete(users).where(inArray(users.id, created));
    await platform.deps.db.delete(auditEvents).where(inArray(auditEvents.userId, created));
  }
  await platform.close();
});

/** Users inserted directly: their passwords are never used, and hashing 120 of them would be slow. */
async function freshUsers(deps: CoreDeps, count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, () => newId("usr"));
  await deps.db
    .insert(users)
    .values(ids.map((id) => ({ id, email: `rotate-${crypto.randomUUID()}@x.test`, passwordHash: "unused" })));
  created.push(...ids);
  return ids;
}

/** The real connect path after the upstream check: seal, upsert credential and instance, retire caches. */
const connect = async (deps: CoreDeps, userId: string, apiKey: string) =>
  issueInstance(deps, { userId, orgId: await personalOrgOf(deps.db, userId) }, "figma", "fig", { apiKey });

const newKey = () => `figd_${crypto.randomUUID()}`;

async function afterTurns(turns: number, run: () => Promise<unknown>): Promise<unknown> {
  for (let t = 0; t < turns; t++) await Promise.resolve();
  return run();
}

test("re-sealing while users reconnect leaves every credential openable and no reconnect undone", async () => {
  const before = platform.deps; // seals under v1, the only key
  const during: CoreDeps = { ...before, keyring: parseKeyring(`${v2},${v1}`) }; // v2 added and current
  const onlyV2 = parseKeyring(v2); // what is left once v1 is removed

  for (let round = 0; round < ROUNDS; round++) {
    const ids = await freshUsers(before, USERS);
    const expected = new Map<string, string>();
    await Promise.all(
      ids.map((id) => {
        const key = newKey();
        expected.set(id, key);
        return connect(before, id, key);
      }),
    );

    // Every other user reconnects with a new key while its credential is being re-sealed: mostly the
    // reseal starts first (every fourth pair, the reconnect), the other a growing number of microtask
    // turns later (0 to 59 over the rounds). PGlite runs one statement at a time, so only such offsets
    // put a reconnect's transaction between a reseal's read and its write; PostgreSQL needs none.
    await Promise.all(
      ids.flatMap((id, i) => {
        const reseal = () => resealCredentials(during, { userId: id });
        if (i % 2 === 1) return [reseal()];
        const key = newKey();
        expected.set(id, key);
        const reconnect = () => connect(during, id, key);
        const j = i / 2;
        const [first, second] = j % 4 === 3 ? [reconnect, reseal] : [reseal, reconnect];
        return [first(), afterTurns(j + round * (USERS / 2), second)];
      }),
    );

    const raced = await before.db.select().from(credentials).where(inArray(credentials.userId, ids));
    expect(raced).toHaveLength(USERS);
    for (const row of raced)
      expect(openCredential(during.keyring, row, row)?.apiKey).toBe(expected.get(row.userId));

    // One more pass finds nothing it cannot read; then every row is under v2 and v1 can go.
    for (const id of ids) expect((await resealCredentials(during, { userId: id })).unreadable).toEqual([]);
    const rows = await before.db.select().from(credentials).where(inArray(credentials.userId, ids));
    expect(rows.map((row) => row.keyVersion)).toEqual(ids.map(() => 2));
    const opened = new Map(rows.map((row) => [row.userId, openCredential(onlyV2, row, row)?.apiKey]));
    expect(opened).toEqual(expected);
  }
}, 30_000);

const rowsOf = (deps: CoreDeps, ids: string[]) =>
  deps.db.select().from(credentials).where(inArray(credentials.userId, ids)).orderBy(asc(credentials.id));

/** `count` users connected under v1 (the platform's only key); every `legacyEvery`-th turned legacy. */
async function connectedUsers(count: number, legacyEvery = 0) {
  const deps = platform.deps;
  const ids = await freshUsers(deps, count);
  const expected = new Map<string, string>();
  await Promise.all(
    ids.map((id) => {
      const key = newKey();
      expected.set(id, key);
      return connect(deps, id, key);
    }),
  );
  if (legacyEvery > 0) {
    const rows = await rowsOf(deps, ids);
    for (const [i, row] of rows.entries()) {
      if (i % legacyEvery !== 0) continue;
      const secret = openCredential(deps.keyring, row, row);
      const legacy = legacySeal(deps.keyring, 1, row, JSON.stringify(secret));
      await deps.db.update(credentials).set(legacy).where(eq(credentials.id, row.id));
    }
  }
  return { ids, expected };
}

describe("online rotation in bounded, resumable batches", () => {
  const during = () => ({ ...platform.deps, keyring: parseKeyring(`${v2},${v1}`) });

  test("stopped after 3 batches, every row still opens; resumed, every row is an envelope under v2", async () => {
    const { ids, expected } = await connectedUsers(25, 3);
    const before = await rowsOf(platform.deps, ids);
    expect(before.filter((r) => !isEnvelope(r.ciphertext))).toHaveLength(9);
    expect(await keyStatus(during(), { userIds: ids })).toEqual({
      current: 2,
      keyring: [2, 1],
      versions: [{ keyVersion: 1, envelope: 16, legacy: 9, inKeyring: true }],
      total: 25,
      pending: 25,
      missingKey: 0,
      wrongKey: [],
    });

    const seen: RotationProgress[] = [];
    const first = await resealCredentials(during(), {
      userIds: ids,
      batch: 4,
      maxBatches: 3,
      onBatch: (p) => seen.push(p),
    });
    expect(first).toMatchObject({ batches: 3, resealed: 12, changed: 0, unreadable: [], done: false });
    expect(seen.map((p) => p.batches)).toEqual([1, 2, 3]);
    expect(seen.map((p) => p.rewrapped + p.converted)).toEqual([4, 8, 12]);
    // Half-way: the first 12 rows in id order are done, the rest untouched, and every row opens.
    const half = await rowsOf(platform.deps, ids);
    expect(half.map((r) => r.keyVersion)).toEqual([...Array(12).fill(2), ...Array(13).fill(1)]);
    for (const row of half)
      expect(openCredential(during().keyring, row, row)?.apiKey).toBe(expected.get(row.userId));
    expect((await keyStatus(during(), { userIds: ids })).pending).toBe(13);

    const rest = await resealCredentials(during(), { userIds: ids, batch: 4 });
    expect(rest).toMatchObject({ batches: 4, resealed: 13, changed: 0, unreadable: [], done: true });
    expect(first.converted + rest.converted).toBe(9);
    expect(first.rewrapped + rest.rewrapped).toBe(16);

    const after = await rowsOf(platform.deps, ids);
    const onlyV2 = parseKeyring(v2);
    for (const [i, row] of after.entries()) {
      const old = before[i];
      if (!old) throw new Error("row missing");
      expect(row.keyVersion).toBe(2);
      expect(isEnvelope(row.ciphertext)).toBe(true);
      // An envelope keeps its payload byte for byte; only the wrapped data key changed.
      if (isEnvelope(old.ciphertext)) expect(row.ciphertext.split(".")[2]).toBe(old.ciphertext.split(".")[2]);
      expect(openCredential(onlyV2, row, row)?.apiKey).toBe(expected.get(row.userId));
    }
    expect(await keyStatus({ ...platform.deps, keyring: onlyV2 }, { userIds: ids })).toEqual({
      current: 2,
      keyring: [2],
      versions: [{ keyVersion: 2, envelope: 25, legacy: 0, inKeyring: true }],
      total: 25,
      pending: 0,
      missingKey: 0,
      wrongKey: [],
    });
    // Nothing left: a third run reads one empty page.
    expect(await resealCredentials(during(), { userIds: ids, batch: 4 })).toMatchObject({
      batches: 0,
      resealed: 0,
      done: true,
    });
  });

  test("rows no key opens are listed, left as they are, and do not stop the run; status counts the missing key", async () => {
    const { ids } = await connectedUsers(6);
    const rows = await rowsOf(platform.deps, ids);
    const [a, b, moved, , missing] = rows;
    if (!a || !b || !moved || !missing) throw new Error("rows missing");
    // One row holds another row's ciphertext (its AAD does not match), one a version no ring holds.
    await platform.deps.db
      .update(credentials)
      .set({ ciphertext: a.ciphertext })
      .where(eq(credentials.id, moved.id));
    await platform.deps.db.update(credentials).set({ keyVersion: 9 }).where(eq(credentials.id, missing.id));

    const tampered = await rowsOf(platform.deps, ids);
    const unchanged = (id: string) => tampered.find((r) => r.id === id);

    const report = await resealCredentials(during(), { userIds: ids, batch: 2 });
    expect(report).toMatchObject({
      resealed: 4,
      unreadable: [moved.id, missing.id],
      unreadableCount: 2,
      done: true,
    });
    const after = await rowsOf(platform.deps, ids);
    expect(after.find((r) => r.id === moved.id)).toEqual(unchanged(moved.id));
    expect(after.find((r) => r.id === missing.id)).toEqual(unchanged(missing.id));
    expect(unchanged(missing.id)?.keyVersion).toBe(9);

    const status = await keyStatus(during(), { userIds: ids });
    expect(status.versions).toEqual([
      { keyVersion: 9, envelope: 1, legacy: 0, inKeyring: false },
      { keyVersion: 2, envelope: 4, legacy: 0, inKeyring: true },
      { keyVersion: 1, envelope: 1, legacy: 0, inKeyring: true },
    ]);
    expect(status).toMatchObject({ total: 6, pending: 2, missingKey: 1 });
    // Running again changes nothing and reports the same rows.
    expect(await resealCredentials(during(), { userIds: ids, batch: 2 })).toMatchObject({
      resealed: 0,
      unreadable: [moved.id, missing.id],
    });
  });

  test("only the rows in scope are touched: another tenant's stay as they are", async () => {
    const mine = await connectedUsers(3);
    const theirs = await connectedUsers(3);
    const theirsBefore = await rowsOf(platform.deps, theirs.ids);
    const report = await resealCredentials(during(), { userIds: mine.ids });
    expect(report.resealed).toBe(3);
    expect(await rowsOf(platform.deps, theirs.ids)).toEqual(theirsBefore);
    expect((await keyStatus(during(), { userIds: theirs.ids })).pending).toBe(3);
    expect((await keyStatus(during(), { userIds: mine.ids })).pending).toBe(0);
  });

  test("out-of-bounds options are refused before anything is read or written", async () => {
    const { ids } = await connectedUsers(2);
    const before = await rowsOf(platform.deps, ids);
    for (const bad of [{ batch: 0 }, { batch: 5_001 }, { batch: 1.5 }, { maxBatches: 0 }, { pauseMs: -1 }]) {
      await expect(resealCredentials(during(), { userIds: ids, ...bad })).rejects.toThrow();
    }
    expect(await rowsOf(platform.deps, ids)).toEqual(before);
  });

  test("an aborted run stops between batches and reports it is not done", async () => {
    const { ids } = await connectedUsers(5);
    const stop = new AbortController();
    const report = await resealCredentials(during(), {
      userIds: ids,
      batch: 2,
      signal: stop.signal,
      onBatch: () => stop.abort(),
    });
    expect(report).toMatchObject({ batches: 1, resealed: 2, done: false });
    expect((await keyStatus(during(), { userIds: ids })).pending).toBe(3);
  });
});
