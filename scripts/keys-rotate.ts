// `bun run keys:rotate`: brings every stored credential under the newest key in ENCRYPTION_KEYS, online.
// Usage: add a new highest version (`bun run keys:rotate --generate` prints one), deploy it to every process,
// run this (while traffic continues), then drop the old version once `bun run keys:status` shows no row on it.
// Flags: --batch <rows> (default 500), --max-batches <n> (stop early; a later run resumes), --pause-ms <ms>.
// Ctrl-C stops after the batch in flight; every row opens at any point, and running again picks up the rest.
import { existsSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { createPlatform, parseEnvOrExit, resealCredentials, ZRotateOptions } from "@mcp/core";
import { devKeyFile, generateKeySpec, parseKeyring } from "@mcp/crypto";

const usage =
  "usage: bun run keys:rotate [--batch <rows>] [--max-batches <n>] [--pause-ms <ms>] | --generate";

function parseFlags() {
  const { values } = parseArgs({
    args: Bun.argv.slice(2),
    options: {
      generate: { type: "boolean" },
      batch: { type: "string" },
      "max-batches": { type: "string" },
      "pause-ms": { type: "string" },
    },
    strict: true,
    allowPositionals: false,
  });
  const whole = (name: string, raw: string | undefined) => {
    if (raw === undefined) return undefined;
    if (!/^[0-9]{1,9}$/.test(raw)) throw new Error(`--${name} must be a whole number`);
    return Number(raw);
  };
  const parsed = ZRotateOptions.safeParse({
    batch: whole("batch", values.batch),
    maxBatches: whole("max-batches", values["max-batches"]),
    pauseMs: whole("pause-ms", values["pause-ms"]),
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    // The option as the command line spells it (`maxBatches` is `--max-batches`).
    const flag = String(issue?.path[0] ?? "").replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    throw new Error(`--${flag}: ${issue?.message}`);
  }
  return { generate: values.generate === true, ...parsed.data };
}

let flags: ReturnType<typeof parseFlags>;
try {
  flags = parseFlags();
} catch (error) {
  console.error(`${(error as Error).message}\n${usage}`);
  process.exit(2);
}

if (flags.generate) {
  // Without ENCRYPTION_KEYS (outside production) every process seals with the development key generated into
  // DATA_DIR (loadKeyring): the new version goes in front of that one, or nothing stored would open under the
  // printed value.
  const devKeys = devKeyFile(process.env.DATA_DIR || ".data");
  const fromDevKeys =
    !process.env.ENCRYPTION_KEYS && process.env.NODE_ENV !== "production" && existsSync(devKeys);
  const existing = fromDevKeys ? readFileSync(devKeys, "utf8").trim() : process.env.ENCRYPTION_KEYS;
  let current = 0;
  try {
    if (existing) current = parseKeyring(existing).current;
  } catch (error) {
    console.error(`keys:rotate: ${(error as Error).message}`);
    process.exit(1);
  }
  if (fromDevKeys)
    console.error(`ENCRYPTION_KEYS is not set: the new key goes before the development key in ${devKeys}`);
  console.log(`ENCRYPTION_KEYS=${generateKeySpec(current + 1)}${existing ? `,${existing}` : ""}`);
  process.exit(0);
}

const env = parseEnvOrExit();
// The reload markers and invalidations must reach the edges' cache: on PostgreSQL that is Redis. Without
// REDIS_URL they would go to a kv of this process only, and `done` would be reported while the edges still
// hold entries under the old version (which cannot then be dropped).
if (env.DATABASE_URL && !env.REDIS_URL) {
  console.error(
    `keys:rotate on PostgreSQL needs the REDIS_URL the edges use, to refresh their cached entries\n${usage}`,
  );
  process.exit(2);
}
// A setting read while building the platform (a malformed ENCRYPTION_KEYS, an ENABLED_SERVICES typo, …) or a
// database that cannot be reached: one line, not a stack trace.
const platform = await createPlatform(env).catch((error: unknown) => {
  console.error(`keys:rotate: ${error instanceof Error ? error.message : String(error)}`);
  return process.exit(1);
});
const stop = new AbortController();
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (stop.signal.aborted) process.exit(130);
    console.log("stopping after the batch in flight (again to quit at once)");
    stop.abort();
  });
}
const current = platform.deps.keyring.current;
console.log(`rotating credentials to key v${current}, ${flags.batch} rows per batch`);
const report = await resealCredentials(platform.deps, {
  batch: flags.batch,
  maxBatches: flags.maxBatches,
  pauseMs: flags.pauseMs,
  signal: stop.signal,
  onBatch: (p) =>
    console.log(
      `batch ${p.batches}: ${p.rewrapped} rewrapped, ${p.converted} converted from the legacy format, ` +
        `${p.changed} changed meanwhile, ${p.unreadable} unreadable`,
    ),
});
console.log(
  `${report.done ? "done" : `stopped after ${report.batches} batch(es); run again to continue`}: ` +
    `${report.resealed} credential(s) now under key v${current} ` +
    `(${report.rewrapped} rewrapped, ${report.converted} converted)`,
);
if (report.kvUnavailable)
  console.error(
    report.kvUnavailable === "before-batch"
      ? "keys:rotate: Redis (REDIS_URL) does not answer: stopped before the next batch; run again once it does " +
          "(a row rewritten meanwhile would stay cached in the edges under its old key version)"
      : "keys:rotate: Redis (REDIS_URL) stopped answering: stopped. The edges may hold the last batch's rows " +
          "under their old key version until their cached entries expire (5 min after Redis is back): keep the " +
          "old key in ENCRYPTION_KEYS until then, and run again once Redis answers",
  );
if (report.changed > 0)
  console.log(`${report.changed} row(s) were rewritten by a reconnect meanwhile; run again to check them`);
if (report.unreadableCount > 0)
  console.log(
    `${report.unreadableCount} unreadable (left as they are): ${report.unreadable.join(", ")}` +
      (report.unreadableCount > report.unreadable.length ? ", …" : ""),
  );
await platform.close();
process.exit(report.unreadableCount > 0 || report.kvUnavailable ? 1 : 0);
