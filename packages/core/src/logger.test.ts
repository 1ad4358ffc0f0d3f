import { describe, expect, test } from "bun:test";
import { createLogger, redact } from "./logger.ts";

describe("logger", () => {
  test("secret-named fields and token-shaped values are redacted, nested too", () => {
    const token = `mcp_fig_${"a".repeat(43)}`;
    const out = JSON.stringify(
      redact({
        apiKey: "figd_x",
        nested: { password: "p", note: `url /${token}/mcp`, list: [`mcpsk_${"b".repeat(43)}`] },
      }),
    );
    expect(out).not.toContain("figd_x");
    expect(out).not.toContain("a".repeat(43));
    expect(out).not.toContain("b".repeat(43));
    expect(out).toContain("mcp_fig_[redacted]");
  });

  test("a failed query's parameters never reach the log, in message, stack or cause", () => {
    const cause = new Error("duplicate key");
    const err = new Error(
      `Failed query: insert into "users" values ($1, $2)\nparams: usr_1,a@b.c,$argon2id$v=19$m=65536$secret`,
      {
        cause,
      },
    );
    const lines: string[] = [];
    createLogger({ write: (l) => lines.push(l) }).error("boom", { error: err });
    const line = lines.join("\n");
    expect(line).not.toContain("argon2id");
    expect(line).not.toContain("a@b.c");
    expect(line).toContain("Failed query");
    expect(line).toContain("duplicate key");
  });

  test("fields nested deeper than the walk goes are withheld, never written unredacted", () => {
    const token = `mcp_fig_${"c".repeat(43)}`;
    let deep: Record<string, unknown> = { apiKey: "figd_plain", note: `see ${token}` };
    for (let i = 0; i < 8; i++) deep = { level: deep };
    const lines: string[] = [];
    createLogger({ write: (l) => lines.push(l) }).warn("deep", { deep });
    const line = lines.join("\n");
    expect(line).not.toContain("figd_plain");
    expect(line).not.toContain("c".repeat(43));
    expect(line).toContain("[too deep]");
  });

  test("levels below the minimum are dropped", () => {
    const lines: string[] = [];
    const log = createLogger({ level: "warn", write: (l) => lines.push(l) });
    log.info("quiet");
    log.warn("loud");
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? "{}")).toMatchObject({ level: "warn", msg: "loud" });
  });
});
