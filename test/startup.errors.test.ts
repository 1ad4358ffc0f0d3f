// The long-running entry points (`bun run dev`'s scripts/dev.ts, relaunched or not, apps/control-plane/src/main.ts,
// apps/edge/src/main.ts) as an operator starts them, with a bad setting each: exit 1 and exactly one line on
// stderr, `<process>: <message>` naming the setting, no stack frame, and no secret of another setting (a
// DATABASE_URL or REDIS_URL password, ENCRYPTION_KEYS material, METRICS_TOKEN). The cases that need the
// database open (a setting read after the migrations, a missing database or role, a port in use) run on
// PostgreSQL when DATABASE_URL/REDIS_URL are set, and `bun run dev`'s on its embedded database.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { generateKeySpec } from "@mcp/crypto";
import { EDGE_RUNTIME_ENV } from "../apps/edge/src/runtime-env.ts";
import { outputOf } from "./client.ts";

const ROOT = resolve(import.meta.dir, "..");
const ENTRY = {
  dev: "scripts/dev.ts",
  "control-plane": "apps/control-plane/src/main.ts",
  edge: "apps/edge/src/main.ts",
} as const;
type Entry = keyof typeof ENTRY;
const SHARED = process.env.DATABASE_URL && process.env.REDIS_URL ? process.env.DATABASE_URL : undefined;

// Planted secrets: none may appear in anything a failed start prints.
const DB_PASSWORD = "db-pw-PLANTED-4821";
const REDIS_PASSWORD = "redis-pw-PLANTED-9317";
const METRICS_TOKEN = "metrics-token-PLANTED-5530";
const KEYS = generateKeySpec(1);
const KEY_MATERIAL = KEYS.replace(/^v1:/, "");
/** A key that is no key: 16 bytes of base64 (ENCRYPTION_KEYS wants 32), printed in no message either. */
const SHORT_KEY = "v1:c2hvcnQta2V5LVBMQU5URUQ=";
const SECRETS = [DB_PASSWORD, REDIS_PASSWORD, METRICS_TOKEN, KEY_MATERIAL, SHORT_KEY.slice(3)];

/** Nothing listens on port 1: every case using it fails on a setting read before any connection. */
const DEAD_DATABASE_URL = `postgres://mcp:${DB_PASSWORD}@127.0.0.1:1/mcp`;
const DEAD_REDIS_URL = `redis://:${REDIS_PASSWORD}@127.0.0.1:1/0`;

let dataDir: string;
beforeAll(() => {
  dataDir = mkdtempSync(join(tmpdir(), "startup-errors-"));
});
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

async function start(entry: Entry, env: Record<string, string>) {
  const proc = Bun.spawn([process.execPath, join(ROOT, ENTRY[entry])], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      DATA_DIR: dataDir,
      HEALTH_CHECK_INTERVAL_MS: "0",
      METRICS_TOKEN,
      ...env,
    },
    stdout: "pipe",
    stderr: "pipe",
  });
  // A start that does not fail would serve: stopped after a while, so the test fails rather than hangs.
  const timer = setTimeout(() => proc.kill("SIGKILL"), 60_000);
  try {
    return await outputOf(proc);
  } finally {
    clearTimeout(timer);
  }
}

/** A failed start: exit 1, one line `<entry>: …` naming `setting` (and `also`), no stack, no secret. */
async function expectOneLine(entry: Entry, env: Record<string, string>, setting: string, also?: string) {
  const out = await start(entry, env);
  const lines = out.stderr.split("\n").filter((line) => line.trim() !== "");
  expect({ code: out.code, lines }).toEqual({ code: 1, lines: [expect.stringMatching(/.+/)] });
  const [line] = lines as [string];
  expect(line.startsWith(`${entry}: `)).toBe(true);
  expect(line).toContain(setting);
  if (also) expect(line).toContain(also);
  expect(out.stderr).not.toContain("    at ");
  for (const secret of SECRETS) {
    expect(out.stderr).not.toContain(secret);
    expect(out.stdout).not.toContain(secret);
  }
  return line;
}

/** Settings read before any database connection, for every entry point. */
const SETTINGS: [title: string, env: Record<string, string>, setting: string, also?: string][] = [
  ["a malformed number", { PORT: "3e3" }, "PORT", "whole number"],
  ["an ENABLED_SERVICES typo", { ENABLED_SERVICES: "figmaa" }, "ENABLED_SERVICES", '"figmaa"'],
  ["a base URL that is none", { SERVICE_FIGMA_BASE_URL: "notaurl" }, "SERVICE_FIGMA_BASE_URL"],
  ["a public URL that is none", { SERVICE_FIGMA_PUBLIC_URL: "notaurl" }, "SERVICE_FIGMA_PUBLIC_URL"],
  ["a rate limit that is no number", { SERVICE_FIGMA_RATE_LIMIT: "lots" }, "SERVICE_FIGMA_RATE_LIMIT"],
  ["garbage in ENCRYPTION_KEYS", { ENCRYPTION_KEYS: "garbage" }, "ENCRYPTION_KEYS"],
  ["a key of the wrong length", { ENCRYPTION_KEYS: SHORT_KEY }, "ENCRYPTION_KEYS", "32 bytes"],
  ["production without ENCRYPTION_KEYS", { NODE_ENV: "production", ENCRYPTION_KEYS: "" }, "ENCRYPTION_KEYS"],
];

