import { z } from "zod";

/**
 * The JSON Schema subset a tool's `inputSchema` may use. Keeping it closed means every schema we
 * publish to MCP clients is one `z.fromJSONSchema` is known to compile faithfully, and every
 * free-form string or list is bounded so an LLM cannot push unbounded input upstream.
 */
export type JsonSchema =
  | {
      type: "string";
      description?: string;
      title?: string;
      enum?: string[];
      minLength?: number;
      maxLength?: number;
      pattern?: string;
    }
  | {
      type: "number" | "integer";
      description?: string;
      title?: string;
      minimum?: number;
      maximum?: number;
      /** Sent when the call leaves the argument out (e.g. a page size an API would otherwise take as "all"). */
      default?: number;
    }
  | { type: "boolean"; description?: string; title?: string }
  | {
      type: "array";
      description?: string;
      title?: string;
      items: JsonSchema;
      minItems?: number;
      maxItems: number;
    }
  | JsonObjectSchema;

export type JsonObjectSchema = {
  type: "object";
  description?: string;
  title?: string;
  properties: Record<string, JsonSchema>;
  required?: string[];
  /**
   * `false` (a closed object), or the schema of every other key's value: a free-form map (Airtable fields,
   * Stripe metadata), which must then bound its size with `maxProperties`. A tool's own input is always closed.
   */
  additionalProperties: false | JsonSchema;
  maxProperties?: number;
  propertyNames?: { maxLength: number; pattern?: string };
};

const meta = { description: z.string().max(2000).optional(), title: z.string().max(200).optional() };
const count = z.number().int().nonnegative();

const StringSchema = z
  .strictObject({
    type: z.literal("string"),
    ...meta,
    enum: z.array(z.string()).min(1).optional(),
    minLength: count.optional(),
    maxLength: count.optional(),
    pattern: z.string().max(500).optional(),
  })
  .refine((s) => s.enum !== undefined || s.maxLength !== undefined, {
    message: "string inputs need maxLength (or enum)",
    path: ["maxLength"],
  });

const NumberSchema = z
  .strictObject({
    type: z.enum(["number", "integer"]),
    ...meta,
    minimum: z.number().optional(),
    maximum: z.number().optional(),
    default: z.number().optional(),
  })
  .superRefine((s, ctx) => {
    if (s.default === undefined) return;
    const fits =
      (s.type === "number" || Number.isInteger(s.default)) &&
      (s.minimum === undefined || s.default >= s.minimum) &&
      (s.maximum === undefined || s.default <= s.maximum);
    if (!fits) ctx.addIssue({ code: "custom", path: ["default"], message: "default must be a valid value" });
  });

const BooleanSchema = z.strictObject({ type: z.literal("boolean"), ...meta });

const ArraySchema = z.strictObject({
  type: z.literal("array"),
  ...meta,
  get items(): z.ZodType<JsonSchema> {
    return JsonSchemaSchema;
  },
  minItems: count.optional(),
  maxItems: count,
});

export const JsonObjectSchemaSchema = z
  .strictObject({
    type: z.literal("object"),
    ...meta,
    get properties(): z.ZodRecord<z.ZodString, z.ZodType<JsonSchema>> {
      return z.record(z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]{0,63}$/), JsonSchemaSchema);
    },
    required: z.array(z.string()).optional(),
    get additionalProperties(): z.ZodUnion<[z.ZodLiteral<false>, z.ZodType<JsonSchema>]> {
      return z.union([z.literal(false), JsonSchemaSchema]);
    },
    maxProperties: count.max(1000).optional(),
    propertyNames: z
      .strictObject({ maxLength: count.max(1000), pattern: z.string().max(500).optional() })
      .optional(),
  })
  .superRefine((s, ctx) => {
    if (s.additionalProperties !== false && s.maxProperties === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["maxProperties"],
        message: "a map (additionalProperties with a schema) needs maxProperties",
      });
    }
    for (const [i, name] of (s.required ?? []).entries()) {
      if (!(name in s.properties)) {
        ctx.addIssue({ code: "custom", path: ["required", i], message: `"${name}" is not in properties` });
      }
    }
  });

// Discriminated on `type` so a broken definition reports the exact field, not "invalid union".
export const JsonSchemaSchema: z.ZodType<JsonSchema> = z.discriminatedUnion("type", [
  StringSchema,
  NumberSchema,
  BooleanSchema,
  ArraySchema,
  JsonObjectSchemaSchema,
]);

export type InputResult =
  | { ok: true; data: Record<string, unknown> }
  | { ok: false; message: string; issues: z.core.$ZodIssue[] };

/** Compiles an input schema once into a validator that never throws. */
export function compileInputValidator(schema: JsonObjectSchema): (args: unknown) => InputResult {
  const validator = z.fromJSONSchema(schema);
  return (args) => {
    // MCP clients may omit `arguments` for tools without parameters.
    const parsed = validator.safeParse(args ?? {});
    if (!parsed.success) {
      return { ok: false, message: z.prettifyError(parsed.error), issues: parsed.error.issues };
    }
    // The compiled schema is a strict object, so a successful parse is always a record.
    return { ok: true, data: parsed.data as Record<string, unknown> };
  };
}
