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
      // A key a user can paste (api_key, a header name with an underscore, which definitions accept)
      // rather than an OAuth 2 access token.
      auth: { type: "header", name: "api_key" },
      validation: { method: "GET", path: "/store/inventory" },
    });
    expect(config.keyHelp).toBe("The key is sent in the api_key header.");
    expect(validation).toBe(
      "GET /store/inventory (getInventory): the first GET operation without required parameters that takes the key",
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
    // PUT overwrites what is there: destructive, like DELETE.
    expect(tool(config, "update_user").annotations).toEqual({
      readOnlyHint: false,
      destructiveHint: true,
      idempotentHint: true,
      openWorldHint: true,
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
            variables: { region: { default: "eu", enum: ["eu", "us"] }, v: { default: "v2" } },
          },
        ],
      },
    );
    const { config, warnings } = await run(d);
    expect(config.baseUrl).toBe("https://eu.example.com/v2");
    expect(config.additionalCredentials).toBeUndefined();
    // A choice the document fixes (enum) goes without a word; a free one is worth checking.
    expect(warnings).toContain('servers[0].url: {v} took its default "v2" (edit baseUrl if it differs)');
    expect(warnings.some((w) => w.includes("{region}"))).toBe(false);
  });

  test("a host variable without enum (Jira's site) is each user's: a field, pinned to one DNS label", async () => {
    const d = doc(
      { "/rest/api/3/myself": { get: ok } },
      {
        components: { securitySchemes: { basic: { type: "http", scheme: "basic" } } },
        security: [{ basic: [] }],
        servers: [
          {
            url: "https://{your-domain}.atlassian.net",
            variables: { "your-domain": { default: "your-domain", description: "Your Jira site" } },
          },
        ],
      },
    );
    const { config, warnings } = await run(d);
    expect(config.baseUrl).toBe("https://{your_domain}.atlassian.net");
    expect(config.docsUrl).toBe("https://x.atlassian.net");
    expect(config.additionalCredentials?.map((f) => f.name)).toEqual(["username", "your_domain"]);
    expect(config.additionalCredentials?.[1]).toEqual({
      name: "your_domain",
      label: "Your domain",
      description:
        'Your Jira site. The part of the API\'s host name in https://<this>.atlassian.net (the document\'s example: "your-domain"): letters, digits and "-".',
      pattern: "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?",
      maxLength: 63,
      secret: false,
    });
    expect(warnings).toContain(
      'servers[0].url: {your-domain} is each user\'s own part of the host; it becomes the "your_domain" field users fill in when connecting (review its label and description)',
    );
    // The registry loads it, and the key only ever goes to <label>.atlassian.net.
    const dir = mkdtempSync(join(tmpdir(), "openapi-"));
    temps.push(dir);
    mkdirSync(join(dir, "test"));
    writeFileSync(join(dir, "test", "config.json"), formatJson(config));
    const service = loadRegistry([dir], {}).get("test");
    const field = service?.additionalCredentials.find((f) => f.name === "your_domain");
    const pinned = new RegExp(`^(?:${field?.pattern})$`);
    expect(pinned.test("acme")).toBe(true);
    expect(pinned.test("evil.com#")).toBe(false);
    expect(pinned.test("evil.com/")).toBe(false);
    // A whole host cannot be pinned: it takes its default, with a warning.
    const whole = doc(
      { "/a": { get: ok } },
      { servers: [{ url: "https://{host}/api", variables: { host: { default: "api.example.com" } } }] },
    );
    expect((await run(whole)).config.baseUrl).toBe("https://api.example.com/api");
  });

  test("a server URL with a query, a fragment or a password is refused (and the password never shown)", async () => {
    const withQuery = doc({ "/a": { get: ok } }, { servers: [{ url: "https://api.example.com/v1?x=1" }] });
    expect(await failure(withQuery)).toStartWith(
      'servers[0].url "https://api.example.com/v1?x=1" has a query or fragment',
    );
    expect(await failure(doc({ "/a": { get: ok } }), { baseUrl: "https://x.example.com/#top" })).toStartWith(
      '--base-url "https://x.example.com/#top" has a query or fragment',
    );
    const secret = doc({ "/a": { get: ok } }, { servers: [{ url: "https://me:s3cret@api.example.com" }] });
    const message = await failure(secret);
    expect(message).toBe(
      "servers[0].url holds a user name or password, which never go in a definition; pass --base-url <https://...> without them",
    );
    const notHttp = doc({ "/a": { get: ok } }, { servers: [{ url: "ftp://me:s3cret@api.example.com" }] });
    expect(await failure(notHttp)).not.toContain("s3cret");
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

  test("a circular $ref in an input: the recursion is left out, the rest of the document imports", async () => {
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
    const { config, warnings } = await run(d);
    expect(tool(config, "plant_tree").inputSchema).toEqual({
      type: "object",
      properties: { name: { type: "string", maxLength: 1000 } },
      additionalProperties: false,
    });
    expect(warnings).toContain(
      "plantTree body.children[]: a recursive schema (circular $ref #/components/schemas/Node); left out of the input",
    );
    // A body that is nothing but the recursion cannot be a tool: skipped, with a word.
    const loop = doc(
      {
        "/ab": {
          post: {
            ...ok,
            operationId: "postAb",
            requestBody: { content: { "application/json": { schema: { $ref: "#/components/schemas/A" } } } },
          },
        },
        "/ok": { get: ok },
      },
      {
        components: {
          schemas: {
            A: { allOf: [{ $ref: "#/components/schemas/B" }], properties: { a: { type: "string" } } },
            B: { allOf: [{ $ref: "#/components/schemas/A" }], properties: { b: { type: "string" } } },
          },
        },
      },
    );
    const looped = await run(loop);
    expect(looped.config.tools.map((t) => t.name)).toEqual(["get_ok"]);
    expect(looped.warnings).toContain(
      "postAb: skipped; its request body is a recursive schema (circular $ref #/components/schemas/B), which cannot become a tool input",
    );
    // Ten schemas each referring to all ten: only the outermost is expanded (every path once grew as 10^depth:
    // the import did not end in a minute); the body keeps its own fields, the recursion is left out.
    const names = Array.from({ length: 10 }, (_, i) => `S${i}`);
    const web = doc(
      {
        "/web": {
          post: {
            ...ok,
            operationId: "postWeb",
            requestBody: { content: { "application/json": { schema: { $ref: "#/components/schemas/S0" } } } },
          },
        },
      },
      {
        components: {
          schemas: Object.fromEntries(
            names.map((n) => [
              n,
              {
                type: "object",
                properties: {
                  label: { type: "string" },
                  ...Object.fromEntries(
                    names.map((m, j) => [`p${j}`, { $ref: `#/components/schemas/${m}` }]),
                  ),
                },
              },
            ]),
          ),
        },
      },
    );
    const woven = await run(web);
    const postWeb = woven.config.tools.find((t) => t.name === "post_web");
    expect(Object.keys(postWeb?.inputSchema.properties ?? {})).toEqual(["label"]);
    expect(JSON.stringify(woven.config).length).toBeLessThan(20_000);
    // In a response only, it does not matter.
    const paths = d.paths["/tree"] as Record<string, unknown>;
    delete paths.post;
    expect((await run(d)).config.tools.map((t) => t.name)).toEqual(["get_tree"]);
  });
});

