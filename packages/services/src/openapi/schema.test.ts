import { describe, expect, test } from "bun:test";
import {
  compileInputValidator,
  type JsonObjectSchema,
  type JsonSchema,
  JsonSchemaSchema,
} from "../json-schema.ts";
import { CircularRefError, type ConvertContext, convertSchema, deref } from "./schema.ts";

function ctx(where: "param" | "body" = "body"): ConvertContext & { warnings: string[] } {
  const warnings: string[] = [];
  return { where, at: "op body", warn: (m) => warnings.push(m), warnings };
}

/** Converts and checks the result is in the closed subset. */
function convert(schema: unknown, c = ctx(), required = false) {
  const out = convertSchema(schema, c, 0, required);
  if (out !== undefined) expect(JsonSchemaSchema.safeParse(out).success).toBe(true);
  return out;
}

describe("convertSchema", () => {
  test("strings get maxLength 1000 unless bounded; enums and valid patterns are kept", () => {
    expect(convert({ type: "string" })).toEqual({ type: "string", maxLength: 1000 });
    expect(convert({ type: "string", maxLength: 20, minLength: 2 })).toEqual({
      type: "string",
      minLength: 2,
      maxLength: 20,
    });
    expect(convert({ type: "string", enum: ["a", "b", null] })).toEqual({ type: "string", enum: ["a", "b"] });
    expect(convert({ type: "string", pattern: "^[a-z]+$" })).toEqual({
      type: "string",
      maxLength: 1000,
      pattern: "^[a-z]+$",
    });
    expect(convert({ type: "string", pattern: "(?<=x" })).toEqual({ type: "string", maxLength: 1000 });
  });

  test("format, default and numeric enums become words in the description", () => {
    expect(convert({ type: "string", format: "date-time", description: "When." })).toEqual({
      type: "string",
      description: "When. Format: date-time.",
      maxLength: 1000,
    });
    expect(convert({ type: "integer", enum: [1, 2, 3], default: 1, format: "int32" })).toEqual({
      type: "integer",
      description: "Default: 1. One of: 1, 2, 3.",
    });
  });

  test("numbers keep their bounds (3.1 exclusive bounds as inclusive); unsupported keywords go", () => {
    expect(convert({ type: "number", minimum: 0, maximum: 5, multipleOf: 0.5 })).toEqual({
      type: "number",
      minimum: 0,
      maximum: 5,
    });
    expect(convert({ type: "integer", exclusiveMinimum: 0 })).toEqual({ type: "integer", minimum: 0 });
  });

  test("arrays get maxItems 100 unless bounded", () => {
    expect(convert({ type: "array", items: { type: "integer" }, uniqueItems: true })).toEqual({
      type: "array",
      items: { type: "integer" },
      maxItems: 100,
    });
    expect(convert({ type: "array", items: { type: "boolean" }, maxItems: 3, minItems: 1 })).toEqual({
      type: "array",
      items: { type: "boolean" },
      minItems: 1,
      maxItems: 3,
    });
  });

  test("nullable and type lists drop null", () => {
    expect(convert({ type: "string", nullable: true, maxLength: 5 })).toEqual({
      type: "string",
      maxLength: 5,
    });
    expect(convert({ type: ["integer", "null"] })).toEqual({ type: "integer" });
    expect(convert({ anyOf: [{ type: "string", maxLength: 9 }, { type: "null" }] })).toEqual({
      type: "string",
      maxLength: 9,
    });
  });

  test("objects are closed; readOnly and unnamable properties are left out", () => {
    const c = ctx();
    expect(
      convert(
        {
          type: "object",
          required: ["a", "id", "bad-name"],
          properties: {
            id: { type: "string", readOnly: true },
            a: { type: "boolean" },
            "bad-name": { type: "string" },
          },
          additionalProperties: true,
        },
        c,
      ),
    ).toEqual({
      type: "object",
      properties: { a: { type: "boolean" } },
      required: ["a"],
      additionalProperties: false,
    });
    expect(c.warnings.join("\n")).toContain("op body.bad-name: the property name cannot be an input name");
  });

  test("allOf is merged", () => {
    expect(
      convert({
        allOf: [
          { type: "object", properties: { a: { type: "string", maxLength: 3 } }, required: ["a"] },
          { properties: { b: { type: "integer" } }, required: ["b"] },
        ],
      }),
    ).toEqual({
      type: "object",
      properties: { a: { type: "string", maxLength: 3 }, b: { type: "integer" } },
      required: ["a", "b"],
      additionalProperties: false,
    });
  });

  test("oneOf of objects becomes one object with every field, required only when always required", () => {
    const c = ctx();
    expect(
      convert(
        {
          oneOf: [
            {
              type: "object",
              properties: { kind: { type: "string", enum: ["a"] }, x: { type: "integer" } },
              required: ["kind", "x"],
            },
            {
              type: "object",
              properties: { kind: { type: "string", enum: ["b"] }, y: { type: "boolean" } },
              required: ["kind"],
            },
          ],
        },
        c,
      ),
    ).toEqual({
      type: "object",
      properties: {
        kind: { type: "string", enum: ["a"] },
        x: { type: "integer" },
        y: { type: "boolean" },
      },
      required: ["kind"],
      additionalProperties: false,
    });
    expect(c.warnings).toEqual(["op body: oneOf of 2 object shapes merged into one object"]);
  });

  test("oneOf of strings joins enums; a string/number mix becomes a string", () => {
    expect(convert({ oneOf: [{ type: "string", enum: ["a"] }, { const: "b" }] })).toEqual({
      type: "string",
      enum: ["a", "b"],
    });
    expect(convert({ anyOf: [{ type: "integer" }, { type: "number" }] })).toEqual({ type: "number" });
    const c = ctx();
    expect(convert({ oneOf: [{ type: "integer" }, { type: "string", maxLength: 10 }] }, c)).toEqual({
      type: "string",
      maxLength: 10,
    });
    expect(c.warnings[0]).toContain("oneOf of [integer, string] became its string branch");
  });

  test("a free-form object: JSON text in a parameter, left out of a body, {} when required there", () => {
    const param = ctx("param");
    expect(convert({ type: "object", additionalProperties: true }, param)).toEqual({
      type: "string",
      description: "A JSON value, as text.",
      maxLength: 1000,
    });
    const body = ctx();
    expect(convert({ type: "object" }, body)).toBeUndefined();
    expect(body.warnings).toEqual(["op body: a free-form object; left out of the input"]);
    expect(convert({ type: "object" }, ctx(), true)).toEqual({
      type: "object",
      properties: {},
      additionalProperties: false,
    });
    expect(convert({}, ctx("param"))?.type).toBe("string");
    expect(convert({ type: "array", items: {} }, ctx())).toBeUndefined();
  });

  test("deep nesting stops at 8 levels", () => {
    let schema: unknown = { type: "string" };
    for (let i = 0; i < 12; i++) schema = { type: "object", properties: { n: schema } };
    const c = ctx();
    const out = convert(schema, c);
    expect(out?.type).toBe("object");
    expect(c.warnings.some((w) => w.includes("nested deeper than 8 levels"))).toBe(true);
  });

  test("a $ref left by the parser is circular: expanded once, left out where it comes back", () => {
    const node = {
      type: "object",
      properties: {
        name: { type: "string" },
        children: { type: "array", items: { $ref: "#/components/schemas/Node" } },
      },
    };
    const c = {
      ...ctx(),
      resolve: (ref: string) => (ref === "#/components/schemas/Node" ? node : undefined),
    };
    // The value is the node: its name is kept, its children (the recursion) are not.
    expect(convert({ $ref: "#/components/schemas/Node" }, c)).toEqual({
      type: "object",
      properties: { name: { type: "string", maxLength: 1000 } },
      additionalProperties: false,
    });
    expect(c.warnings).toEqual([
      "op body.children[]: a recursive schema (circular $ref #/components/schemas/Node); left out of the input",
    ]);
    // In a parameter it is JSON text; with nothing to look it up in, it is cut at once.
    expect(convert({ $ref: "#/components/schemas/Node" }, ctx("param"))?.type).toBe("string");
    expect(() => deref({ $ref: "#/x" }, ctx())).toThrow(CircularRefError);
  });

  test("a map (additionalProperties with a schema) in a body is a bounded map; in a parameter, JSON text", () => {
    const metadata = { type: "object", additionalProperties: { type: "string", maxLength: 500 } };
    expect(convert(metadata)).toEqual({
      type: "object",
      properties: {},
      additionalProperties: { type: "string", maxLength: 500 },
      maxProperties: 50,
      propertyNames: { maxLength: 200 },
    });
    expect(
      convert({
        type: "object",
        properties: { id: { type: "string" } },
        additionalProperties: { type: "integer" },
        maxProperties: 10,
        propertyNames: { maxLength: 40, pattern: "^[a-z]+$" },
      }),
    ).toEqual({
      type: "object",
      properties: { id: { type: "string", maxLength: 1000 } },
      additionalProperties: { type: "integer" },
      maxProperties: 10,
      propertyNames: { maxLength: 40, pattern: "^[a-z]+$" },
    });
    // Values that cannot be expressed (any value, objects with nothing left) make it free-form, as before.
    const c = ctx();
    expect(convert({ type: "object", additionalProperties: { type: "object" } }, c)).toBeUndefined();
    expect(c.warnings).toEqual(["op body: a free-form object; left out of the input"]);
    expect(convert(metadata, ctx("param"))?.type).toBe("string");
    const validate = compileInputValidator({
      type: "object",
      properties: { metadata: convert(metadata) as JsonSchema },
      additionalProperties: false,
    });
    expect(validate({ metadata: { order: "42" } }).ok).toBe(true);
    expect(validate({ metadata: { order: 42 } }).ok).toBe(false);
    const many = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, "v"]));
    expect(validate({ metadata: many }).ok).toBe(false);
  });

  test("an empty-string branch beside real ones (Stripe's way to clear a field) is not the shape", () => {
    const address = {
      anyOf: [
        { type: "object", properties: { city: { type: "string", maxLength: 100 } } },
        { type: "string", enum: [""] },
      ],
    };
    const c = ctx();
    expect(convert(address, c)).toEqual({
      type: "object",
      properties: { city: { type: "string", maxLength: 100 } },
      additionalProperties: false,
    });
    expect(c.warnings).toEqual([]);
    const metadata = {
      anyOf: [
        { type: "object", additionalProperties: { type: "string" } },
        { type: "string", enum: [""] },
      ],
    };
    expect(convert(metadata)).toMatchObject({ type: "object", additionalProperties: { type: "string" } });
    // Alone, it is what it is.
    expect(convert({ anyOf: [{ type: "string", enum: [""] }] })).toEqual({ type: "string", enum: [""] });
  });

  test("the result compiles into an input validator", () => {
    const properties = {
      tags: convert({ type: "array", items: { type: "string", enum: ["x", "y"] } }),
      n: convert({ type: ["number", "null"], maximum: 3 }),
    };
    const schema = { type: "object", properties, additionalProperties: false } as JsonObjectSchema;
    const validate = compileInputValidator(schema);
    expect(validate({ tags: ["x"], n: 2 }).ok).toBe(true);
    expect(validate({ tags: ["z"] }).ok).toBe(false);
    expect(validate({ n: 4 }).ok).toBe(false);
    expect(validate({ other: 1 }).ok).toBe(false);
  });
});
