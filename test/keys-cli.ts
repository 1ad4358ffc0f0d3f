// What the tests of `bun run keys:rotate` / `keys:status` share: the command run as an operator runs it (its own
// process, on the embedded database under a test's folder), and credentials sealed there to rotate or inspect.
import { join, resolve } from "node:path";
import { createPlatform, newId, type Platform, parseEnv, personalOrgOf, sealCredential } from "@mcp/core";
import { credentials, users } from "@mcp/db";
import { outputOf } from "./client.ts";

const ROOT = resolve(import.meta.dir, "..");

/** `scripts/<script>` in a process of its own on the embedded database under `dataDir`, with `env` added. */
export function runKeysScript(
  dataDir: string,
  script: string,
  env: Record<string, string>,
  ...args: string[]
) {
  const proc = Bun.spawn([process.execPath, join(ROOT, "scripts", script), ...args], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      DATA_DIR: dataDir,
      LOG_LEVEL: "error",
      ...env,
    },
    stdout: "pipe",
    stderr: "pipe",
  });
  return outputOf(proc);
}

/**
 * `count` users with one Figma credential each (API keys `figd_<tag>_<i>`), sealed under `keys` on the embedded
 * database under `dataDir`; the platform is left open for the caller to close (before a command opens the folder).
 */
export async function seedSealedCredentials(
  dataDir: string,
  keys: string,
  count: number,
  tag: string,
): Promise<Platform> {
  const platform = await createPlatform(
    parseEnv({ DATA_DIR: dataDir, ENCRYPTION_KEYS: keys, LOG_LEVEL: "error", HEALTH_CHECK_INTERVAL_MS: "0" }),
  );
  const { db, keyring } = platform.deps;
  const ids = Array.from({ length: count }, () => newId("usr"));
  await db.insert(users).values(ids.map((id) => ({ id, email: `${id}@x.test`, passwordHash: "unused" })));
  const rows = await Promise.all(
    ids.map(async (userId, i) => {
      const row = { id: newId("cred"), userId, orgId: await personalOrgOf(db, userId), serviceType: "figma" };
      return { ...row, ...sealCredential(keyring, row, { apiKey: `figd_${tag}_${i}` }) };
    }),
  );
  await db.insert(credentials).values(rows);
  return platform;
}
