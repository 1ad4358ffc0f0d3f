import { Hono } from "hono";
import type { HonoEnv } from "../deps.ts";
import { DOCS_CSS } from "./docs-css.ts";
import type { SchemaObject } from "./json-schema.ts";
import { type OpenApiDocument, openApiDocument, REST_BASE } from "./openapi.ts";

/**
 * The API reference at /api/docs: rendered on the server from the OpenAPI document, so it needs no script
 * and nothing from elsewhere (the CSP is `default-src 'self'`); its stylesheet is ours, at /api/docs/docs.css.
 */
export function docsRoutes(): Hono<HonoEnv> {
  const docs = new Hono<HonoEnv>();
  docs.get("/", (c) => c.html(referencePage()));
  docs.get("/docs.css", (c) =>
    c.body(DOCS_CSS, 200, {
      "content-type": "text/css; charset=utf-8",
      "cache-control": "public, max-age=300",
    }),
  );
  return docs;
}

type Operation = SchemaObject & {
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
};
type Param = { name: string; in: string; required: boolean; description?: string; schema: SchemaObject };

const esc = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
/** Escaped text with `backticks` as code. */
const prose = (s: string) => esc(s).replace(/`([^`]+)`/g, "<code>$1</code>");
const code = (s: string) => `<code>${esc(s)}</code>`;

let cached: string | undefined;
function referencePage(): string {
  cached ??= render(openApiDocument());
  return cached;
}

function render(doc: OpenApiDocument): string {
  const schemas = doc.components.schemas as Record<string, SchemaObject>;
  const ops = Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item as Record<string, Operation>).map(([method, op]) => ({ path, method, op })),
  );
  const tags = (doc.tags as { name: string; description: string }[]) ?? [];
  const byTag = tags.map((t) => ({ ...t, ops: ops.filter((o) => o.op.tags.includes(t.name)) }));
  const description = typeof doc.info.description === "string" ? doc.info.description : "";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(doc.info.title)} reference</title><link rel="stylesheet" href="/api/docs/docs.css"></head>
<body><header><h1>${esc(doc.info.title)} <small>${esc(doc.info.version)}</small></h1>
<p>${prose(description)}</p>
<p>Base URL ${code(REST_BASE)} · OpenAPI 3.1 document: <a href="${REST_BASE}/openapi.json">${REST_BASE}/openapi.json</a></p>
<nav>${byTag.map((t) => `<h2>${esc(t.name)}</h2><ul>${t.ops.map((o) => `<li><a href="#${esc(o.op.operationId)}">${badge(o.method)} ${code(REST_BASE + o.path)}</a></li>`).join("")}</ul>`).join("")}</nav></header>
<main>${byTag
    .map(
      (t) =>
        `<section><h2>${esc(t.name)}</h2><p>${prose(t.description)}</p>${t.ops.map((o) => operation(o.method, o.path, o.op, schemas)).join("")}</section>`,
    )
    .join("")}
<section id="errors"><h2>Errors</h2><p>Every error answers this shape; each operation lists its statuses and codes.</p>${schemaView(schemas.Error ?? {}, schemas)}</section>
</main></body></html>`;
}

const badge = (method: string) => `<span class="method ${esc(method)}">${esc(method.toUpperCase())}</span>`;

function operation(
  method: string,
  path: string,
  op: Operation,
  schemas: Record<string, SchemaObject>,
): string {
  const params = (op.parameters as Param[] | undefined) ?? [];
  const body = op.requestBody as { content: Record<string, { schema: SchemaObject }> } | undefined;
  const responses = op.responses as Record<
    string,
    { description: string; content?: Record<string, { schema: SchemaObject }> }
  >;
  const procedure = op["x-trpc-procedure"];
  return `<article class="op" id="${esc(op.operationId)}">
<h3>${badge(method)} ${code(REST_BASE + path)}</h3><p class="summary">${prose(op.summary)}</p>
${op.description ? `<p>${prose(op.description).replaceAll("\n\n", "</p><p>")}</p>` : ""}
<p class="meta">operationId ${code(op.operationId)}${typeof procedure === "string" ? ` · tRPC ${code(procedure)}` : ""}</p>
${params.length ? `<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>type</th><th></th></tr>${params.map((p) => `<tr><td>${code(p.name)}${p.required ? "" : "?"}</td><td>${esc(p.in)}</td><td>${label(p.schema, schemas)}${limits(p.schema)}</td><td>${prose(p.description ?? "")}</td></tr>`).join("")}</table>` : ""}
${body ? `<h4>Body <small>application/json</small></h4>${schemaView(body.content["application/json"]?.schema ?? {}, schemas)}` : ""}
<h4>Responses</h4><dl>${Object.entries(responses)
    .map(([status, r]) => {
      const schema = r.content?.["application/json"]?.schema;
      const ok = status.startsWith("2");
      return `<dt class="${ok ? "ok" : "err"}">${esc(status)}</dt><dd>${prose(r.description)}${ok && schema ? schemaView(schema, schemas) : ""}</dd>`;
    })
    .join("")}</dl></article>`;
}

