// `bun run services:import` end to end: the real command writes a definition from an OpenAPI document, the
// registry loads it, and its tools call a fake of the API. Every refusal: one line, exit 1, nothing written.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { executeTool, loadRegistry, type ServiceDefinition, validateKey } from "@mcp/services";
import { outputOf } from "./client.ts";
import { type FakeUpstream, json, startFakeUpstream } from "./fakes/upstream.ts";

const root = resolve(import.meta.dir, "..");
const fixtures = join(import.meta.dir, "fixtures", "openapi");
const work = mkdtempSync(join(tmpdir(), "openapi-import-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function importCli(...args: string[]): Promise<Run> {
  const proc = Bun.spawn(["bun", "run", "packages/services/bin/import.ts", ...args], {
    cwd: root,
    stdout: "pipe",
    stderr: "pipe",
  });
  return outputOf(proc);
}

let dirs = 0;
/** A fresh, empty output folder. */
function outDir(): string {
  const dir = join(work, `out-${++dirs}`);
  mkdirSync(dir);
  return dir;
}

/** Every file under `dir`, relative. */
function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

describe("services:import on the Swagger Petstore (a real published document)", () => {
  test("writes a definition the registry loads, with the expected tools", async () => {
    const out = outDir();
    const run = await importCli(join(fixtures, "petstore.json"), "--type", "petstore", "--out", out);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      [
        `wrote ${join(out, "petstore", "config.json")}: 17 tools for Swagger Petstore (prefix "petstore", port 3200, header auth)`,
        "validation: GET /store/inventory (getInventory): the first GET operation without required parameters that takes the key",
        "7 warning(s) above: review the definition before shipping it",
        "",
      ].join("\n"),
    );
    expect(run.stderr).toContain(
      "warning: uploadFile: skipped; its request body is multipart/form-data (only JSON and urlencoded forms are supported)\n",
    );
    // Keys never travel in clear text: the document's http server becomes https, with a warning.
    expect(run.stderr).toContain(
      "warning: base URL http://petstore.swagger.io/v2 is plain http; the definition uses https://petstore.swagger.io/v2",
    );
    expect(files(out)).toEqual(["petstore/config.json"]);
    const written = JSON.parse(readFileSync(join(out, "petstore", "config.json"), "utf8"));
    expect(resolve(join(out, "petstore"), written.$schema)).toBe(
      join(root, "packages", "services", "definition.schema.json"),
    );
    const service = loadRegistry([out], {}).get("petstore");
    expect(service?.baseUrl).toBe("https://petstore.swagger.io/v2");
    // The Petstore's own key scheme: the `api_key` header (an underscore is a valid header name).
    expect(service?.auth).toEqual({ type: "header", name: "api_key" });
    expect(service?.mcpTools.map((t) => t.name)).toEqual([
      "add_pet",
      "update_pet",
      "find_pets_by_status",
      "find_pets_by_tags",
      "get_pet_by_id",
      "update_pet_with_form",
      "delete_pet",
      "get_inventory",
      "place_order",
      "get_order_by_id",
      "delete_order",
      "create_user",
      "login_user",
      "logout_user",
      "get_user_by_name",
      "update_user",
      "delete_user",
    ]);
    expect(service?.mcpTools.find((t) => t.name === "delete_pet")?.annotations).toMatchObject({
      destructiveHint: true,
      readOnlyHint: false,
      openWorldHint: true,
    });
  });
});

