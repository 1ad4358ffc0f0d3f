import { describe, expect, test } from "bun:test";
import { realpathSync } from "node:fs";
import { renderEnv, StdioServerConfigSchema } from "./config.ts";
import { createStdioPool } from "./pool.ts";
import { MEMORY_ENTRY, memoryLogger, request } from "./test-helpers.ts";

const issues = (input: unknown) => {
  const parsed = StdioServerConfigSchema.safeParse(input);
  return parsed.success
    ? []
    : parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message }));
};

describe("StdioServerConfigSchema", () => {
  test("bun and node resolve to absolute paths on the safe PATH", () => {
    const bun = StdioServerConfigSchema.parse({ command: "bun", args: ["x.js"] });
    const node = StdioServerConfigSchema.parse({ command: "node" });
    expect(bun).toEqual({ command: "/usr/bin/bun", runtime: "bun", args: ["x.js"], env: {} });
    expect(node.command).toBe("/usr/bin/node");
    expect(node.runtime).toBe("node");
  });

  test("a node_modules/.bin command resolves to the real file inside node_modules", () => {
    const config = StdioServerConfigSchema.parse({ command: "node_modules/.bin/mcp-server-memory" });
    expect(config.runtime).toBe("bin");
    expect(config.command).toBe(realpathSync(MEMORY_ENTRY));
  });

  test("a missing, foreign or escaping command is refused, naming the field", () => {
    for (const command of [
      "node_modules/.bin/no-such-server",
      "/bin/sh",
      "python3",
      "node_modules/.bin/../../package.json",
      "../node_modules/.bin/mcp-server-memory",
    ]) {
      const found = issues({ command });
      expect(found.length).toBeGreaterThan(0);
      expect(found[0]?.path).toBe("command");
    }
    expect(issues({ command: "node_modules/.bin/no-such-server" })[0]?.message).toContain("does not exist");
  });

  test("env names that override the safe base, the runtime or the platform's secrets are refused", () => {
    for (const name of [
      "PATH",
      "path",
      "HOME",
      "TMPDIR",
      "NODE_OPTIONS",
      "NODE_TLS_REJECT_UNAUTHORIZED",
      "LD_PRELOAD",
      "DYLD_INSERT_LIBRARIES",
      "BUN_CONFIG_REGISTRY",
      "DATABASE_URL",
      "REDIS_URL",
      "ENCRYPTION_KEYS",
      "METRICS_TOKEN",
      "SESSION_SECRET",
    ]) {
      const found = issues({ command: "bun", env: { [name]: "x" } });
      expect(found).toHaveLength(1);
      expect(found[0]?.path).toBe(`env.${name}`);
      expect(found[0]?.message).toContain(name);
    }
    expect(issues({ command: "bun", env: { NODE_ENV: "production", API_TOKEN: "{apiKey}" } })).toEqual([]);
    expect(issues({ command: "bun", env: { "BAD-NAME": "x" } })[0]?.path).toBe("env.BAD-NAME");
  });

  test("templates: known placeholders only, and never in args", () => {
    expect(
      issues({ command: "bun", env: { A: "{apiKey}", B: "{additional.team_id}", C: "{home}/db" } }),
    ).toEqual([]);
    expect(issues({ command: "bun", env: { A: "{secret}" } })[0]?.message).toContain(
      "unknown placeholder {secret}",
    );
    expect(issues({ command: "bun", args: ["--token", "{apiKey}"] })[0]?.path).toBe("args.1");
    expect(issues({ command: "bun", env: { JSON: '{"a": 1}' } })).toEqual([]);
  });

  test("bounded: args, env entries, unknown keys", () => {
    expect(issues({ command: "bun", args: Array(33).fill("a") })[0]?.path).toBe("args");
    expect(issues({ command: "bun", args: ["a".repeat(1025)] })[0]?.path).toBe("args.0");
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`V${i}`, "x"]));
    expect(issues({ command: "bun", env: many })[0]?.path).toBe("env");
    expect(issues({ command: "bun", shell: true }).length).toBeGreaterThan(0);
  });
});

test("renderEnv fills the credential and the home, and names a missing field", () => {
  const config = StdioServerConfigSchema.parse({
    command: "bun",
    env: { KEY: "Bearer {apiKey}", TEAM: "{additional.team}", DB: "{home}/db.json" },
  });
  expect(renderEnv(config, { apiKey: "k1", additional: { team: "t" } }, "/tmp/h")).toEqual({
    ok: true,
    env: { KEY: "Bearer k1", TEAM: "t", DB: "/tmp/h/db.json" },
  });
  const missing = renderEnv(config, { apiKey: "k1" }, "/tmp/h");
  expect(!missing.ok && missing.reason).toContain('"team"');
});

test("a node_modules/.bin server runs through the pool", async () => {
  const pool = createStdioPool({ logger: memoryLogger() });
  try {
    const config = StdioServerConfigSchema.parse({
      command: "node_modules/.bin/mcp-server-memory",
      env: { MEMORY_FILE_PATH: "{home}/memory.jsonl" },
    });
    const result = await pool.use(request(config), (c) => c.listTools());
    expect(result.ok && result.value.tools.some((t) => t.name === "read_graph")).toBe(true);
  } finally {
    await pool.close();
  }
});
