// The optional `health` request of the definition format, and what the upstream check does for the kinds of
// service that have no single URL to call (a `{site}` base URL, a stdio server).
import { describe, expect, test } from "bun:test";
import { probeUpstream } from "@mcp/core";
import { type AnyServiceDefinition, loadRegistry, ServiceConfigSchema } from "@mcp/services";
import { ProxiedServiceConfigSchema } from "../packages/services/src/definition.ts";
import { STATUSY_DEFINITION } from "./fixtures/statusy.ts";

const base = STATUSY_DEFINITION;

const issuesOf = (health: unknown) => {
  const parsed = ServiceConfigSchema.safeParse({ ...base, health });
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
};

describe("definition: health", () => {
  test("optional; GET by default", () => {
    expect(ServiceConfigSchema.parse(base).health).toBeUndefined();
    expect(ServiceConfigSchema.parse({ ...base, health: { path: "/status" } }).health).toEqual({
      method: "GET",
      path: "/status",
    });
    expect(ServiceConfigSchema.parse({ ...base, health: { method: "HEAD", path: "/" } }).health).toEqual({
      method: "HEAD",
      path: "/",
    });
  });

  test("refuses a placeholder, a relative path, a query, another method and unknown fields", () => {
    expect(issuesOf({ path: "/status/{id}" })).toEqual(["health.path: cannot hold {placeholders}"]);
    expect(issuesOf({ path: "status" })).toEqual([
      "health.path: must start with / and hold no query or fragment",
    ]);
    expect(issuesOf({ path: "/status?x=1" })).toEqual([
      "health.path: must start with / and hold no query or fragment",
    ]);
    expect(issuesOf({ method: "POST", path: "/status" })).toHaveLength(1);
    expect(issuesOf({ method: "POST", path: "/status" })[0]).toStartWith("health.method:");
    expect(issuesOf({ path: "/status", headers: {} })).toHaveLength(1);
    expect(issuesOf({ path: "/status", headers: {} })[0]).toStartWith("health:");
  });

  test("a stdio server cannot name one (it is checked locally)", () => {
    const stdio = {
      ...base,
      kind: "mcp",
      transport: "stdio",
      stdio: { command: "node_modules/.bin/mcp-server-everything", args: ["stdio"] },
      health: { path: "/status" },
    };
    const { baseUrl: _b, auth: _a, validation: _v, tools: _t, ...rest } = stdio;
    const parsed = ProxiedServiceConfigSchema.safeParse(rest);
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((i) => i.code)).toEqual(["unrecognized_keys"]);
  });
});

describe("upstream checks without a URL to call", () => {
  test("a `{site}` base URL (Jira) is skipped: healthy, nothing sent", async () => {
    const jira = loadRegistry(undefined, { ENABLED_SERVICES: "jira" }).any("jira") as AnyServiceDefinition;
    expect(jira.kind === "rest" && jira.baseUrl).toBe("https://{site}");
    expect(await probeUpstream(jira, 1_000)).toEqual({ healthy: true, responseTimeMs: 0, check: "skipped" });
  });

  test("a stdio server is healthy when its command resolves, down when it is gone", async () => {
    const everything = loadRegistry(undefined, { ENABLED_SERVICES: "everything" }).any(
      "everything",
    ) as AnyServiceDefinition;
    expect(await probeUpstream(everything, 1_000)).toEqual({
      healthy: true,
      responseTimeMs: 0,
      check: "local",
    });
    if (everything.kind !== "mcp" || everything.transport !== "stdio") throw new Error("not stdio");
    const gone = { ...everything, stdio: { ...everything.stdio, command: "/nonexistent/mcp-server" } };
    expect(await probeUpstream(gone, 1_000)).toEqual({
      healthy: false,
      responseTimeMs: 0,
      check: "local",
      error: "command not found",
    });
  });
});
