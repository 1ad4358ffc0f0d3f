// `bun run services:import` end to end through the product: a Stripe-shaped OpenAPI document (the shapes of
// Stripe's published one: Basic or Bearer, form bodies, `anyOf` with "" to clear a field, a `metadata` map,
// `expand` as a deepObject list) is imported by the real command, loaded beside the shipped definitions, and
// its tools are called by a real MCP client through the edge against the fake Stripe, with the user's key.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Client } from "@modelcontextprotocol/client";
import { outputOf } from "./client.ts";
import { type FakeStripe, startStripeFake } from "./fakes/stripe.ts";
import type { Stack } from "./harness.ts";
import { callTool, expectInvalidParams, startServiceStack, userWithInstance } from "./services/kit.ts";

const root = resolve(import.meta.dir, "..");
const work = mkdtempSync(join(tmpdir(), "import-edge-"));
const TYPE = "shop";

const ok = { "200": { description: "ok" } };
const expand = {
  name: "expand",
  in: "query",
  description: "Specifies which fields in the response should be expanded.",
  explode: true,
  style: "deepObject",
  schema: { type: "array", items: { type: "string", maxLength: 5000 } },
};
const emptyForm = {
  content: {
    "application/x-www-form-urlencoded": {
      schema: { type: "object", properties: {}, additionalProperties: false },
    },
  },
};
const document = {
  openapi: "3.0.0",
  info: { title: "Shop payments", version: "2024-06-20", description: "A Stripe-shaped API." },
  externalDocs: { url: "https://docs.shop.example/api" },
  servers: [{ url: "https://api.shop.example/" }],
  security: [{ basicAuth: [] }, { bearerAuth: [] }],
  components: {
    securitySchemes: {
      basicAuth: { type: "http", scheme: "basic", description: "The key as the user name." },
      bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "auth-scheme" },
    },
  },
  paths: {
    "/v1/balance": {
      get: { operationId: "GetBalance", parameters: [expand], requestBody: emptyForm, responses: ok },
    },
    "/v1/customers": {
      post: {
        operationId: "PostCustomers",
        summary: "Create a customer",
        requestBody: {
          required: false,
          content: {
            "application/x-www-form-urlencoded": {
              encoding: { metadata: { explode: true, style: "deepObject" } },
              schema: {
                type: "object",
                additionalProperties: false,
                properties: {
                  email: { type: "string", maxLength: 512 },
                  name: { type: "string", maxLength: 256 },
                  metadata: {
                    anyOf: [
                      { type: "object", additionalProperties: { type: "string" } },
                      { type: "string", enum: [""] },
                    ],
                    description: "Set of key-value pairs.",
                  },
                },
              },
            },
          },
        },
        responses: ok,
      },
    },
    "/v1/customers/{customer}": {
      get: {
        operationId: "GetCustomersCustomer",
        parameters: [
          { in: "path", name: "customer", required: true, schema: { type: "string", maxLength: 5000 } },
          expand,
        ],
        requestBody: emptyForm,
        responses: ok,
      },
      delete: {
        operationId: "DeleteCustomersCustomer",
        parameters: [{ in: "path", name: "customer", required: true, schema: { type: "string" } }],
        responses: ok,
      },
    },
  },
};

let fake: FakeStripe;
let stack: Stack;
let client: Client;
const key = `sk_test_fake${crypto.randomUUID().replaceAll("-", "")}`;
let account: ReturnType<FakeStripe["addKey"]>;
let importRun: { code: number; stdout: string; stderr: string };

beforeAll(async () => {
  const source = join(work, "shop.json");
  writeFileSync(source, JSON.stringify(document));
  const out = join(work, "definitions");
  mkdirSync(out);
  importRun = await outputOf(
    Bun.spawn(["bun", "run", "packages/services/bin/import.ts", source, "--type", TYPE, "--out", out], {
      cwd: root,
      stdout: "pipe",
      stderr: "pipe",
    }),
  );
  if (importRun.code !== 0) throw new Error(`import failed: ${importRun.stderr}`);
  fake = await startStripeFake();
  account = fake.addKey(key, { customers: 2 });
  stack = await startServiceStack(TYPE, fake.url, { definitionDirs: [out] });
  ({ client } = await userWithInstance(stack, TYPE, key));
});

afterAll(async () => {
  await client?.close().catch(() => {});
  await stack?.stop();
  fake?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe("an imported Stripe-shaped definition, through the edge", () => {
  test("the import: Bearer (the key alone) rather than Basic, no noise for Stripe's empty GET bodies", () => {
    expect(importRun.stdout).toStartWith(
      `wrote ${join(work, "definitions", TYPE, "config.json")}: 4 tools for Shop payments (prefix "shop", port 3200, bearer auth)\n`,
    );
    expect(importRun.stderr).toBe("");
  });

  test("tools as listed to the client: inputs, required path parameters, annotations", async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => [t.name, t.annotations?.readOnlyHint, t.annotations?.destructiveHint])).toEqual([
      ["get_balance", true, false],
      ["post_customers", false, false],
      ["get_customers_customer", true, false],
      ["delete_customers_customer", false, true],
    ]);
    const create = tools.find((t) => t.name === "post_customers");
    expect(create?.inputSchema.properties?.metadata).toMatchObject({
      type: "object",
      additionalProperties: { type: "string" },
      description: "Set of key-value pairs.",
    });
    expect(tools.find((t) => t.name === "get_customers_customer")?.inputSchema.required).toEqual([
      "customer",
    ]);
  });

  test("a form body with a metadata map reaches Stripe as metadata[key]=value, with the user's key", async () => {
    const answer = await callTool(client, "post_customers", {
      email: "ada@example.test",
      name: "Ada",
      metadata: { order: "42" },
    });
    expect(answer.isError).toBe(false);
    expect(answer.json).toMatchObject({
      object: "customer",
      email: "ada@example.test",
      metadata: { order: "42" },
    });
    expect(account.customers[0]).toMatchObject({ email: "ada@example.test", metadata: { order: "42" } });
    const sent = fake.requests.at(-1);
    expect(sent?.text).toBe("email=ada%40example.test&name=Ada&metadata%5Border%5D=42");
    expect(sent?.headers.authorization).toBe(`Bearer ${key}`);
  });

  test("expand goes as expand[]=… (Stripe refuses a bare expand)", async () => {
    const id = String(account.customers[0]?.id);
    const answer = await callTool(client, "get_customers_customer", {
      customer: id,
      expand: ["invoice_settings"],
    });
    expect(answer.isError).toBe(false);
    expect(answer.json).toMatchObject({ id, object: "customer" });
    expect(fake.requests.at(-1)?.query).toEqual({ "expand[]": "invoice_settings" });
  });

  test("input the converted schema refuses never reaches the upstream", async () => {
    const before = fake.requests.length;
    await expectInvalidParams(client, "post_customers", { metadata: { order: 42 } });
    await expectInvalidParams(client, "get_customers_customer", {});
    expect(fake.requests.length).toBe(before);
  });
});
