// zod → JSON Schema for the OpenAPI document: timestamps as their wire type, shared definitions hoisted.
import { describe, expect, test } from "bun:test";
import { z } from "zod";
import { zTimestamp } from "../trpc/schemas.ts";
import { jsonSchema, type SchemaObject } from "./json-schema.ts";

describe("jsonSchema", () => {
  test("a timestamp (Date in, ISO string out) is a date-time string, also when nullable", () => {
    const schema = z.object({ at: zTimestamp, seen: zTimestamp.nullable() });
    expect(jsonSchema(schema, "output")).toEqual({
      type: "object",
      properties: {
        at: { type: "string", format: "date-time" },
        seen: { anyOf: [{ type: "string", format: "date-time" }, { type: "null" }] },
      },
      required: ["at", "seen"],
    });
  });

  test("an answer's objects stay open (fields may be added); a strict input stays closed", () => {
    const schema = z.strictObject({ name: z.string(), inner: z.object({ n: z.number() }) });
    expect(JSON.stringify(jsonSchema(schema, "output"))).not.toContain("additionalProperties");
    expect(jsonSchema(schema, "input").additionalProperties).toBe(false);
  });

  test("input and output differ where zod's do (optional, defaults), and carry no $schema", () => {
    const schema = z.object({ limit: z.number().int().max(100).default(50) });
    const input = jsonSchema(schema, "input");
    expect(input.required).toBeUndefined();
    expect(input.$schema).toBeUndefined();
    expect(jsonSchema(schema, "output").required).toEqual(["limit"]);
  });

  test("shared definitions move to components with their references; a self-named one gets its owner's name", () => {
    const components: Record<string, SchemaObject> = {};
    const Node: z.ZodType = z.object({
      name: z.string(),
      get children() {
        return z.array(Node);
      },
    });
    const out = jsonSchema(z.object({ root: Node }), "output", components, "Tree");
    expect(Object.keys(components)).toEqual(["Tree_schema0"]);
    expect(JSON.stringify(out)).toContain('"#/components/schemas/Tree_schema0"');
    expect(JSON.stringify({ out, components })).not.toContain("$defs");
    // Another recursive schema under another owner does not collide; the same name for another schema throws.
    const Other: z.ZodType = z.object({
      id: z.number(),
      get next() {
        return Other.optional();
      },
    });
    jsonSchema(z.object({ other: Other }), "output", components, "List");
    expect(Object.keys(components).sort()).toEqual(["List_schema0", "Tree_schema0"]);
    expect(() => jsonSchema(z.object({ other: Other }), "output", components, "Tree")).toThrow(
      "Two different schemas",
    );
    expect(() => jsonSchema(z.object({ root: Node }), "output")).toThrow("needs a components object");
  });
});
