// Master-key rotation racing reconnects, on a real database (PGlite in memory, or DATABASE_URL) and the
// configured kv. Each round has its own fresh users (other test files may share the database), removed
// afterwards, and only they are re-sealed.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { generateKeySpec, parseKeyring } from "@mcp/crypto";
import { auditEvents, credentials, users } from "@mcp/db";
import { inArray } from "drizzle-orm";
import type { Platform } from "./bootstrap.ts";
import { openCredential } from "./credentials.ts";
import type { CoreDeps } from "./deps.ts";
import { newId } from "./ids.ts";
import { issueInstance } from "./instances.ts";
import { resealCredentials } from "./rotate-keys.ts";
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
const connect = (deps: CoreDeps, userId: string, apiKey: string) =>
  issueInstance(deps, { userId }, "figma", "fig", { apiKey });

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