describe("importOpenApi: shapes of real APIs", () => {
  test("annotations: GET reads; PUT, PATCH and DELETE may overwrite or delete; POST adds", async () => {
    const { config } = await run(doc({ "/t": { get: ok, post: ok, put: ok, patch: ok, delete: ok } }));
    expect(config.tools.map((t) => [t.request.method, t.annotations])).toEqual([
      ["GET", { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true }],
      ["POST", { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true }],
      ["PUT", { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true }],
      ["PATCH", { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true }],
      ["DELETE", { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true }],
    ]);
  });

  test("header names with an underscore (the Petstore's api_key) are keys and inputs", async () => {
    const d = doc(
      {
        "/me": {
          get: {
            ...ok,
            parameters: [
              { name: "api_key", in: "header", required: true, schema: { type: "string" } },
              { name: "X_Trace_Id", in: "header", schema: { type: "string" } },
            ],
          },
        },
      },
      {
        components: { securitySchemes: { k: { type: "apiKey", in: "header", name: "api_key" } } },
        security: [{ k: [] }],
      },
    );
    const { config, warnings, validation } = await run(d);
    expect(config.auth).toEqual({ type: "header", name: "api_key" });
    expect(tool(config, "get_me").request.headers).toEqual({ X_Trace_Id: "X_Trace_Id" });
    // The key's own header is no required input: /me is a fine key check.
    expect(validation).toBe(
      "GET /me (GET /me): the first GET operation without required parameters that takes the key",
    );
    expect(warnings).not.toContainEqual(expect.stringContaining("auth:"));
  });

  test('Stripe: Bearer over Basic, expand[] repeated, metadata a map, an object beside "" kept, no noise for empty GET bodies', async () => {
    const emptyForm = {
      content: {
        "application/x-www-form-urlencoded": {
          schema: { type: "object", properties: {}, additionalProperties: false },
        },
      },
    };
    const d = doc(
      {
        "/v1/customers": {
          get: {
            ...ok,
            operationId: "GetCustomers",
            requestBody: emptyForm,
            parameters: [
              {
                name: "expand",
                in: "query",
                style: "deepObject",
                explode: true,
                schema: { type: "array", items: { type: "string", maxLength: 5000 } },
              },
            ],
          },
          post: {
            ...ok,
            operationId: "PostCustomers",
            requestBody: {
              content: {
                "application/x-www-form-urlencoded": {
                  schema: {
                    type: "object",
                    properties: {
                      address: {
                        anyOf: [
                          {
                            type: "object",
                            properties: { city: { type: "string", maxLength: 5000 } },
                          },
                          { type: "string", enum: [""] },
                        ],
                      },
                      metadata: {
                        anyOf: [
                          { type: "object", additionalProperties: { type: "string" } },
                          { type: "string", enum: [""] },
                        ],
                      },
                    },
                  },
                },
              },
            },
          },
        },
      },
      {
        servers: [{ url: "https://api.stripe.com/" }],
        components: {
          securitySchemes: {
            basicAuth: { type: "http", scheme: "basic" },
            bearerAuth: { type: "http", scheme: "bearer" },
          },
        },
        security: [{ basicAuth: [] }, { bearerAuth: [] }],
      },
    );
    const { config, warnings } = await run(d);
    // Stripe's Basic takes the key as the user name: Bearer, which needs nothing else, is the one to use.
    expect(config.auth).toEqual({ type: "bearer" });
    expect(config.additionalCredentials).toBeUndefined();
    expect(tool(config, "get_customers").request.query).toEqual({ "expand[]": "expand" });
    expect(tool(config, "post_customers").inputSchema.properties).toEqual({
      address: {
        type: "object",
        properties: { city: { type: "string", maxLength: 5000 } },
        additionalProperties: false,
      },
      metadata: {
        type: "object",
        properties: {},
        additionalProperties: { type: "string", maxLength: 1000 },
        maxProperties: 50,
        propertyNames: { maxLength: 200 },
      },
    });
    expect(warnings.filter((w) => w.startsWith("GetCustomers") || w.startsWith("PostCustomers"))).toEqual([]);
  });

  test("Slack: a token parameter of a secured operation is the key, never an input", async () => {
    const d = doc(
      {
        "/chat.postMessage": {
          post: {
            ...ok,
            operationId: "chat_postMessage",
            security: [{ slackAuth: ["chat:write"] }],
            parameters: [{ name: "token", in: "header", required: true, schema: { type: "string" } }],
            requestBody: {
              required: true,
              content: {
                "application/x-www-form-urlencoded": {
                  schema: {
                    type: "object",
                    required: ["channel"],
                    properties: { token: { type: "string" }, channel: { type: "string" } },
                  },
                },
              },
            },
          },
        },
        "/conversations.list": {
          get: {
            ...ok,
            operationId: "conversations_list",
            security: [{ slackAuth: ["channels:read"] }],
            parameters: [{ name: "token", in: "query", required: true, schema: { type: "string" } }],
          },
        },
        // Without a key, a token is just an input (e.g. a code to exchange).
        "/oauth.exchange": {
          get: {
            ...ok,
            operationId: "oauth_exchange",
            security: [],
            parameters: [{ name: "token", in: "query", schema: { type: "string" } }],
          },
        },
      },
      {
        components: {
          securitySchemes: {
            slackAuth: {
              type: "oauth2",
              flows: {
                authorizationCode: {
                  authorizationUrl: "https://slack.com/oauth/authorize",
                  tokenUrl: "https://slack.com/api/oauth.access",
                  scopes: { "chat:write": "w", "channels:read": "r" },
                },
              },
            },
          },
        },
      },
    );
    const { config, warnings, validation } = await run(d);
    const post = tool(config, "chat_post_message");
    expect(post.inputSchema.required).toEqual(["channel"]);
    expect(Object.keys(post.inputSchema.properties)).toEqual(["channel"]);
    expect(post.request).toEqual({
      method: "POST",
      path: "/chat.postMessage",
      body: ["channel"],
      bodyEncoding: "form",
    });
    expect(tool(config, "conversations_list").inputSchema.properties).toEqual({});
    expect(Object.keys(tool(config, "oauth_exchange").inputSchema.properties)).toEqual(["token"]);
    expect(validation).toStartWith("GET /conversations.list (conversations_list)");
    expect(warnings).toContain(
      'chat_postMessage header parameter "token": left out; it looks like a credential, and the platform sends the user\'s key itself',
    );
    expect(warnings).toContain(
      "chat_postMessage body.token: left out; it looks like a credential, and the platform sends the user's key itself",
    );
  });

  test("a query parameter name the definition cannot hold is skipped, not the whole import", async () => {
    const { config, warnings } = await run(
      doc({
        "/a": {
          get: {
            ...ok,
            operationId: "getA",
            parameters: [
              { name: "", in: "query", schema: { type: "string" } },
              { name: "q".repeat(201), in: "query", schema: { type: "string" } },
              { name: "ok", in: "query", schema: { type: "string" } },
            ],
          },
        },
      }),
    );
    expect(tool(config, "get_a").request.query).toEqual(["ok"]);
    expect(warnings).toContain(
      'getA query parameter "": skipped; a query parameter name has 1 to 200 characters',
    );
  });

  test("a media type sent as plain JSON is named; renamed duplicates and skipped operations are told once", async () => {
    const body = (type: string) => ({
      content: { [type]: { schema: { type: "object", properties: { a: { type: "string" } } } } },
    });
    const paths: Record<string, unknown> = {
      "/a": { post: { ...ok, operationId: "make", requestBody: body("application/vnd.api+json") } },
      "/b": {
        post: { ...ok, operationId: "make-thing", requestBody: body("application/json; charset=utf-8") },
      },
      "/c": { post: { ...ok, operationId: "makeThing" } },
    };
    for (let i = 0; i < 205; i++) paths[`/n${i}`] = { get: { ...ok, operationId: `op${i}` } };
    const { config, warnings } = await run(doc(paths));
    expect(config.tools).toHaveLength(200);
    expect(tool(config, "make_thing_2").request.path).toBe("/c");
    expect(warnings).toContain(
      "make: its request body is application/vnd.api+json; it is sent as application/json, which a strict server may refuse",
    );
    expect(warnings).toContain(
      'makeThing: named "make_thing_2"; "make_thing" is taken by an earlier operation',
    );
    expect(warnings.filter((w) => w.includes("at most 200 tools"))).toEqual([
      "8 operation(s) skipped; a definition holds at most 200 tools: op197, op198, op199, op200, op201, ...",
    ]);
    expect(warnings.some((w) => w.startsWith("make-thing:"))).toBe(false);
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

  test("a type the registry would refuse beside another, or one the platform uses itself", async () => {
    const existing = [{ type: "my-api", prefix: "my", port: 3200, file: "defs/my-api/config.json" }];
    expect(await failure(doc({ "/a": { get: ok } }), { type: "my_api", existing })).toBe(
      'the type "my_api" would read the same SERVICE_MY_API_* settings as "my-api" (defs/my-api/config.json), and the registry refuses both; choose another --type',
    );
    expect(await failure(doc({ "/a": { get: ok } }), { type: "custom" })).toBe(
      'the type "custom" is reserved (users\' own MCP servers); choose another --type',
    );
    // Users' own servers' token prefix is never handed out, not even when an earlier import had it.
    expect((await run(doc({ "/a": { get: ok } }), { type: "cus" })).config.prefix).toBe("cu");
    expect((await run(doc({ "/a": { get: ok } }), { type: "cus", prefix: "cus" })).config.prefix).toBe("cu");
  });

  test("a YAML version read as a number", async () => {
    expect(await failure({ ...doc({}), openapi: 3.1 })).toBe(
      '"openapi" must be the full version as a string, e.g. "3.1.0" or "3.0.3" (it is 3.1)',
    );
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
