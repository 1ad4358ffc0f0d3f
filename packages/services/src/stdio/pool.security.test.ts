import { afterAll, beforeAll, expect, test } from "bun:test";
import { createRedactor, REDACTED } from "../redact.ts";
import { createStdioPool } from "./pool.ts";
import { createStderrSink, DEFAULT_STDERR_LIMITS } from "./stderr.ts";
import { fixtureConfig, memoryLogger, request, text, waitFor } from "./test-helpers.ts";

const PLATFORM_SECRETS = {
  DATABASE_URL: "postgres://root:hunter2@127.0.0.1:5432/prod",
  REDIS_URL: "redis://:hunter2@127.0.0.1:6379",
  ENCRYPTION_KEYS: "1:c2VjcmV0LWtleS1tYXRlcmlhbC0zMi1ieXRlcyEhIQ==",
  METRICS_TOKEN: "metrics-token-hunter2",
  NODE_OPTIONS: "--require /tmp/evil.js",
  BUN_CONFIG_REGISTRY: "http://evil.example",
};
const saved: Record<string, string | undefined> = {};
beforeAll(() => {
  for (const [k, v] of Object.entries(PLATFORM_SECRETS)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
});
afterAll(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

const logger = memoryLogger();
const pool = createStdioPool({ logger });
afterAll(() => pool.close());

test("the child's environment is the named variables plus the safe base, nothing of the parent", async () => {
  const config = fixtureConfig("serve", { API_KEY: "{apiKey}", WORKSPACE: "{additional.workspace}" });
  const req = request(config, {
    credential: { apiKey: "sk-live-abcdef123456", additional: { workspace: "w1" } },
  });
  const result = await pool.use(req, (c) => c.callTool({ name: "env", arguments: {} }));
  if (!result.ok) throw new Error(result.error.message);
  const { env, cwd } = JSON.parse(text(result.value)) as { env: Record<string, string>; cwd: string };
  expect(Object.keys(env).sort()).toEqual(["API_KEY", "HOME", "LANG", "PATH", "TMPDIR", "WORKSPACE"]);
  expect(env.API_KEY).toBe("sk-live-abcdef123456");
  expect(env.WORKSPACE).toBe("w1");
  expect(env.PATH).toBe("/usr/local/bin:/usr/bin:/bin");
  expect(env.HOME).toMatch(/mcp-stdio-/);
  expect(env.HOME).not.toBe(process.env.HOME);
  // Its working directory is its private home: no project .env or bunfig.toml is picked up.
  expect(cwd).toBe(env.HOME ?? "");
  for (const secret of Object.values(PLATFORM_SECRETS)) expect(text(result.value)).not.toContain(secret);
});

test("two credentials get different homes", async () => {
  const config = fixtureConfig("serve");
  const homes = await Promise.all(
    [request(config), request(config)].map(async (req) => {
      const r = await pool.use(req, (c) => c.callTool({ name: "env", arguments: {} }));
      if (!r.ok) throw new Error(r.error.message);
      return (JSON.parse(text(r.value)) as { env: Record<string, string> }).env.HOME;
    }),
  );
  expect(homes[0]).not.toBe(homes[1]);
});

test("stderr reaches the log line by line with the credential's key redacted", async () => {
  const apiKey = "sk-live-zzzz-9876543210";
  const req = request(fixtureConfig("serve", { API_KEY: "{apiKey}" }), { credential: { apiKey } });
  const result = await pool.use(req, (c) => c.callTool({ name: "stderr", arguments: {} }));
  expect(result.ok).toBe(true);
  const mine = () => logger.lines.filter((l) => l.fields?.slot === `test/${req.credentialId}`);
  expect(await waitFor(() => mine().some((l) => String(l.fields?.line).includes("calling upstream")))).toBe(
    true,
  );
  const lines = mine().map((l) => String(l.fields?.line));
  expect(lines).toContain("calling upstream with key [redacted] now");
  expect(lines).toContain("fixture starting with key [redacted]");
  expect(JSON.stringify(logger.lines)).not.toContain(apiKey);
});

test("a credential id asked for by another user is refused", async () => {
  const config = fixtureConfig("serve");
  const first = request(config, { credentialId: "shared-id", userId: "owner" });
  expect((await pool.use(first, (c) => c.ping())).ok).toBe(true);
  const other = await pool.acquire({ ...first, userId: "intruder" });
  expect(!other.ok && other.error.code).toBe("FORBIDDEN");
});

test("stderr lines are bounded in length and in rate", () => {
  const out: Array<{ line: string; dropped: number }> = [];
  const sink = createStderrSink(
    (line, dropped) => out.push({ line, dropped }),
    createRedactor(["secret-value-1"]),
    { maxLineChars: 20, linesPerSecond: 1, burst: 3 },
  );
  sink.write(Buffer.from(`${"x".repeat(50)} secret-value-1\nb\nc\nd\ne\n`));
  expect(out).toHaveLength(3);
  expect(out[0]?.line.startsWith("x".repeat(20))).toBe(true);
  expect(out[0]?.line).toContain("more chars");
  expect(out.map((o) => o.line).join("")).not.toContain("secret-value-1");
  sink.end();
});

test("a line too long to hold is let out in pieces cut outside any secret: no piece holds part of the key", () => {
  const secret = "sk_live_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0123456789";
  const redactor = createRedactor([secret]);
  // The key arrives in two chunks, the first of which overflows what a line may hold; wherever the chunks split it.
  for (const split of [1, 2, 8, 20, 30, secret.length - 1]) {
    const lines: string[] = [];
    const sink = createStderrSink((line) => lines.push(line), redactor, {
      ...DEFAULT_STDERR_LIMITS,
      burst: 1_000,
    });
    sink.write(Buffer.from("a".repeat(16_384 + redactor.longest) + secret.slice(0, split)));
    sink.write(Buffer.from(`${secret.slice(split)} end\n`));
    sink.end();
    const logged = lines.join("\n");
    // No run of the key's characters survives: its tail (which no pattern matches alone) least of all.
    for (const part of [secret, secret.slice(-12), secret.slice(0, 12)])
      expect({ split, part, logged: logged.includes(part) }).toEqual({ split, part, logged: false });
    expect(lines.at(-1)).toEndWith(`${REDACTED} end`);
  }
});
