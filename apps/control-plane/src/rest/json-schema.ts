import { z } from "zod";

export type SchemaObject = Record<string, unknown>;

/**
 * Timestamps are `Date`s in the procedures and ISO-8601 strings on the wire (`zTimestamp`): zod cannot
 * represent the transform, so the JSON Schema says what the client actually gets.
 */
function timestamps(ctx: { zodSchema: z.core.$ZodTypes; jsonSchema: z.core.JSONSchema.BaseSchema }): void {
  const def = ctx.zodSchema._zod.def;
  const isDate = def.type === "date" || (def.type === "pipe" && def.in._zod.def.type === "date");
  if (!isDate) return;
  for (const key of Object.keys(ctx.jsonSchema)) delete ctx.jsonSchema[key];
  ctx.jsonSchema.type = "string";
  ctx.jsonSchema.format = "date-time";
}

/**
 * Moves `$defs` into `components.schemas`, rewriting their references. A schema named with `.meta({ id })`
 * keeps its name; one zod names itself (`__schema0`, a recursive schema) gets its owner's name before it.
 */
function hoist(schema: SchemaObject, into: Record<string, SchemaObject>, owner: string): SchemaObject {
  const defs = (schema.$defs ?? {}) as Record<string, SchemaObject>;
  delete schema.$defs;
  const rename = (name: string) => (name.startsWith("__") ? `${owner}${name.replace(/^_+/, "_")}` : name);
  const text = (v: unknown) =>
    JSON.stringify(v).replace(
      /"#\/\$defs\/([^"]+)"/g,
      (_, name: string) => `"#/components/schemas/${rename(name)}"`,
    );
  for (const [original, def] of Object.entries(defs)) {
    const name = rename(original);
    const moved = JSON.parse(text(def)) as SchemaObject;
    const known = into[name];
    if (known && JSON.stringify(known) !== JSON.stringify(moved)) {
      throw new Error(`Two different schemas are named ${name} in the OpenAPI document`);
    }
    into[name] = moved;
  }
  return JSON.parse(text(schema)) as SchemaObject;
}

/**
 * The JSON Schema (2020-12, which OpenAPI 3.1 uses) of a zod schema: `input` for what a client sends,
 * `output` for what it gets back. Shared definitions go to `components` when given (`owner` names the
 * ones zod names itself).
 */
export function jsonSchema(
  schema: z.ZodType,
  io: "input" | "output",
  components?: Record<string, SchemaObject>,
  owner = "Schema",
): SchemaObject {
  const out = z.toJSONSchema(schema, {
    target: "draft-2020-12",
    io,
    // Only the timestamp transforms are unrepresentable here; `timestamps` gives them their wire type.
    unrepresentable: "any",
    override: (ctx) => {
      timestamps(ctx);
      // An answer may gain fields (the contract changes only by adding): a generated client must not refuse
      // them, so no answer's object is closed (zod closes every output object).
      if (io === "output" && ctx.jsonSchema.additionalProperties === false) {
        delete ctx.jsonSchema.additionalProperties;
      }
    },
  }) as SchemaObject;
  delete out.$schema;
  if (!out.$defs) return out;
  if (!components) throw new Error("A schema with shared definitions needs a components object");
  return hoist(out, components, owner);
}