describe("services:import on a hand-written OpenAPI 3.1 YAML, called against a fake server", () => {
  const notes = new Map<string, Record<string, unknown>>();
  let fake: FakeUpstream;
  let service: ServiceDefinition;
  let out: string;

  beforeAll(async () => {
    notes.set("n1", { id: "n1", title: "Milk", body: null, tags: ["home"], pinned: false, version: 3 });
    fake = await startFakeUpstream((req) => {
      if (req.method === "GET" && req.path === "/v1/me") return json({ id: "u1", name: "Ada" });
      if (req.path === "/v1/notes" && req.method === "GET") {
        const list = [...notes.values()].filter(
          (n) => !req.query.tag || (n.tags as string[]).includes(req.query.tag),
        );
        return json(list.slice(0, Number(req.query.limit ?? 50)));
      }
      if (req.path === "/v1/notes" && req.method === "POST") {
        const note = { id: "n2", version: 1, ...(req.body as Record<string, unknown>) };
        notes.set("n2", note);
        return json(note, 201);
      }
      const id = /^\/v1\/notes\/([^/]+)$/.exec(req.path)?.[1];
      const note = id === undefined ? undefined : notes.get(id);
      if (id === undefined || note === undefined) return json({ message: "no such note" }, 404);
      if (req.method === "GET") return json(note);
      if (req.method === "PATCH") {
        if (Number(req.query.version) !== note.version) return json({ message: "stale version" }, 409);
        Object.assign(note, req.body as Record<string, unknown>);
        return json(note);
      }
      if (req.method === "DELETE") {
        notes.delete(id);
        return new Response(null, { status: 204 });
      }
      return json({ message: "method not allowed" }, 405);
    });
    out = outDir();
    const run = await importCli(join(fixtures, "notes-api.yaml"), "--type", "notes", "--out", out);
    expect(run).toEqual({
      code: 0,
      stdout: [
        `wrote ${join(out, "notes", "config.json")}: 6 tools for Notes API (prefix "notes", port 3200, bearer auth)`,
        "validation: GET /me (getCurrentUser): the first GET operation without required parameters that takes the key",
        "",
      ].join("\n"),
      stderr: "",
    });
    const loaded = loadRegistry([out], { SERVICE_NOTES_BASE_URL: `${fake.url}/v1` }).get("notes");
    if (!loaded) throw new Error("notes did not load");
    service = loaded;
  });
  afterAll(() => fake.stop());

  const last = () => fake.requests[fake.requests.length - 1];

  test("the definition as written", () => {
    const written = JSON.parse(readFileSync(join(out, "notes", "config.json"), "utf8"));
    expect(written).toMatchObject({
      version: 1,
      type: "notes",
      name: "Notes API",
      prefix: "notes",
      port: 3200,
      description: "Keep short notes, tag them and find them again.",
      docsUrl: "https://notes.example.com/docs/api",
      keyUrl: "https://notes.example.com/docs/api",
      baseUrl: "https://eu.notes.example.com/v1",
      auth: { type: "bearer" },
      validation: { method: "GET", path: "/me" },
    });
    expect(service.mcpTools.map((t) => [t.name, t.title])).toEqual([
      ["get_current_user", "Get the current user"],
      ["list_notes", "List notes"],
      ["create_note", "Create a note"],
      ["get_note", "Get a note"],
      ["update_note", "Update a note"],
      ["delete_note", "Delete a note"],
    ]);
    const create = service.getTool("create_note");
    expect(create?.inputSchema.required).toEqual(["title"]);
    expect(Object.keys(create?.inputSchema.properties ?? {})).toEqual([
      "X_Request_Id",
      "title",
      "body",
      "tags",
      "pinned",
    ]);
    expect(service.getTool("update_note")?.request).toEqual({
      method: "PATCH",
      path: "/notes/{noteId}",
      query: ["version"],
      body: { title: "title", body: "body", version: "body_version" },
      bodyEncoding: "json",
    });
  });

  test("the validation request checks the key", async () => {
    expect(await validateKey(service, "key-1")).toEqual({ ok: true });
    expect(last()).toMatchObject({ method: "GET", path: "/v1/me" });
    expect(last()?.headers.authorization).toBe("Bearer key-1");
  });

  test("GET with query parameters", async () => {
    const result = await executeTool(service, "list_notes", { tag: "home", limit: 5, q: "milk" }, "key-1");
    expect(result).toMatchObject({ ok: true, status: 200, data: [{ id: "n1", title: "Milk" }] });
    expect(last()).toMatchObject({
      method: "GET",
      path: "/v1/notes",
      query: { tag: "home", limit: "5", q: "milk" },
    });
    expect(last()?.headers.authorization).toBe("Bearer key-1");
  });

  test("POST with a JSON body from a $ref'd schema and a header parameter", async () => {
    const result = await executeTool(
      service,
      "create_note",
      { title: "Eggs", tags: ["home", "idea"], pinned: true, X_Request_Id: "req-1" },
      "key-1",
    );
    expect(result).toMatchObject({ ok: true, status: 201, data: { id: "n2", title: "Eggs" } });
    expect(last()).toMatchObject({
      method: "POST",
      path: "/v1/notes",
      body: { title: "Eggs", tags: ["home", "idea"], pinned: true },
    });
    expect(last()?.headers["x-request-id"]).toBe("req-1");
    expect(last()?.headers["content-type"]).toStartWith("application/json");
    expect(last()?.headers.authorization).toBe("Bearer key-1");
  });

  test("PATCH: a path parameter, a query parameter and a renamed body field", async () => {
    const result = await executeTool(
      service,
      "update_note",
      { noteId: "n1", version: 3, body_version: 4, title: "Oat milk" },
      "key-1",
    );
    expect(result).toMatchObject({
      ok: true,
      status: 200,
      data: { id: "n1", title: "Oat milk", version: 4 },
    });
    expect(last()).toMatchObject({
      method: "PATCH",
      path: "/v1/notes/n1",
      query: { version: "3" },
      body: { title: "Oat milk", version: 4 },
    });
    const stale = await executeTool(
      service,
      "update_note",
      { noteId: "n1", version: 3, title: "x" },
      "key-1",
    );
    expect(stale).toEqual({
      ok: false,
      error: "UPSTREAM_ERROR",
      status: 409,
      message: "Notes API error 409: stale version",
    });
  });

  test("inputs are checked against the converted schema before any request", async () => {
    const before = fake.requests.length;
    expect(await executeTool(service, "get_note", {}, "key-1")).toMatchObject({
      ok: false,
      error: "BAD_REQUEST",
    });
    expect(await executeTool(service, "get_note", { noteId: "../me" }, "key-1")).toMatchObject({
      ok: false,
      error: "BAD_REQUEST",
    });
    expect(await executeTool(service, "list_notes", { tag: "garden" }, "key-1")).toMatchObject({
      ok: false,
      error: "BAD_REQUEST",
    });
    expect(await executeTool(service, "list_notes", { limit: 101 }, "key-1")).toMatchObject({
      ok: false,
      error: "BAD_REQUEST",
    });
    expect(fake.requests.length).toBe(before);
  });

  test("DELETE, then the note is gone", async () => {
    expect(await executeTool(service, "delete_note", { noteId: "n1" }, "key-1")).toMatchObject({
      ok: true,
      status: 204,
    });
    expect(last()).toMatchObject({ method: "DELETE", path: "/v1/notes/n1", text: "" });
    expect(await executeTool(service, "get_note", { noteId: "n1" }, "key-1")).toEqual({
      ok: false,
      error: "UPSTREAM_ERROR",
      status: 404,
      message: "Notes API error 404: no such note",
    });
  });

  test("an existing output is refused unless --force, which keeps its prefix and port", async () => {
    const file = join(out, "notes", "config.json");
    const before = readFileSync(file, "utf8");
    const refused = await importCli(join(fixtures, "notes-api.yaml"), "--type", "notes", "--out", out);
    expect(refused).toEqual({
      code: 1,
      stdout: "",
      stderr: `error: ${file} already exists; pass --force to overwrite it\n`,
    });
    expect(readFileSync(file, "utf8")).toBe(before);
    writeFileSync(file, before.replace('"port": 3200', '"port": 3299'));
    const forced = await importCli(
      join(fixtures, "notes-api.yaml"),
      "--type",
      "notes",
      "--out",
      out,
      "--force",
    );
    expect(forced.code).toBe(0);
    expect(readFileSync(file, "utf8")).toBe(before.replace('"port": 3200', '"port": 3299'));
    expect(files(out)).toEqual(["notes/config.json"]);
  });
});

