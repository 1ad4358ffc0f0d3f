import type { JsonObjectSchema, JsonSchema } from "../json-schema.ts";

/**
 * OpenAPI schemas (already dereferenced) → the closed JSON-Schema subset tool inputs may use.
 *
 * - strings without `maxLength` or `enum` get `maxLength: 1000`; arrays without `maxItems` get 100;
 * - `format`, `default` and numeric enums survive as words in the description; every other keyword the
 *   subset lacks (`multipleOf`, `examples`, `discriminator`, `uniqueItems`, ...) is dropped;
 * - `nullable` / `type: [T, "null"]` become T (the model leaves the field out instead of sending null);
 * - `allOf` is merged; `oneOf`/`anyOf`: `null` branches go, and so does an empty-string-only branch beside
 *   others (Stripe's `""` that clears a field); one branch left → that branch; all objects → one object with
 *   every branch's properties; all strings (or all numbers) → one string (number) with the enums joined;
 *   other mixes → a string when one branch is a string, else the first branch (with a warning);
 * - objects are closed (`additionalProperties: false`) with their declared properties; `readOnly`
 *   properties are left out (they are never sent); a property name outside `^[a-zA-Z_][a-zA-Z0-9_]{0,63}$`
 *   cannot be renamed inside a value sent as is, so it is left out (with a warning);
 * - in a body, `additionalProperties` with a schema (a map: Stripe `metadata`) becomes a bounded map
 *   (`maxProperties` 50 unless the document bounds it, names of at most 200 characters);
 * - an object with no declared properties and no typed values (free-form) cannot be expressed: in a query or
 *   header parameter it becomes a bounded string of JSON (which is what the executor sends for an object
 *   there anyway, and what a map in a parameter becomes too); in a body it is left out (with a warning), or,
 *   when required, becomes `{}` only;
 * - nesting deeper than 8 levels is treated like a free-form value;
 * - a `$ref` still present was left by the parser because it is circular: the outermost one of a value is
 *   expanded from the document (`ConvertContext.resolve`), and any circular `$ref` inside that expansion is the
 *   recursive value, treated like a free-form one (left out of a body, with a warning: a tree node without its
 *   children). `deref`, `flatten`
 *   and `mergeAllOf` throw `CircularRefError` there, which `convertSchema` handles.
 */

export const MAX_STRING_LENGTH = 1000;
export const MAX_ARRAY_ITEMS = 100;
/** A map's default bounds: how many keys, and how long each may be. */
export const MAX_MAP_ENTRIES = 50;
export const MAX_MAP_KEY_LENGTH = 200;
const MAX_DEPTH = 8;
const MAX_DESCRIPTION = 2000;
const MAX_TITLE = 200;
const PROPERTY_NAME = /^[a-zA-Z_][a-zA-Z0-9_]{0,63}$/;

export type OpenApiSchema = Record<string, unknown>;

/** A circular `$ref` reached while building a tool input; `ref` is the pointer, e.g. `#/components/schemas/Node`. */
export class CircularRefError extends Error {
  constructor(readonly ref: string) {
    super(`circular $ref ${ref}`);
  }
}

export interface ConvertContext {
  /** Parameters may fall back to a JSON string; body values are sent as they are, so they may not. */
  where: "param" | "body";
  /** Where we are, for warnings: `addPet body.category`. */
  at: string;
  warn: (message: string) => void;
  /** The value a `#/...` pointer names in the document, for the `$ref`s the parser left (circular ones). */
  resolve?: (ref: string) => unknown;
  /** The `$ref`s being expanded around this value: meeting one of them again is the recursion. */
  refs?: readonly string[];
}

/**
 * A `$ref` the parser left in place, expanded from the document (its siblings, e.g. a 3.1 `description`, win);
 * the same `$ref` met again inside its own expansion throws `CircularRefError`, as does one that cannot be found.
 */
