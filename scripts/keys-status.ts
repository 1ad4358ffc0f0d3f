// `bun run keys:status [--json]`: stored credentials per master-key version and format (envelope, or the
// legacy format sealed directly under the master key), checked against this process's ENCRYPTION_KEYS.
// Exit 1 when some row's key version is missing from ENCRYPTION_KEYS, or its key there opens none of the rows
// sampled under it (a wrong key): those rows open nowhere.
import { parseArgs } from "node:util";
import { createPlatform, keyStatus, parseEnvOrExit } from "@mcp/core";

let json = false;
try {
  json =
    parseArgs({ args: Bun.argv.slice(2), options: { json: { type: "boolean" } }, strict: true }).values
      .json === true;
} catch (error) {
  console.error(`${(error as Error).message}\nusage: bun run keys:status [--json]`);
  process.exit(2);
}

// A setting read while building the platform (a malformed ENCRYPTION_KEYS, an ENABLED_SERVICES typo, …) or a
// database that cannot be reached: one line, not a stack trace.
const platform = await createPlatform(parseEnvOrExit()).catch((error: unknown) => {
  console.error(`keys:status: ${error instanceof Error ? error.message : String(error)}`);
  return process.exit(1);
});
const status = await keyStatus(platform.deps);
await platform.close();

if (json) {
  console.log(JSON.stringify(status));
} else {
  const ring = status.keyring.map((v) => (v === status.current ? `v${v} (current)` : `v${v}`)).join(", ");
  console.log(`ENCRYPTION_KEYS: ${ring}`);
  console.log(`credentials: ${status.total}`);
  for (const v of status.versions) {
    const note = !v.inKeyring
      ? "   MISSING from ENCRYPTION_KEYS: these rows cannot be opened"
      : status.wrongKey.includes(v.keyVersion)
        ? `   WRONG KEY: v${v.keyVersion} in ENCRYPTION_KEYS opens none of these rows (not the key they were sealed with)`
        : "";
    console.log(`  v${v.keyVersion}: ${v.envelope} envelope, ${v.legacy} legacy${note}`);
  }
  console.log(
    status.pending === 0
      ? `every credential is an envelope under v${status.current}`
      : `${status.pending} to rotate: run \`bun run keys:rotate\``,
  );
}
process.exit(status.missingKey > 0 || status.wrongKey.length > 0 ? 1 : 0);
