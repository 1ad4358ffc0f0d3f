// `bun run keys:status` against a wrong keyring: ENCRYPTION_KEYS names every version the rows are under, but one
// version's key is not the one they were sealed with (a mistyped or regenerated `v1:` entry, a new version that
// `keys:rotate` sealed under on one host and another host generated again). Before, only the version numbers were
// compared: the status said every row was fine (exit 0) while none of them opened anywhere with that ring, and an
// operator following it would drop the only key that opened them. Now a version whose key opens none of the
// rows sampled under it is reported (`WRONG KEY`, `wrongKey`) and the command exits 1; one damaged row is not.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateKeySpec } from "@mcp/crypto";
import { credentials } from "@mcp/db";
import { asc, eq } from "drizzle-orm";
import { runKeysScript, seedSealedCredentials } from "./keys-cli.ts";

const v1 = generateKeySpec(1);
const otherV1 = generateKeySpec(1);
const v2 = generateKeySpec(2);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "keys-status-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const status = (keys: string, ...args: string[]) =>
  runKeysScript(dir, "keys-status.ts", { ENCRYPTION_KEYS: keys }, ...args);

test("a version whose key opens none of its rows is a WRONG KEY (exit 1); the right ring, or one damaged row, is fine", async () => {
  // Seed: 4 envelopes under v1, on the command's own embedded database.
  const seeded = await seedSealedCredentials(dir, v1, 4, "status");
  // One row damaged (the first the command samples): the others still open, so the key is the right one.
  const [first] = await seeded.deps.db.select().from(credentials).orderBy(asc(credentials.id)).limit(1);
  await seeded.deps.db
    .update(credentials)
    .set({ ciphertext: `${first?.ciphertext.slice(0, -8)}AAAAAAAA` })
    .where(eq(credentials.id, first?.id ?? ""));
  await seeded.close();

  const right = await status(`${v2},${v1}`, "--json");
  expect(right.code).toBe(0);
  expect(JSON.parse(right.stdout)).toMatchObject({ total: 4, missingKey: 0, wrongKey: [] });

  const wrong = await status(`${v2},${otherV1}`, "--json");
  expect(wrong.code).toBe(1);
  expect(JSON.parse(wrong.stdout)).toMatchObject({ total: 4, missingKey: 0, wrongKey: [1] });
  const text = await status(`${v2},${otherV1}`);
  expect(text.code).toBe(1);
  expect(text.stdout).toContain(
    "v1: 4 envelope, 0 legacy   WRONG KEY: v1 in ENCRYPTION_KEYS opens none of these rows",
  );
  for (const out of [right, wrong, text]) {
    expect(out.stdout + out.stderr).not.toContain("figd_status_");
    for (const spec of [v1, otherV1, v2]) expect(out.stdout + out.stderr).not.toContain(spec.slice(3));
  }
}, 120_000);
