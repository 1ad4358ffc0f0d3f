import { describe, expect, test } from "bun:test";
import { listenOrThrow, startOrExit, startupFailureLine, withoutSecrets } from "./startup.ts";

describe("start-up failures", () => {
  test("one line `name: message`, newlines folded, long messages cut", () => {
    expect(startupFailureLine("edge", new Error("ENCRYPTION_KEYS holds no key"), {})).toBe(
      "edge: ENCRYPTION_KEYS holds no key",
    );
    expect(startupFailureLine("dev", new Error("first\n  second\r\nthird"), {})).toBe(
      "dev: first second third",
    );
    expect(startupFailureLine("dev", "thrown text", {})).toBe("dev: thrown text");
    expect(startupFailureLine("dev", new TypeError(""), {})).toBe("dev: TypeError");
    const long = startupFailureLine("dev", new Error("x".repeat(10_000)), {});
    expect(long.length).toBe(2_000);
    expect(long.endsWith("…")).toBe(true);
  });

  test("a database's error says so, never with DATABASE_URL's password", () => {
    const source = { DATABASE_URL: "postgres://app:s3cret-pw@db.internal:5433/mcp" };
    const server = Object.assign(new Error('database "mcp" does not exist'), { name: "PostgresError" });
    expect(startupFailureLine("control-plane", server, source)).toBe(
      'control-plane: PostgreSQL (DATABASE_URL): database "mcp" does not exist',
    );
    const refused = Object.assign(new Error("connect ECONNREFUSED db.internal:5433"), {
      address: "db.internal",
      port: 5433,
    });
    expect(startupFailureLine("edge", refused, source)).toStartWith(
      "edge: PostgreSQL (DATABASE_URL): connect",
    );
    // Another server on the same host (Redis, say) is not the database.
    const other = Object.assign(new Error("connect ECONNREFUSED db.internal:6379"), {
      address: "db.internal",
      port: 6379,
    });
    expect(startupFailureLine("edge", other, source)).toBe("edge: connect ECONNREFUSED db.internal:6379");
    const quoting = new Error(`cannot open ${source.DATABASE_URL} (password s3cret-pw)`);
    const line = startupFailureLine("edge", quoting, source);
    expect(line).not.toContain("s3cret-pw");
    expect(line).toContain("[redacted]");
  });

  test("no secret setting's value, URL password or key material survives", () => {
    const key = "v1:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk=";
    const source = {
      ENCRYPTION_KEYS: `v2:c2Vjb25kLWtleS1tYXRlcmlhbC0zMi1ieXRlcyE=,${key}`,
      METRICS_TOKEN: "metrics-token-value-1234",
      REDIS_URL: "redis://:redis%23pw@127.0.0.1:6379/0",
      PUBLIC_URL: "https://app.example",
    };
    const text = [
      "key QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk=",
      "token metrics-token-value-1234",
      "redis redis#pw and redis%23pw",
      "url https://someone:hunter22@elsewhere.example/x",
      "public https://app.example",
      "params: [1, 2]",
    ].join("\n");
    const out = withoutSecrets(text, source);
    for (const secret of ["QUJDREVG", "metrics-token-value", "redis#pw", "redis%23pw", "hunter22", "[1, 2]"])
      expect(out).not.toContain(secret);
    expect(out).toContain("https://someone:[redacted]@elsewhere.example/x");
    // A URL without a password is no secret: it stays readable.
    expect(out).toContain("public https://app.example");
  });

  test("startOrExit returns what the start-up returns and leaves no handler behind", async () => {
    const before = ["uncaughtException", "unhandledRejection"].map((e) => process.listenerCount(e));
    expect(await startOrExit("test", async () => 42)).toBe(42);
    expect(["uncaughtException", "unhandledRejection"].map((e) => process.listenerCount(e))).toEqual(before);
  });

  test("a listener that cannot bind names the setting to change", () => {
    const at = { host: "127.0.0.1", port: 3001, portSetting: "EDGE_PORT", hostSetting: "HOST" };
    const inUse = () => {
      throw new Error("Failed to start server. Is port 3001 in use?");
    };
    expect(() => listenOrThrow("edge", at, inUse)).toThrow(
      "could not start the edge on 127.0.0.1:3001: Failed to start server. Is port 3001 in use?; set EDGE_PORT to a free port",
    );
    const badHost = () => {
      throw new Error("EADDRNOTAVAIL: address not available");
    };
    expect(() => listenOrThrow("edge", at, badHost)).toThrow("check HOST: it must be an address");
    expect(listenOrThrow("edge", at, () => "server")).toBe("server");
  });
});
