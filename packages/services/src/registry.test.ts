import { afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ServiceConfig, ServiceConfigSchema } from "./definition.ts";
import { baseUrlEnvName, DEFINITIONS_DIR, loadRegistry } from "./registry.ts";
import { definitionJsonSchema, SCHEMA_FILE } from "./schema-file.ts";

const figmaFile = new URL("../definitions/figma/config.json", import.meta.url);
const figmaConfig = () => ServiceConfigSchema.parse(JSON.parse(readFileSync(figmaFile, "utf8")));
function tool(config: ServiceConfig, i: number) {
  const found = config.tools[i];
  if (!found) throw new Error(`fixture has no tool ${i}`);
  return found;
}
const temps: string[] = [];

function dirWith(configs: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), "services-"));
  temps.push(dir);
  for (const [folder, config] of Object.entries(configs)) {
    mkdirSync(join(dir, folder));
    writeFileSync(
      join(dir, folder, "config.json"),
      typeof config === "string" ? config : JSON.stringify(config),
    );
  }
  return dir;
}

afterEach(() => {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("loadRegistry", () => {
  test("loads figma with its tools, validators and MCP tool list", () => {
    const registry = loadRegistry(undefined, {});
    const figma = registry.get("figma");
    expect(registry.has("figma")).toBe(true);
    expect(registry.list().map((s) => s.type)).toContain("figma");
    expect(figma?.prefix).toBe("fig");
    expect(figma?.baseUrl).toBe("https://api.figma.com");
    expect(figma?.auth).toEqual({ type: "header", name: "X-Figma-Token" });
    expect(figma?.mcpTools.map((t) => t.name)).toEqual([
      "get_me",
      "get_file",
      "get_file_nodes",
      "get_comments",
      "post_comment",
      "get_images",
    ]);
    const post = figma?.mcpTools.find((t) => t.name === "post_comment");
    expect(post?.annotations?.readOnlyHint).toBe(false);
    expect(Object.keys(post ?? {}).sort()).toEqual([
      "annotations",
      "description",
      "inputSchema",
      "name",
      "title",
    ]);
    expect(post?.title).toBe("Post comment");
    expect(post?.annotations?.title).toBe("Post comment");
    expect(figma?.getTool("get_file")?.cacheTtlMs).toBe(30000);
    expect(figma?.getTool("post_comment")?.cacheTtlMs).toBeUndefined();
  });

  test("unknown type is undefined", () => {
    const registry = loadRegistry(undefined, {});
    expect(registry.get("nope")).toBeUndefined();
    expect(registry.has("nope")).toBe(false);
  });

  test("SERVICE_<TYPE>_BASE_URL overrides the upstream", () => {
    expect(baseUrlEnvName("my-svc")).toBe("SERVICE_MY_SVC_BASE_URL");
    const registry = loadRegistry(undefined, { SERVICE_FIGMA_BASE_URL: "http://127.0.0.1:9999" });
    expect(registry.get("figma")?.baseUrl).toBe("http://127.0.0.1:9999");
    expect(() => loadRegistry(undefined, { SERVICE_FIGMA_BASE_URL: "ftp://x" })).toThrow(
      "SERVICE_FIGMA_BASE_URL",
    );
  });

  test("a broken definition names the file and the field", () => {
    const config = figmaConfig();
    // Object.assign writes values the types forbid, which is the point here.
    Object.assign(tool(config, 0).request, { method: "FETCH" });
    const dir = dirWith({ figma: config });
    expect(() => loadRegistry(dir, {})).toThrow(
      /figma\/config\.json: tools\.0\.request\.method: Invalid option/,
    );
  });

  test.each<[string, (c: ServiceConfig) => void, string]>([
    [
      "path placeholder not declared",
      (c) => {
        tool(c, 1).request.path = "/v1/files/{key}";
      },
      "tools.1.request.path",
    ],
    [
      "unbounded string",
      (c) => {
        const key = tool(c, 1).inputSchema.properties.file_key;
        if (key?.type === "string") delete key.maxLength;
      },
      "tools.1.inputSchema.properties.file_key.maxLength",
    ],
    [
      "extra field",
      (c) => {
        Object.assign(tool(c, 0), { colour: "red" });
      },
      "tools.0: Unrecognized key",
    ],
    [
      "bad prefix",
      (c) => {
        c.prefix = "FIG1";
      },
      "prefix:",
    ],
    [
      "open input schema",
      (c) => {
        Object.assign(tool(c, 0).inputSchema, { additionalProperties: true });
      },
      "tools.0.inputSchema.additionalProperties",
    ],
    [
      "input sent as the Host header",
      (c) => {
        const t = tool(c, 1);
        t.request.headers = { Host: "file_key" };
      },
      "tools.1.request.headers.Host: this header cannot be set",
    ],
    [
      "a plain-http base URL",
      (c) => {
        c.baseUrl = "http://api.figma.com";
      },
      "baseUrl: must be an https URL",
    ],
    [
      "link pagination on a POST",
      (c) => {
        tool(c, 4).pagination = { type: "link" };
      },
      "tools.4.pagination.type: link pagination is for GET tools only",
    ],
    [
      "cached write",
      (c) => {
        tool(c, 4).cacheTtlMs = 1000;
      },
      "tools.4.cacheTtlMs",
    ],
    [
      "folder mismatch",
      (c) => {
        c.type = "other";
      },
      "type:",
    ],
  ])("rejects %s", (_label, mutate, field) => {
    const config = figmaConfig();
    mutate(config);
    const dir = dirWith({ figma: config });
    expect(() => loadRegistry(dir, {})).toThrow(`figma/config.json: ${field}`);
  });

  test("invalid JSON and duplicate prefixes name the file", () => {
    expect(() => loadRegistry(dirWith({ figma: "{ nope" }), {})).toThrow(
      /figma\/config\.json: \(file\): invalid JSON/,
    );
    const copy = { ...figmaConfig(), type: "figma-eu", port: 3199 };
    expect(() => loadRegistry(dirWith({ figma: figmaConfig(), "figma-eu": copy }), {})).toThrow(
      /figma-eu\/config\.json: prefix: "fig" is also used by figma/,
    );
  });

  test("a missing field names its path; a wrong version is refused", () => {
    const { docsUrl: _, ...noDocs } = figmaConfig();
    expect(() => loadRegistry(dirWith({ figma: noDocs }), {})).toThrow(/figma\/config\.json: .*docsUrl: /);
    expect(() => loadRegistry(dirWith({ figma: { ...figmaConfig(), version: 2 } }), {})).toThrow(
      /figma\/config\.json: version: /,
    );
  });

  test("two definitions with the same type, prefix or port: start-up fails naming both", () => {
    const first = dirWith({ figma: figmaConfig() });
    const second = dirWith({ figma: { ...figmaConfig(), prefix: "figb", port: 3199 } });
    expect(() => loadRegistry([first, second], {})).toThrow(
      /figma\/config\.json: type: "figma" is also defined by figma/,
    );
    const samePort = { ...figmaConfig(), type: "figma-b", prefix: "figb" };
    expect(() => loadRegistry(dirWith({ figma: figmaConfig(), "figma-b": samePort }), {})).toThrow(
      /figma-b\/config\.json: port: 3101 is also used by figma/,
    );
    // `my-api` and `my_api` would read the same SERVICE_MY_API_* settings.
    const dash = { ...figmaConfig(), type: "figma-b", prefix: "figb", port: 3198 };
    const underscore = { ...figmaConfig(), type: "figma_b", prefix: "figc", port: 3197 };
    expect(() => loadRegistry(dirWith({ "figma-b": dash, figma_b: underscore }), {})).toThrow(
      /type: "figma_b" has the same SERVICE_FIGMA_B_\* settings as figma-b/,
    );
  });

  test("the type and token prefix of users' own MCP servers (custom, cus) are no definition's", () => {
    expect(() =>
      loadRegistry(dirWith({ custom: { ...figmaConfig(), type: "custom", prefix: "cst" } }), {}),
    ).toThrow(/custom\/config\.json: type: "custom" is reserved for users' own MCP servers/);
    expect(() => loadRegistry(dirWith({ figma: { ...figmaConfig(), prefix: "cus" } }), {})).toThrow(
      /figma\/config\.json: prefix: "cus" is reserved for users' own MCP servers/,
    );
  });

  test("a {placeholder} in the base URL must be a non-secret additional credential with a pattern", () => {
    const site = { name: "site", label: "Site", secret: true, pattern: "[a-z]+\\.example\\.net" };
    const secretSite = { ...figmaConfig(), baseUrl: "https://{site}", additionalCredentials: [site] };
    expect(() => loadRegistry(dirWith({ figma: secretSite }), {})).toThrow(
      /baseUrl: "\{site\}" must be a non-secret additional credential with a pattern/,
    );
    const undeclared = { ...figmaConfig(), baseUrl: "https://{tenant}.example.net" };
    expect(() => loadRegistry(dirWith({ figma: undeclared }), {})).toThrow(
      /baseUrl: "\{tenant\}" is not in additionalCredentials/,
    );
  });

  test("rate limits: the definition's, overridden by SERVICE_<TYPE>_RATE_LIMIT (0 = unlimited)", () => {
    expect(loadRegistry(undefined, { ENABLED_SERVICES: "figma" }).get("figma")?.rateLimits.perMinute).toBe(
      60_000,
    );
    const env = { ENABLED_SERVICES: "figma", SERVICE_FIGMA_RATE_LIMIT: "0" };
    expect(loadRegistry(undefined, env).get("figma")?.rateLimits.perMinute).toBe(0);
    expect(() =>
      loadRegistry(undefined, { ENABLED_SERVICES: "figma", SERVICE_FIGMA_RATE_LIMIT: "lots" }),
    ).toThrow("SERVICE_FIGMA_RATE_LIMIT: must be a whole number");
  });

  test("ENABLED_SERVICES loads only the services it names", () => {
    expect(
      loadRegistry(undefined, { ENABLED_SERVICES: "figma" })
        .list()
        .map((s) => s.type),
    ).toEqual(["figma"]);
  });

  test("ENABLED_SERVICES naming a service no definition has (a typo) refuses to load", () => {
    expect(() => loadRegistry(undefined, { ENABLED_SERVICES: "figma,figmaa" })).toThrow(
      'invalid environment: ENABLED_SERVICES: no definition for "figmaa"',
    );
    // `custom`, users' own servers, has no definition and is always served: naming it is not a typo.
    expect(
      loadRegistry(undefined, { ENABLED_SERVICES: "figma,custom" })
        .list()
        .map((s) => s.type),
    ).toEqual(["figma"]);
  });
});

describe("proxied MCP servers (kind mcp)", () => {
  const proxied = {
    version: 1,
    kind: "mcp",
    type: "vendor",
    name: "Vendor",
    prefix: "ven",
    port: 3190,
    description: "A vendor's MCP server.",
    docsUrl: "https://vendor.example/docs",
    keyUrl: "https://vendor.example/keys",
    transport: "remote",
    baseUrl: "https://mcp.vendor.example/mcp",
    headers: { Authorization: "Bearer {apiKey}" },
  };

  test("load beside REST services; SERVICE_<TYPE>_BASE_URL overrides the server", () => {
    const registry = loadRegistry(dirWith({ vendor: proxied }), {
      SERVICE_VENDOR_BASE_URL: "http://127.0.0.1:9",
    });
    expect(registry.proxied("vendor")).toMatchObject({ kind: "mcp", baseUrl: "http://127.0.0.1:9" });
    expect(registry.get("vendor")).toBeUndefined();
    expect(registry.any("vendor")?.prefix).toBe("ven");
  });

  test.each<[string, Record<string, unknown>, string]>([
    ["no header carries the key", { headers: { "X-Team": "acme" } }, "headers: no header carries {apiKey}"],
    [
      "an unknown placeholder",
      { headers: { Authorization: "Bearer {apiKey}", "X-Org": "{org}" } },
      "headers.X-Org",
    ],
    [
      "a forbidden header",
      { headers: { Authorization: "Bearer {apiKey}", Host: "evil.example" } },
      "headers.Host",
    ],
    ["a plain-http server", { baseUrl: "http://mcp.vendor.example/mcp" }, "baseUrl: must be an https URL"],
    ["a missing transport", { transport: undefined }, "transport"],
  ])("refuses %s, naming the field", (_label, change, field) => {
    expect(() => loadRegistry(dirWith({ vendor: { ...proxied, ...change } }), {})).toThrow(
      `vendor/config.json: ${field}`,
    );
  });
});

describe("the shipped catalogue", () => {
  const registry = loadRegistry(undefined, {});
  const shipped = readdirSync(DEFINITIONS_DIR);

  test("eight REST services, each with at least six tools, all annotated", () => {
    const rest = registry.list().filter((s) => s.kind === "rest");
    expect(rest.map((s) => s.type)).toEqual([
      "airtable",
      "figma",
      "github",
      "jira",
      "linear",
      "notion",
      "slack",
      "stripe",
    ]);
    for (const service of rest) {
      expect(service.tools.length).toBeGreaterThanOrEqual(6);
      for (const t of service.mcpTools) {
        expect(Object.keys(t.annotations ?? {}).sort()).toEqual([
          "destructiveHint",
          "idempotentHint",
          "openWorldHint",
          "readOnlyHint",
          "title",
        ]);
      }
    }
  });

  test.each(shipped)("%s/config.json points at the schema file and is version 1", (folder) => {
    const raw = JSON.parse(readFileSync(join(DEFINITIONS_DIR, folder, "config.json"), "utf8"));
    expect(raw.$schema).toBe("../../definition.schema.json");
    expect(raw.version).toBe(1);
  });

  test("definition.schema.json is what `bun run services:schema` generates (fails when stale)", () => {
    expect(readFileSync(SCHEMA_FILE, "utf8")).toBe(definitionJsonSchema());
  });
});