describe("a bad setting stops an entry point with one line naming it", () => {
  /** Secrets in the other settings: a dead database (never reached) and a valid keyring. */
  const planted = { DATABASE_URL: DEAD_DATABASE_URL, REDIS_URL: DEAD_REDIS_URL, ENCRYPTION_KEYS: KEYS };

  for (const entry of ["control-plane", "edge"] as const) {
    for (const [title, env, setting, also] of SETTINGS) {
      test(`${entry}: ${title}`, async () => {
        await expectOneLine(entry, { ...planted, ...env }, setting, also);
      });
    }
    test(`${entry}: without DATABASE_URL or REDIS_URL`, async () => {
      await expectOneLine(entry, { REDIS_URL: DEAD_REDIS_URL, ENCRYPTION_KEYS: KEYS }, "DATABASE_URL");
      await expectOneLine(entry, { DATABASE_URL: DEAD_DATABASE_URL, ENCRYPTION_KEYS: KEYS }, "REDIS_URL");
    });
  }

  test("edge: SERVICE_MODE and MCP_TYPE that contradict each other", async () => {
    await expectOneLine("edge", { ...planted, SERVICE_MODE: "shared" }, "MCP_TYPE", "SERVICE_MODE=shared");
    await expectOneLine("edge", { ...planted, SERVICE_MODE: "dynamic", MCP_TYPE: "figma" }, "MCP_TYPE");
    await expectOneLine("edge", { ...planted, MCP_TYPE: "Not A Type" }, "MCP_TYPE");
  });

  // Without the edge's runtime settings (EDGE_RUNTIME_ENV) `bun run dev` starts itself again with them and waits:
  // that launcher adds nothing to its child's line.
  for (const [title, env, setting, also] of SETTINGS) {
    test(`dev (relaunched): ${title}`, async () => {
      await expectOneLine("dev", { ...planted, ...env }, setting, also);
    });
  }
  // Started with the runtime settings (as PM2 or a shell that has them would): it serves in this process.
  for (const [title, env, setting, also] of SETTINGS.filter((_, i) => i % 2 === 0)) {
    test(`dev (not relaunched): ${title}`, async () => {
      await expectOneLine("dev", { ...EDGE_RUNTIME_ENV, ...planted, ...env }, setting, also);
    });
  }

  test("LOG_LEVEL=debug adds the stack after the line, still without a secret", async () => {
    const out = await start("control-plane", { ...planted, ENCRYPTION_KEYS: SHORT_KEY, LOG_LEVEL: "debug" });
    expect(out.code).toBe(1);
    const [first, ...rest] = out.stderr.trimEnd().split("\n");
    expect(first).toStartWith("control-plane: ENCRYPTION_KEYS v1 must decode to 32 bytes");
    expect(rest.join("\n")).toContain("    at ");
    for (const secret of SECRETS) expect(out.stderr).not.toContain(secret);
  });
});

describe("a setting read, or a database refused, once the database is open", () => {
  test("dev on its embedded database: a port in use", async () => {
    const taken = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      const line = await expectOneLine(
        "dev",
        { ENCRYPTION_KEYS: KEYS, PORT: "0", EDGE_PORT: String(taken.port) },
        "EDGE_PORT",
      );
      expect(line).toContain(`127.0.0.1:${taken.port}`);
    } finally {
      taken.stop(true);
    }
  }, 120_000);

  // On PostgreSQL (the processes of a production deployment), with the environment's server.
  const on = (url: URL) => ({ DATABASE_URL: url.href, REDIS_URL: process.env.REDIS_URL ?? "" });
  const withPlanted = (change: (url: URL) => void) => {
    const url = new URL(SHARED ?? "postgres://localhost/none");
    // The server's own password when it needs one (and it is withheld too), else a planted one it ignores.
    if (!url.password) url.password = DB_PASSWORD;
    change(url);
    return url;
  };
  for (const entry of ["control-plane", "edge"] as const) {
    test.skipIf(!SHARED)(
      `${entry} on PostgreSQL: a missing database or role, a setting read late`,
      async () => {
        const real = new URL(SHARED ?? "");
        const secrets = [
          ...SECRETS,
          ...(real.password ? [real.password, decodeURIComponent(real.password)] : []),
        ];
        const lines: string[] = [];
        const missingDb = withPlanted((url) => {
          url.pathname = "/startup_test_no_such_database";
        });
        lines.push(
          await expectOneLine(
            entry,
            { ...on(missingDb), ENCRYPTION_KEYS: KEYS },
            "DATABASE_URL",
            "does not exist",
          ),
        );
        expect(lines.at(-1)).toContain('"startup_test_no_such_database"');
        const missingRole = withPlanted((url) => {
          url.username = "startup_test_no_such_role";
        });
        lines.push(await expectOneLine(entry, { ...on(missingRole), ENCRYPTION_KEYS: KEYS }, "DATABASE_URL"));
        expect(lines.at(-1)).toContain("startup_test_no_such_role");
        // Read once the database is open.
        const good = { ...on(real), ENCRYPTION_KEYS: KEYS };
        if (entry === "edge")
          lines.push(
            await expectOneLine(entry, { ...good, MCP_TYPE: "nosuchservice" }, "MCP_TYPE=nosuchservice"),
          );
        const taken = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
        try {
          lines.push(await expectOneLine(entry, { ...good, PORT: String(taken.port) }, "PORT"));
        } finally {
          taken.stop(true);
        }
        for (const line of lines) for (const secret of secrets) expect(line).not.toContain(secret);
      },
      120_000,
    );
  }
});
