import { afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ServiceConfigInput, ServiceConfigSchema } from "../definition.ts";
import { loadRegistry } from "../registry.ts";
import { formatJson } from "./format.ts";
import {
  checkConfig,
  type ImportOptions,
  importOpenApi,
  OpenApiImportError,
  SWAGGER2_MESSAGE,
} from "./import.ts";

const petstoreFile = new URL("../../../../test/fixtures/openapi/petstore.json", import.meta.url);
const petstore = () => JSON.parse(readFileSync(petstoreFile, "utf8"));
const temps: string[] = [];
afterEach(() => {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A minimal valid OpenAPI 3.0 document with `paths`, plus `extra` at the top level. */
function doc(paths: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    openapi: "3.0.3",
    info: { title: "Test API", version: "1" },
    servers: [{ url: "https://api.example.com/v1/" }],
    paths,
    ...extra,
  };
}
const ok = { responses: { "200": { description: "ok" } } };
const run = (d: unknown, opts: Partial<ImportOptions> = {}) => importOpenApi(d, { type: "test", ...opts });

async function failure(d: unknown, opts: Partial<ImportOptions> = {}): Promise<string> {
  try {
    await run(d, opts);
  } catch (err) {
    expect(err).toBeInstanceOf(OpenApiImportError);
    return (err as Error).message;
  }
  throw new Error("the import did not fail");
}

function tool(config: ServiceConfigInput, name: string) {
  const found = config.tools.find((t) => t.name === name);
  if (!found) throw new Error(`no tool ${name} in ${config.tools.map((t) => t.name).join(", ")}`);
  return found;
}

describe("importOpenApi on the Swagger Petstore (OpenAPI 3.0)", () => {
  test("a definition that parses and loads, with the expected tools", async () => {
    const { config, warnings, validation } = await run(petstore(), { type: "petstore" });
    expect(ServiceConfigSchema.safeParse(config).success).toBe(true);
    expect(config.tools.map((t) => t.name)).toEqual([
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
    expect(config).toMatchObject({
      version: 1,
      type: "petstore",
      name: "Swagger Petstore",
      prefix: "petstore",
      port: 3200,
      baseUrl: "https://petstore.swagger.io/v2",
      docsUrl: "http://swagger.io",
      keyUrl: "http://swagger.io",
      // api_key's header name has an underscore, which definitions do not accept: the OAuth 2 scheme wins.
      auth: { type: "bearer" },
      validation: { method: "GET", path: "/store/inventory" },
    });
    expect(config.keyHelp).toContain("OAuth 2.0");
    expect(validation).toBe(
      "GET /store/inventory (getInventory): the first GET operation without required parameters",
    );
    expect(warnings).toContain(
      "uploadFile: skipped; its request body is multipart/form-data (only JSON and urlencoded forms are supported)",
    );
    expect(warnings).toContain(
      "createUsersWithArrayInput: skipped; its request body is an array, and tools send an object",
    );

    const add = tool(config, "add_pet");
    expect(add.title).toBe("Add a new pet to the store");
    expect(add.request).toEqual({
      method: "POST",
      path: "/pet",
      body: ["category", "name", "photoUrls", "tags", "status"],
    });
    expect(add.inputSchema.required).toEqual(["name", "photoUrls"]);
    expect(add.annotations).toEqual({
      readOnlyHint: false,
      destructiveHint: false,
      idempotentHint: false,
      openWorldHint: true,
    });
    expect(tool(config, "get_pet_by_id").request).toEqual({ method: "GET", path: "/pet/{petId}" });
    expect(tool(config, "get_pet_by_id").annotations).toMatchObject({
      readOnlyHint: true,
      idempotentHint: true,
    });
    expect(tool(config, "delete_pet").annotations).toMatchObject({
      destructiveHint: true,
      idempotentHint: true,
    });
    expect(tool(config, "update_user").annotations).toMatchObject({
      readOnlyHint: false,
      idempotentHint: true,
    });
    expect(tool(config, "update_pet_with_form").request).toEqual({
      method: "POST",
      path: "/pet/{petId}",
      body: ["name", "status"],
      bodyEncoding: "form",
    });
    // The body's `username` collides with the path parameter: renamed and mapped.
    expect(tool(config, "update_user").request.body).toMatchObject({
      username: "body_username",
      email: "email",
    });
    expect(tool(config, "find_pets_by_status").inputSchema.properties.status).toMatchObject({
      type: "array",
      maxItems: 100,
      items: { type: "string", enum: ["available", "pending", "sold"] },
    });
    for (const t of config.tools) expect(t).not.toHaveProperty("cacheTtlMs");

    // And the registry loads it as written.
    const dir = mkdtempSync(join(tmpdir(), "openapi-"));
    temps.push(dir);
    mkdirSync(join(dir, "petstore"));
    writeFileSync(join(dir, "petstore", "config.json"), formatJson(config));
    const service = loadRegistry([dir], {}).get("petstore");
    expect(service?.mcpTools).toHaveLength(17);
    expect(service?.getTool("login_user")?.validateInput({ username: "u", password: "p" }).ok).toBe(true);
  });

  test("prefix and port avoid the registry's", async () => {
    const { config } = await run(petstore(), {
      type: "petstore",
      existing: [
        { type: "figma", prefix: "fig", port: 3101 },
        { type: "other", prefix: "petstore", port: 3200 },
      ],
    });
    expect(config.prefix).toBe("petstor");
    expect(config.port).toBe(3201);
  });
});

describe("importOpenApi: credentials", () => {
  const secured = (schemes: Record<string, unknown>, security?: unknown[]) =>
    doc({ "/me": { get: ok } }, { components: { securitySchemes: schemes }, ...(security && { security }) });

  test("http bearer → bearer", async () => {
    const { config } = await run(secured({ t: { type: "http", scheme: "bearer" } }, [{ t: [] }]));
    expect(config.auth).toEqual({ type: "bearer" });
  });

  test("http basic → basic with a username field that is not secret", async () => {
    const { config } = await run(secured({ b: { type: "http", scheme: "basic" } }, [{ b: [] }]));
    expect(config.auth).toEqual({ type: "basic", username: "username" });
    expect(config.additionalCredentials).toEqual([
      {
        name: "username",
        label: "Username",
        description: "The HTTP Basic username sent with the key.",
        secret: false,
      },
    ]);
  });

  test("apiKey in a header or the query", async () => {
    const header = await run(
      secured({ k: { type: "apiKey", in: "header", name: "X-API-Key" } }, [{ k: [] }]),
    );
    expect(header.config.auth).toEqual({ type: "header", name: "X-API-Key" });
    const query = await run(secured({ k: { type: "apiKey", in: "query", name: "api_key" } }, [{ k: [] }]));
    expect(query.config.auth).toEqual({ type: "query", name: "api_key" });
  });

  test("the first global scheme wins; without one, the most used", async () => {
    const schemes = {
      a: { type: "apiKey", in: "header", name: "X-A" },
      b: { type: "http", scheme: "bearer" },
    };
    expect((await run(secured(schemes, [{ b: [] }, { a: [] }]))).config.auth).toEqual({ type: "bearer" });
    const mostUsed = doc(
      {
        "/one": { get: { ...ok, security: [{ b: [] }] } },
        "/two": { get: { ...ok, security: [{ b: [] }] } },
        "/three": { get: { ...ok, security: [{ a: [] }] } },
      },
      { components: { securitySchemes: schemes } },
    );
    const { config, warnings } = await run(mostUsed);
    expect(config.auth).toEqual({ type: "bearer" });
    expect(warnings).toContain(
      'auth: the key is sent as "b"; 1 operation(s) declare only other schemes and may refuse it: GET /three',
    );
  });

  test("OAuth 2 only → bearer, with a note in keyHelp", async () => {
    const { config } = await run(
      secured(
        {
          o: {
            type: "oauth2",
            flows: { clientCredentials: { tokenUrl: "https://x.test/token", scopes: { read: "r" } } },
          },
        },
        [{ o: ["read"] }],
      ),
    );
    expect(config.auth).toEqual({ type: "bearer" });
    expect(config.keyHelp).toBe(
      'This API uses OAuth 2.0 ("o"): paste an access token obtained for it; it is sent as "Authorization: Bearer <token>". Scopes the tools may need: read.',
    );
  });

  test("the key's own header or query parameter is not an input", async () => {
    const d = doc(
      {
        "/x": {
          get: {
            ...ok,
            parameters: [
              { name: "X-API-Key", in: "header", schema: { type: "string" } },
              { name: "Accept", in: "header", schema: { type: "string" } },
              { name: "q", in: "query", schema: { type: "string" } },
            ],
          },
        },
      },
      {
        components: { securitySchemes: { k: { type: "apiKey", in: "header", name: "X-API-Key" } } },
        security: [{ k: [] }],
      },
    );
    const { config } = await run(d);
    expect(Object.keys(tool(config, "get_x").inputSchema.properties)).toEqual(["q"]);
  });
});

describe("importOpenApi: base URL, docs, validation", () => {
  test("server variables take their defaults; a trailing slash goes", async () => {
    const d = doc(
      { "/a": { get: ok } },
      {
        servers: [
          {
            url: "https://{region}.example.com/{v}/",
            variables: { region: { default: "eu" }, v: { default: "v2" } },
          },
        ],
      },
    );
    expect((await run(d)).config.baseUrl).toBe("https://eu.example.com/v2");
  });

  test("a relative server needs --base-url, which replaces it", async () => {
    const d = doc({ "/a": { get: ok } }, { servers: [{ url: "/api/v3" }] });
    expect(await failure(d)).toBe('servers[0].url "/api/v3" is relative; pass --base-url <https://...>');
    expect((await run(d, { baseUrl: "https://pets.example.com/api/v3/" })).config.baseUrl).toBe(
      "https://pets.example.com/api/v3",
    );
    expect(await failure(d, { baseUrl: "ftp://x" })).toBe('--base-url "ftp://x" is not an http(s) URL');
    const { servers: _, ...none } = doc({ "/a": { get: ok } });
    expect(await failure(none)).toBe("the document has no servers; pass --base-url <https://...>");
  });

  test("docsUrl from externalDocs, else info.contact, else the API's origin", async () => {
    const withDocs = doc({ "/a": { get: ok } }, { externalDocs: { url: "https://docs.example.com" } });
    expect((await run(withDocs)).config.docsUrl).toBe("https://docs.example.com");
    const contact = doc(
      { "/a": { get: ok } },
      { info: { title: "T", version: "1", contact: { url: "https://c.example.com" } } },
    );
    expect((await run(contact)).config.keyUrl).toBe("https://c.example.com");
    expect((await run(doc({ "/a": { get: ok } }))).config.docsUrl).toBe("https://api.example.com");
  });

  test("validation: the first GET without required parameters, else the first GET with examples", async () => {
    const params = {
      parameters: [{ name: "id", in: "path", required: true, schema: { type: "string", example: "abc" } }],
    };
    const d = doc({
      "/items/{id}": { get: { ...ok, ...params } },
      "/search": {
        get: { ...ok, parameters: [{ name: "q", in: "query", required: true, schema: { type: "string" } }] },
      },
      "/status": { get: ok },
    });
    const first = await run(d);
    expect(first.config.validation).toEqual({ method: "GET", path: "/status" });
    expect(first.validation).toBe(
      "GET /status (GET /status): the first GET operation without required parameters",
    );
    const onlyParams = await run(doc({ "/items/{id}": { get: { ...ok, ...params } } }));
    expect(onlyParams.config.validation).toEqual({ method: "GET", path: "/items/abc" });
    expect(
      onlyParams.warnings.some((w) =>
        w.startsWith("validation: GET /items/abc (GET /items/{id}) has required parameters"),
      ),
    ).toBe(true);
  });
});

describe("importOpenApi: tools", () => {
  test("names without operationId, duplicates, titles and descriptions", async () => {
    const { config } = await run(
      doc({
        "/a/{id}": {
          get: {
            ...ok,
            operationId: "fetchThing",
            summary: "Fetch",
            description: "Gets it.",
            deprecated: true,
          },
        },
        "/b": { get: { ...ok, operationId: "fetch-thing" }, post: { ...ok, description: "x".repeat(5000) } },
      }),
    );
    expect(config.tools.map((t) => t.name)).toEqual(["fetch_thing", "fetch_thing_2", "post_b"]);
    expect(config.tools[0]).toMatchObject({
      title: "Fetch",
      description: "Deprecated.\n\nFetch\n\nGets it.",
    });
    expect(config.tools[1]?.title).toBe("Fetch thing");
    expect(config.tools[2]?.title).toBe("POST /b");
    expect(config.tools[2]?.description).toHaveLength(4000);
  });

  test("odd parameter names are renamed and mapped; path params required; cookies and HEAD skipped", async () => {
    const { config, warnings } = await run(
      doc({
        "/users/{user-id}": {
          parameters: [{ name: "user-id", in: "path", required: true, schema: { type: "integer" } }],
          get: {
            ...ok,
            operationId: "getUser",
            parameters: [
              { name: "filter[role]", in: "query", schema: { type: "string", enum: ["admin", "member"] } },
              { name: "user-id", in: "query", schema: { type: "string" } },
              { name: "X-Trace", in: "header", schema: { type: "string" } },
              { name: "session", in: "cookie", schema: { type: "string" } },
            ],
          },
          head: ok,
        },
      }),
    );
    const t = tool(config, "get_user");
    expect(t.request).toEqual({
      method: "GET",
      path: "/users/{user_id}",
      query: { "filter[role]": "filter_role", "user-id": "query_user_id" },
      headers: { "X-Trace": "X_Trace" },
    });
    expect(t.inputSchema.required).toEqual(["user_id"]);
    expect(Object.keys(t.inputSchema.properties)).toEqual([
      "user_id",
      "filter_role",
      "query_user_id",
      "X_Trace",
    ]);
    expect(warnings).toContain(
      'getUser cookie parameter "session": skipped; cookie parameters are not supported',
    );
    expect(warnings).toContain("HEAD /users/{user-id}: skipped; HEAD requests are not supported");
  });

  test("body properties: $refs resolved, readOnly left out, optional when the body is", async () => {
    const d = doc(
      {
        "/things": {
          post: {
            ...ok,
            operationId: "make",
            requestBody: {
              required: true,
              content: { "application/json": { schema: { $ref: "#/components/schemas/Thing" } } },
            },
          },
          put: {
            ...ok,
            operationId: "put",
            requestBody: {
              content: { "application/merge-patch+json": { schema: { $ref: "#/components/schemas/Thing" } } },
            },
          },
        },
      },
      {
        components: {
          schemas: {
            Thing: {
              type: "object",
              required: ["name"],
              properties: {
                id: { type: "string", readOnly: true },
                name: { type: "string" },
                "first.name": { type: "string" },
              },
            },
          },
        },
      },
    );
    const { config, warnings } = await run(d);
    expect(tool(config, "make").request.body).toEqual(["name"]);
    expect(tool(config, "make").inputSchema.required).toEqual(["name"]);
    expect(tool(config, "put").inputSchema.required).toBeUndefined();
    expect(warnings).toContain(
      "make body.first.name: left out; the definition format cannot map this property name",
    );
  });

  test("a circular $ref in an input names the operation and the ref", async () => {
    const d = doc(
      {
        "/tree": {
          get: {
            operationId: "getTree",
            responses: {
              "200": {
                description: "ok",
                content: { "application/json": { schema: { $ref: "#/components/schemas/Node" } } },
              },
            },
          },
          post: {
            ...ok,
            operationId: "plantTree",
            requestBody: {
              content: { "application/json": { schema: { $ref: "#/components/schemas/Node" } } },
            },
          },
        },
      },
      {
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
      },
    );
    expect(await failure(d)).toBe(
      "operation plantTree (POST /tree) has a circular $ref in its input: #/components/schemas/Node; a recursive schema cannot become a tool input",
    );
    // In a response only, it does not matter.
    const paths = d.paths["/tree"] as Record<string, unknown>;
    delete paths.post;
    expect((await run(d)).config.tools.map((t) => t.name)).toEqual(["get_tree"]);
  });
});

describe("importOpenApi: refusals", () => {
  test("Swagger 2.0, other versions, not OpenAPI, invalid documents", async () => {
    expect(await failure({ swagger: "2.0", info: { title: "x", version: "1" }, paths: {} })).toBe(
      SWAGGER2_MESSAGE,
    );
    expect(await failure({ ...doc({}), openapi: "4.0.0" })).toBe(
      "OpenAPI 4.0.0 is not supported; only 3.0.x and 3.1.x are",
    );
    expect(await failure({ hello: 1 })).toBe('not an OpenAPI document: it has no "openapi" field');
    expect(await failure("openapi")).toBe(
      'not an OpenAPI document: expected an object with an "openapi" field',
    );
    expect(await failure({ ...doc({}), info: { title: "x" } })).toBe(
      "not a valid OpenAPI 3.0.3 document: Swagger schema validation failed. #/info must have required property 'version'",
    );
    expect(
      await failure(
        doc({ "/a": { get: { ...ok, parameters: [{ $ref: "#/components/parameters/Nope" }] } } }),
      ),
    ).toStartWith('not a valid OpenAPI 3.0.3 document: Missing $ref pointer "#/components/parameters/Nope"');
  });

  test("a bad or taken type, no usable operation", async () => {
    expect(await failure(doc({ "/a": { get: ok } }), { type: "Bad" })).toStartWith('--type "Bad" is invalid');
    expect(
      await failure(doc({ "/a": { get: ok } }), { existing: [{ type: "test", file: "x/test/config.json" }] }),
    ).toBe('the type "test" is already in the registry (x/test/config.json); choose another --type');
    expect(await failure(doc({ "/a": { head: ok } }))).toBe(
      "no operation in the document could become a tool",
    );
  });

  test("a definition that would not load is refused with its issues", () => {
    const bad = { version: 1, type: "xx" } as unknown as ServiceConfigInput;
    expect(() => checkConfig(bad)).toThrow(/^the generated definition is invalid: name: .*; prefix: /);
  });

  test("the input is not modified", async () => {
    const d = petstore();
    const before = JSON.stringify(d);
    await run(d, { type: "petstore" });
    expect(JSON.stringify(d)).toBe(before);
  });
});

describe("formatJson", () => {
  test("objects expanded, short lists of plain values on one line, long ones broken", () => {
    expect(formatJson({ a: [], b: {}, c: ["x", "y"], d: [{ e: 1 }] })).toBe(
      '{\n  "a": [],\n  "b": {},\n  "c": ["x", "y"],\n  "d": [\n    {\n      "e": 1\n    }\n  ]\n}\n',
    );
    const long = Array.from({ length: 20 }, (_, i) => `value${i}`);
    expect(formatJson({ list: long }).split("\n")).toHaveLength(1 + 1 + 20 + 1 + 1 + 1);
  });
});
