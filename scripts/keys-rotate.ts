// `bun run keys:rotate`: re-seals every stored credential under the newest key in ENCRYPTION_KEYS.
// Usage: add a new highest version (`bun run keys:rotate --generate` prints one), deploy it, run this,
// then drop the old version once it reports nothing unreadable. Instance caches hold only sealed
// values, so they need no flush.
import { createPlatform, parseEnv, resealCredentials } from "@mcp/core";
import { generateKeySpec, parseKeyring } from "@mcp/crypto";

if (Bun.argv.includes("--generate")) {
  const current = process.env.ENCRYPTION_KEYS ? parseKeyring(process.env.ENCRYPTION_KEYS).current : 0;
  console.log(
    `ENCRYPTION_KEYS=${generateKeySpec(current + 1)}${process.env.ENCRYPTION_KEYS ? `,${process.env.ENCRYPTION_KEYS}` : ""}`,
  );
  process.exit(0);
}
const platform = await createPlatform(parseEnv());
const report = await resealCredentials(platform.deps);
console.log(`re-sealed ${report.resealed} credential(s) under key v${platform.deps.keyring.current}`);
if (report.unreadable.length > 0)
  console.log(`unreadable (left as they are): ${report.unreadable.join(", ")}`);
await platform.close();
process.exit(report.unreadable.length > 0 ? 1 : 0);