describe("services:import refusals: one line on stderr, exit 1, nothing written", () => {
  const doc = (extra: Record<string, unknown> = {}) =>
    JSON.stringify({
      openapi: "3.0.3",
      info: { title: "T", version: "1" },
      servers: [{ url: "https://api.example.com" }],
      paths: { "/a": { get: { responses: { "200": { description: "ok" } } } } },
      ...extra,
    });
  const inputs: Record<string, string> = {
    "ok.json": doc(),
    "hello.json": JSON.stringify({ hello: 1 }),
    "broken.yaml": "openapi: [3.0\n  x: : :\n",
    "invalid.json": doc({ info: { title: "T" } }),
    "swagger.json": JSON.stringify({ swagger: "2.0", info: { title: "T", version: "1" }, paths: {} }),
    "relative.json": doc({ servers: [{ url: "/api/v3" }] }),
    "query.json": doc({ servers: [{ url: "https://api.example.com/v1?format=json" }] }),
    "userinfo.json": doc({ servers: [{ url: "https://admin:hunter2@api.example.com" }] }),
    "short-version.yaml": "openapi: 3.1\ninfo: {title: T, version: '1'}\npaths: {}\n",
    // A $ref that would read a file outside the document's folder (a vendor's document naming ../.env).
    "escape.json": doc({
      paths: {
        "/me": {
          get: {
            operationId: "getMe",
            description: { $ref: "../outside.env" },
            responses: { "200": { description: "ok" } },
          },
        },
      },
    }),
    "circular.json": doc({
      paths: {
        "/tree": {
          post: {
            operationId: "plantTree",
            requestBody: {
              content: { "application/json": { schema: { $ref: "#/components/schemas/Node" } } },
            },
            responses: { "200": { description: "ok" } },
          },
        },
      },
      components: {
        schemas: {
          Node: {
            type: "object",
            properties: {
              name: { type: "string" },
              children: { type: "array", items: { $ref: "#/components/schemas/Node" } },
            },
          },
        },
      },
    }),
  };
  const input = (name: string) => join(work, "inputs", name);
  beforeAll(() => {
    mkdirSync(join(work, "inputs"));
    writeFileSync(join(work, "outside.env"), "ENCRYPTION_KEYS=v1:not-for-you\n");
    for (const [name, text] of Object.entries(inputs)) writeFileSync(input(name), text);
  });

  const cases: [string, () => string[], () => string][] = [
    [
      "a missing file",
      () => [input("nope.yaml"), "--type", "tt"],
      () => `cannot read ${input("nope.yaml")}: no such file`,
    ],
    [
      "neither JSON nor YAML",
      () => [input("broken.yaml"), "--type", "tt"],
      () => `${input("broken.yaml")} is not valid JSON or YAML: YAML Parse error: Multiline implicit key`,
    ],
    [
      "not OpenAPI",
      () => [input("hello.json"), "--type", "tt"],
      () => 'not an OpenAPI document: it has no "openapi" field',
    ],
    [
      "an OpenAPI document that fails validation",
      () => [input("invalid.json"), "--type", "tt"],
      () =>
        "not a valid OpenAPI 3.0.3 document: Swagger schema validation failed. #/info must have required property 'version'",
    ],
    [
      "Swagger 2.0",
      () => [input("swagger.json"), "--type", "tt"],
      () => "Swagger 2.0 is not supported; convert it to OpenAPI 3 first, e.g. with swagger2openapi",
    ],
    [
      "a device that never ends (never a hang)",
      () => ["/dev/zero", "--type", "tt"],
      () => "cannot read /dev/zero: not a regular file",
    ],
    [
      "a YAML version read as a number",
      () => [input("short-version.yaml"), "--type", "tt"],
      () => '"openapi" must be the full version as a string, e.g. "3.1.0" or "3.0.3" (it is 3.1)',
    ],
    [
      "a server URL with a query (every tool's path would land in it)",
      () => [input("query.json"), "--type", "tt"],
      () =>
        `servers[0].url "https://api.example.com/v1?format=json" has a query or fragment, which a base URL cannot keep (every tool's path is appended to it); pass --base-url <https://...> without it`,
    ],
    [
      "a server URL with a password (never written, never printed)",
      () => [input("userinfo.json"), "--type", "tt"],
      () =>
        "servers[0].url holds a user name or password, which never go in a definition; pass --base-url <https://...> without them",
    ],
    [
      "a type that reads the same SERVICE_* settings as one in the registry",
      () => [input("ok.json"), "--type", "github_mcp"],
      () =>
        'the type "github_mcp" would read the same SERVICE_GITHUB_MCP_* settings as "github-mcp" (packages/services/definitions/github-mcp/config.json), and the registry refuses both; choose another --type',
    ],
    [
      "the type of users' own MCP servers",
      () => [input("ok.json"), "--type", "custom"],
      () => `the type "custom" is reserved (users' own MCP servers); choose another --type`,
    ],
    [
      "a relative server URL without --base-url",
      () => [input("relative.json"), "--type", "tt"],
      () => 'servers[0].url "/api/v3" is relative; pass --base-url <https://...>',
    ],
    [
      "a $ref to a file outside the document's folder",
      () => [input("escape.json"), "--type", "tt"],
      () =>
        `not a valid OpenAPI 3.0.3 document: the $ref ${join(work, "outside.env")} is outside the document's folder; only files beside it are read`,
    ],
    [
      "--type missing",
      () => [input("ok.json")],
      () => "--type is required: the new service's type, e.g. --type petstore",
    ],
    [
      "--type invalid",
      () => [input("ok.json"), "--type", "My API"],
      () =>
        '--type "My API" is invalid: use 2-32 characters, a lowercase letter first, then lowercase letters, digits, "-" or "_"',
    ],
    [
      "a type already in the registry",
      () => [input("ok.json"), "--type", "figma"],
      () =>
        'the type "figma" is already in the registry (packages/services/definitions/figma/config.json); choose another --type',
    ],
    [
      "no document",
      () => ["--type", "tt"],
      () =>
        "no OpenAPI document given (usage: bun run services:import <openapi.json|yaml> --type <name> [--out <dir>] [--base-url <url>] [--force])",
    ],
  ];

  for (const [name, args, message] of cases) {
    test(name, async () => {
      const out = outDir();
      expect(await importCli(...args(), "--out", out)).toEqual({
        code: 1,
        stdout: "",
        stderr: `error: ${message()}\n`,
      });
      expect(files(out)).toEqual([]);
    });
  }

  test("--out naming a file", async () => {
    const out = outDir();
    const file = join(out, "not-a-folder");
    writeFileSync(file, "");
    expect(await importCli(input("ok.json"), "--type", "tt", "--out", file)).toEqual({
      code: 1,
      stdout: "",
      stderr: `error: --out ${file} is not a folder\n`,
    });
    expect(files(out)).toEqual(["not-a-folder"]);
  });

  test("a recursive body field is left out; the rest of the document imports", async () => {
    const out = outDir();
    const run = await importCli(input("circular.json"), "--type", "tt", "--out", out);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(
      "warning: plantTree body.children[]: a recursive schema (circular $ref #/components/schemas/Node); left out of the input\n",
    );
    const service = loadRegistry([out], {}).get("tt");
    expect(Object.keys(service?.getTool("plant_tree")?.inputSchema.properties ?? {})).toEqual(["name"]);
  });

  test("a JSON file that starts with a byte order mark (as Windows editors save it)", async () => {
    const out = outDir();
    const file = join(work, "inputs", "bom.json");
    writeFileSync(file, `\uFEFF${doc()}`);
    const run = await importCli(file, "--type", "tt", "--out", out);
    expect(run.code).toBe(0);
    expect(files(out)).toEqual(["tt/config.json"]);
  });

  test("the same document with --base-url is accepted", async () => {
    const out = outDir();
    const run = await importCli(
      input("relative.json"),
      "--type",
      "tt",
      "--out",
      out,
      "--base-url",
      "https://x.example.com/api/v3",
    );
    expect(run.code).toBe(0);
    expect(JSON.parse(readFileSync(join(out, "tt", "config.json"), "utf8")).baseUrl).toBe(
      "https://x.example.com/api/v3",
    );
    expect(dirname(join(out, "tt", "config.json"))).toBe(join(out, "tt"));
  });
});