export function deref(schema: unknown, ctx: ConvertContext): { schema: unknown; ctx: ConvertContext } {
  let s = schema;
  let c = ctx;
  // Only the outermost circular `$ref` of a value is expanded (a chain of `$ref`s to `$ref`s included): one met
  // inside its expansion is the recursion, or a cycle through other schemas, and is left out. Expanding each
  // once along every path grew as the product of the cycle's fan-outs: ten schemas referring to each other did
  // not finish importing in a minute, eight wrote a 3.4 MB definition.
  const nested = (ctx.refs?.length ?? 0) > 0;
  while (isRecord(s) && typeof s.$ref === "string") {
    const ref = s.$ref;
    const target = nested || c.refs?.includes(ref) ? undefined : c.resolve?.(ref);
    if (!isRecord(target)) throw new CircularRefError(ref);
    const { $ref: _, ...siblings } = s;
    s = { ...target, ...siblings };
    c = { ...c, refs: [...(c.refs ?? []), ref] };
  }
  return { schema: s, ctx: c };
}

export const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1).trimEnd()}…`;
}

const isNullSchema = (s: unknown): boolean =>
  isRecord(s) &&
  (s.type === "null" ||
    (Array.isArray(s.enum) && s.enum.length === 1 && s.enum[0] === null) ||
    (Object.hasOwn(s, "const") && s.const === null));

/** Stripe's `anyOf: [..., { type: "string", enum: [""] }]`: an empty string that clears the field. */
const isEmptyStringSchema = (s: unknown): boolean =>
  isRecord(s) &&
  ((Array.isArray(s.enum) && s.enum.length > 0 && s.enum.every((v) => v === "")) ||
    (Object.hasOwn(s, "const") && s.const === ""));

/** `allOf` folded into one schema: properties and required lists joined, other keywords first-wins. */
export function mergeAllOf(schema: OpenApiSchema, outer?: ConvertContext): OpenApiSchema {
  const { schema: expanded, ctx } = outer ? deref(schema, outer) : { schema, ctx: undefined };
  const s = expanded as OpenApiSchema;
  if (typeof s.$ref === "string") throw new CircularRefError(s.$ref);
  if (!Array.isArray(s.allOf)) return s;
  const { allOf, ...rest } = s;
  let out: OpenApiSchema = { ...rest };
  for (const part of allOf) {
    if (!isRecord(part)) continue;
    out = mergeTwo(out, mergeAllOf(part, ctx));
  }
  return out;
}

function mergeTwo(a: OpenApiSchema, b: OpenApiSchema): OpenApiSchema {
  const out: OpenApiSchema = { ...b, ...a };
  if (isRecord(a.properties) || isRecord(b.properties)) {
    out.properties = {
      ...(isRecord(b.properties) ? b.properties : {}),
      ...(isRecord(a.properties) ? a.properties : {}),
    };
  }
  const req = [
    ...(Array.isArray(a.required) ? a.required : []),
    ...(Array.isArray(b.required) ? b.required : []),
  ];
  if (req.length > 0) out.required = [...new Set(req)];
  if (a.type === undefined && b.type !== undefined) out.type = b.type;
  return out;
}

/** The schema's type, with `null` removed; undefined when it cannot be told. */
export function typeOf(s: OpenApiSchema, ctx: ConvertContext): string | undefined {
  let types: unknown[] = Array.isArray(s.type) ? s.type : s.type === undefined ? [] : [s.type];
  types = types.filter((t) => t !== "null");
  if (types.length > 1) {
    const pick = types.includes("string") ? "string" : String(types[0]);
    ctx.warn(`${ctx.at}: type [${types.join(", ")}] became ${pick}`);
    return pick;
  }
  if (types.length === 1) return String(types[0]);
  if (isRecord(s.properties) || s.additionalProperties !== undefined) return "object";
  if (s.items !== undefined) return "array";
  const values = Array.isArray(s.enum) ? s.enum : Object.hasOwn(s, "const") ? [s.const] : [];
  const first = values.find((v) => v !== null);
  if (typeof first === "string") return "string";
  if (typeof first === "number") return Number.isInteger(first) ? "integer" : "number";
  if (typeof first === "boolean") return "boolean";
  return undefined;
}

function notes(s: OpenApiSchema, extra: string[] = []): string | undefined {
  const parts: string[] = [];
  if (typeof s.description === "string" && s.description.trim() !== "") parts.push(s.description.trim());
  if (s.deprecated === true) parts.unshift("Deprecated.");
  if (typeof s.format === "string" && !["int32", "int64", "float", "double"].includes(s.format))
    parts.push(`Format: ${s.format}.`);
  if (s.default !== undefined && s.default !== null && typeof s.default !== "object")
    parts.push(`Default: ${String(s.default)}.`);
  parts.push(...extra);
  return parts.length > 0 ? truncate(parts.join(" "), MAX_DESCRIPTION) : undefined;
}

function meta(s: OpenApiSchema, extra: string[] = []): { description?: string; title?: string } {
  const description = notes(s, extra);
  return {
    ...(typeof s.title === "string" &&
      s.title.trim() !== "" && { title: truncate(s.title.trim(), MAX_TITLE) }),
    ...(description !== undefined && { description }),
  };
}

const count = (v: unknown): number | undefined =>
  typeof v === "number" && Number.isInteger(v) && v >= 0 ? v : undefined;

function validPattern(p: unknown): string | undefined {
  if (typeof p !== "string" || p.length > 500) return undefined;
  try {
    new RegExp(p);
    return p;
  } catch {
    return undefined;
  }
}

/** The string for a free-form value in a parameter: JSON text, bounded. */
function jsonString(s: OpenApiSchema): JsonSchema {
  return {
    type: "string",
    ...meta(s, ["A JSON value, as text."]),
    maxLength: MAX_STRING_LENGTH,
  };
}

/** A free-form value: a JSON string in a parameter, nothing in a body. */
function unrepresentable(s: OpenApiSchema, ctx: ConvertContext, why: string): JsonSchema | undefined {
  if (ctx.where === "param") {
    ctx.warn(`${ctx.at}: ${why}; it takes a string of JSON`);
    return jsonString(s);
  }
  ctx.warn(`${ctx.at}: ${why}; left out of the input`);
  return undefined;
}

/** `oneOf`/`anyOf` resolved to one schema (raw, not yet converted). */
function resolveUnion(s: OpenApiSchema, ctx: ConvertContext): OpenApiSchema {
  const key = Array.isArray(s.oneOf) ? "oneOf" : Array.isArray(s.anyOf) ? "anyOf" : undefined;
  if (key === undefined) return s;
  const { [key]: raw, ...rest } = s;
  const nonNull = (raw as unknown[])
    .filter(isRecord)
    .map((b) => deref(b, ctx).schema as OpenApiSchema)
    .filter((b) => !isNullSchema(b));
  // An empty-string branch beside real ones is a way to clear the field, not a shape of its own.
  const meaningful = nonNull.filter((b) => !isEmptyStringSchema(b));
  const branches = (meaningful.length > 0 ? meaningful : nonNull).map((b) => mergeAllOf(b, ctx));
  if (branches.length === 0) return rest;
  const ownShape = rest.type !== undefined || isRecord(rest.properties);
  if (branches.length === 1) return mergeTwo(rest, branches[0] as OpenApiSchema);
  const types = branches.map((b) => typeOf(b, { ...ctx, warn: () => {} }));
  if (types.every((t) => t === "object")) {
    // Every variant's fields, none required unless every variant requires it.
    const properties: Record<string, unknown> = {};
    for (const b of branches) {
      for (const [name, p] of Object.entries(isRecord(b.properties) ? b.properties : {}))
        properties[name] ??= p;
    }
    const requiredIn = (b: OpenApiSchema) => (Array.isArray(b.required) ? b.required : []);
    const required = requiredIn(branches[0] as OpenApiSchema).filter((n) =>
      branches.every((b) => requiredIn(b).includes(n)),
    );
    const base = ownShape ? rest : { ...rest, type: "object" };
    const merged: OpenApiSchema = {
      ...base,
      properties: { ...properties, ...(isRecord(rest.properties) ? rest.properties : {}) },
    };
    const own = Array.isArray(rest.required) ? rest.required : [];
    if (own.length + required.length > 0) merged.required = [...new Set([...own, ...required])];
    ctx.warn(`${ctx.at}: ${key} of ${branches.length} object shapes merged into one object`);
    return merged;
  }
  if (ownShape) return rest;
  const same = types.every((t) => t === types[0]) ? types[0] : undefined;
  const numeric = types.every((t) => t === "number" || t === "integer");
  if (same === "string" || same === "boolean" || numeric) {
    const allEnums = branches.every((b) => Array.isArray(b.enum) || Object.hasOwn(b, "const"));
    const enumValues = allEnums
      ? branches.flatMap((b) => (Array.isArray(b.enum) ? b.enum : [b.const])).filter((v) => v !== null)
      : undefined;
    return {
      ...rest,
      type: numeric && same === undefined ? "number" : same,
      ...(enumValues && { enum: [...new Set(enumValues)] }),
    };
  }
  const stringBranch = branches.find((_, i) => types[i] === "string");
  const pick = stringBranch ?? (branches[0] as OpenApiSchema);
  ctx.warn(
    `${ctx.at}: ${key} of [${types.map((t) => t ?? "any").join(", ")}] became its ${typeOf(pick, ctx) ?? "first"} branch`,
  );
  return mergeTwo(rest, pick);
}

/** Normalizes a schema's combinators into one plain schema (raw, not yet converted). */
export function flatten(schema: unknown, ctx: ConvertContext): OpenApiSchema | undefined {
  if (!isRecord(schema)) return undefined;
  const merged = mergeAllOf(schema, ctx);
  return mergeAllOf(resolveUnion(merged, ctx), ctx);
}

/**
 * Converts one schema; undefined when it cannot be expressed in a body (see the module comment).
 * `required` is whether the caller must have a value (a free-form required body object becomes `{}`).
 */
export function convertSchema(
  schema: unknown,
  outer: ConvertContext,
  depth = 0,
  required = false,
): JsonSchema | undefined {
  if (schema === true || (isRecord(schema) && Object.keys(schema).length === 0)) {
    return unrepresentable({}, outer, "any value");
  }
  let s: OpenApiSchema | undefined;
  let ctx = outer;
  try {
    const expanded = deref(schema, outer);
    ctx = expanded.ctx;
    s = flatten(expanded.schema, ctx);
  } catch (err) {
    if (!(err instanceof CircularRefError)) throw err;
    return unrepresentable({}, outer, `a recursive schema (circular $ref ${err.ref})`);
  }
  if (s === undefined) return unrepresentable({}, ctx, "no schema");
  if (depth > MAX_DEPTH) return unrepresentable(s, ctx, `nested deeper than ${MAX_DEPTH} levels`);
  const type = typeOf(s, ctx);
  switch (type) {
    case "string": {
      const values = Array.isArray(s.enum) ? s.enum : Object.hasOwn(s, "const") ? [s.const] : undefined;
      const enumValues = values?.filter((v) => v !== null).map(String);
      if (enumValues && enumValues.length > 0) {
        return { type: "string", ...meta(s), enum: [...new Set(enumValues)] };
      }
      const minLength = count(s.minLength);
      const pattern = validPattern(s.pattern);
      return {
        type: "string",
        ...meta(s),
        ...(minLength !== undefined && { minLength }),
        maxLength: count(s.maxLength) ?? MAX_STRING_LENGTH,
        ...(pattern !== undefined && { pattern }),
      };
    }
    case "integer":
    case "number": {
      const values = Array.isArray(s.enum) ? s.enum.filter((v) => typeof v === "number") : [];
      const extra = values.length > 0 ? [`One of: ${values.join(", ")}.`] : [];
      const minimum = numberBound(s.minimum, s.exclusiveMinimum);
      const maximum = numberBound(s.maximum, s.exclusiveMaximum);
      return {
        type,
        ...meta(s, extra),
        ...(minimum !== undefined && { minimum }),
        ...(maximum !== undefined && { maximum }),
      };
    }
    case "boolean":
      return { type: "boolean", ...meta(s) };
    case "array": {
      const items = convertSchema(s.items ?? {}, { ...ctx, at: `${ctx.at}[]` }, depth + 1, true);
      if (items === undefined) return undefined;
      const minItems = count(s.minItems);
      return {
        type: "array",
        ...meta(s),
        items,
        ...(minItems !== undefined && { minItems }),
        maxItems: count(s.maxItems) ?? MAX_ARRAY_ITEMS,
      };
    }
    case "object":
      return convertObject(s, ctx, depth, required);
    default:
      return unrepresentable(s, ctx, type === undefined ? "no type" : `type "${type}"`);
  }
}

// OpenAPI 3.0 says `exclusiveMinimum: true` next to `minimum`; 3.1 gives the bound itself. Either way the
// inclusive bound is close enough for the model (the upstream still checks).
function numberBound(inclusive: unknown, exclusive: unknown): number | undefined {
  if (typeof inclusive === "number") return inclusive;
  if (typeof exclusive === "number") return exclusive;
  return undefined;
}

function convertObject(
  s: OpenApiSchema,
  ctx: ConvertContext,
  depth: number,
  required: boolean,
): JsonSchema | undefined {
  const props = isRecord(s.properties) ? s.properties : {};
  const map = ctx.where === "body" ? mapValues(s, ctx, depth) : undefined;
  if (map !== undefined) {
    return { type: "object", ...meta(s), ...objectProperties(s, ctx, depth), ...map };
  }
  const closed = s.additionalProperties === false || s.additionalProperties === undefined;
  if (Object.keys(props).length === 0 && !(closed && isRecord(s.properties))) {
    if (ctx.where === "body" && required) {
      ctx.warn(`${ctx.at}: a free-form object; only {} can be sent`);
      return { type: "object", ...meta(s), properties: {}, additionalProperties: false };
    }
    return unrepresentable(s, ctx, "a free-form object");
  }
  const shape = objectProperties(s, ctx, depth);
  return { type: "object", ...meta(s), ...shape, additionalProperties: false };
}

/**
 * A body object's `additionalProperties` schema as a bounded map (its values converted); undefined when it has
 * none, or when its values cannot be expressed (any value, a free-form object): then the object is handled
 * as before, by its declared properties, or as a free-form value.
 */
function mapValues(
  s: OpenApiSchema,
  ctx: ConvertContext,
  depth: number,
): Pick<JsonObjectSchema, "additionalProperties" | "maxProperties" | "propertyNames"> | undefined {
  const extra = s.additionalProperties;
  if (!isRecord(extra) || Object.keys(extra).length === 0) return undefined;
  const held: string[] = [];
  const value = convertSchema(
    extra,
    { ...ctx, at: `${ctx.at}{}`, warn: (m) => held.push(m) },
    depth + 1,
    true,
  );
  if (value === undefined || holdsNothing(value)) return undefined;
  for (const message of held) ctx.warn(message);
  const names = isRecord(s.propertyNames) ? s.propertyNames : {};
  const pattern = validPattern(names.pattern);
  return {
    additionalProperties: value,
    maxProperties: Math.min(count(s.maxProperties) ?? MAX_MAP_ENTRIES, 1000),
    propertyNames: {
      maxLength: Math.min(count(names.maxLength) ?? MAX_MAP_KEY_LENGTH, MAX_MAP_KEY_LENGTH),
      ...(pattern !== undefined && { pattern }),
    },
  };
}

/** An object (or a list of them) with nothing left to fill in: every field was left out. */
const holdsNothing = (v: JsonSchema): boolean =>
  v.type === "array"
    ? holdsNothing(v.items)
    : v.type === "object" && Object.keys(v.properties).length === 0 && v.additionalProperties === false;

/** The converted properties of an object schema (names kept; see the module comment for what is left out). */
export function objectProperties(
  s: OpenApiSchema,
  ctx: ConvertContext,
  depth: number,
): Pick<JsonObjectSchema, "properties" | "required"> {
  const props = isRecord(s.properties) ? s.properties : {};
  const requiredNames = Array.isArray(s.required) ? s.required.filter((n) => typeof n === "string") : [];
  const properties: Record<string, JsonSchema> = {};
  for (const [name, raw] of Object.entries(props)) {
    if (isRecord(raw) && raw.readOnly === true) continue;
    const at = `${ctx.at}.${name}`;
    if (!PROPERTY_NAME.test(name)) {
      ctx.warn(`${at}: the property name cannot be an input name; left out`);
      continue;
    }
    const isRequired = requiredNames.includes(name);
    const converted = convertSchema(raw, { ...ctx, at }, depth + 1, isRequired);
    if (converted !== undefined) properties[name] = converted;
    else if (isRequired) ctx.warn(`${at}: required but left out; calls may be refused upstream`);
  }
  const required = requiredNames.filter((n) => n in properties);
  return { properties, ...(required.length > 0 && { required }) };
}