/** A schema as a nested list of fields (`?` marks an optional one), a component reference resolved. */
function schemaView(schema: SchemaObject, schemas: Record<string, SchemaObject>, depth = 0): string {
  const s = resolve(schema, schemas);
  const item = s.type === "array" && s.items ? resolve(s.items as SchemaObject, schemas) : undefined;
  const target = item?.properties ? item : s;
  const props = target.properties as Record<string, SchemaObject> | undefined;
  const head = depth === 0 ? `<p class="type">${label(s, schemas)}${limits(s)}</p>` : "";
  if (!props || depth > 6) return head;
  const required = (target.required as string[] | undefined) ?? [];
  const rows = Object.entries(props).map(([name, p]) => {
    const nested = schemaView(nullable(p, schemas), schemas, depth + 1);
    const note = typeof p.description === "string" ? ` — ${prose(p.description)}` : "";
    return `<li>${code(name)}${required.includes(name) ? "" : "?"} ${label(p, schemas)}${limits(p)}${note}${nested}</li>`;
  });
  return `${head}<ul class="fields">${rows.join("")}</ul>`;
}

function resolve(s: SchemaObject, schemas: Record<string, SchemaObject>): SchemaObject {
  const ref = typeof s.$ref === "string" ? s.$ref.replace("#/components/schemas/", "") : undefined;
  return ref && schemas[ref] ? resolve(schemas[ref], schemas) : s;
}

/** `X | null` → X, to show X's fields. */
function nullable(s: SchemaObject, schemas: Record<string, SchemaObject>): SchemaObject {
  const options = (s.anyOf as SchemaObject[] | undefined)?.filter((o) => o.type !== "null");
  return options?.length === 1 && options[0] ? resolve(options[0], schemas) : resolve(s, schemas);
}

function label(schema: SchemaObject, schemas: Record<string, SchemaObject>): string {
  const s = resolve(schema, schemas);
  const union = (s.anyOf ?? s.oneOf) as SchemaObject[] | undefined;
  if (union) return union.map((o) => label(o, schemas)).join(" | ");
  if (Array.isArray(s.allOf)) return (s.allOf as SchemaObject[]).map((o) => label(o, schemas)).join(" & ");
  if (Array.isArray(s.enum)) return s.enum.map((v) => code(JSON.stringify(v))).join(" | ");
  if (s.const !== undefined) return code(JSON.stringify(s.const));
  if (s.type === "array") return `array of ${label((s.items as SchemaObject) ?? {}, schemas)}`;
  const extra = s.additionalProperties;
  if (s.type === "object" && !s.properties && extra && typeof extra === "object") {
    return `map of ${label(extra as SchemaObject, schemas)}`;
  }
  const type = Array.isArray(s.type) ? s.type.join(" | ") : typeof s.type === "string" ? s.type : "any";
  return `<span class="t">${esc(type)}${typeof s.format === "string" ? ` (${esc(s.format)})` : ""}</span>`;
}

function limits(s: SchemaObject): string {
  const keys = ["minLength", "maxLength", "minimum", "maximum", "minItems", "maxItems", "pattern", "default"];
  const found = keys.filter((k) => s[k] !== undefined).map((k) => `${k} ${code(String(s[k]))}`);
  return found.length ? ` <small>${found.join(", ")}</small>` : "";
}
