import { ERRORS, type ErrorCode, ORG_ID, SESSION_COOKIE } from "@mcp/core";
import { z } from "zod";
import { type Access, defineRoute, errorCodesOf, type RestRoute, TAGS, ZRestError } from "./define.ts";
import { jsonSchema, type SchemaObject } from "./json-schema.ts";
import { REST_ROUTES } from "./table.ts";

/** Where the REST API lives; the document's `servers` entry (relative to the document's own URL). */
export const REST_BASE = "/api/v1";

const ZOpenApiDocument = z.looseObject({
  openapi: z.string(),
  info: z.looseObject({ title: z.string(), version: z.string() }),
  paths: z.record(z.string(), z.looseObject({})),
});
export type OpenApiDocument = z.output<typeof ZOpenApiDocument> & {
  components: { schemas: Record<string, SchemaObject>; securitySchemes: Record<string, SchemaObject> };
};

export const openApiRoute = defineRoute({
  method: "get",
  path: "/openapi.json",
  operationId: "getOpenApiDocument",
  summary: "This OpenAPI 3.1 document",
  description: "Generated from the same route table and zod schemas that serve the routes.",
  tag: "meta",
  access: "public",
  procedure: null,
  response: ZOpenApiDocument,
  errors: [],
  handle: async () => openApiDocument(),
});

/** The whole REST API, this document included: the Hono routes and the document both come from it. */
export const ALL_ROUTES: readonly RestRoute[] = [...REST_ROUTES, openApiRoute];

const SECURITY: Record<Access, Record<string, string[]>[]> = {
  // Credentials are optional; a bearer that is sent is still checked (a wrong one is a 401).
  public: [{}, { apiKey: [] }, { session: [] }],
  any: [{ apiKey: [] }, { session: [] }],
  session: [{ session: [] }],
};
const ACCESS_NOTE: Record<Access, string> = {
  public: "Public (credentials optional).",
  any: "A session cookie or an API key.",
  session: "A signed-in session only: an API key gets 403 `FORBIDDEN`.",
};

/** When each code is answered, for the reference (the README's error table, shortened). */
const WHEN: Partial<Record<ErrorCode, string>> = {
  BAD_REQUEST: "the input fails validation (with `issues`) or the body is not a JSON object",
  INVALID_API_KEY: "the upstream rejected the key",
  UNAUTHORIZED: "no or a bad session / API key",
  INVALID_INSTANCE: "unknown, revoked or malformed instance token",
  EXPIRED_CREDENTIALS: "the upstream rejected the stored credentials",
  FORBIDDEN:
    "an API key without the scope or where a session is required; a cross-origin cookie request; a foreign Host",
  NOT_FOUND: "no such service, instance or key (another user's counts as none)",
  METHOD_NOT_ALLOWED: "the path is served, but not with this method; `Allow` lists those it is",
  CONFLICT: "the resource exists already, or the key belongs to another upstream account",
  PAYLOAD_TOO_LARGE: "the body is over 64 KB",
  RATE_LIMIT_EXCEEDED: "too many attempts; see `Retry-After`",
  INTERNAL: "a bug; details only in the log, under the `requestId`",
  SERVICE_UNAVAILABLE: "the upstream or the database is unreachable; may carry `Retry-After`",
  IDEMPOTENCY_CONFLICT: "the `Idempotency-Key` was used before with a different request",
};

const json = (schema: SchemaObject) => ({ "application/json": { schema } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const pascal = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
const retryAfter = {
  "Retry-After": { description: "Seconds to wait before trying again.", schema: { type: "integer" } },
};

function parameters(schema: z.ZodObject | undefined, where: "path" | "query"): SchemaObject[] {
  if (!schema) return [];
  const { properties = {}, required = [] } = jsonSchema(schema, "input") as {
    properties?: Record<string, SchemaObject>;
    required?: string[];
  };
  return Object.entries(properties).map(([name, s]) => ({
    name,
    in: where,
    required: where === "path" || required.includes(name),
    ...(typeof s.description === "string" && { description: s.description }),
    schema: s,
  }));
}

function errorResponses(route: RestRoute): Record<string, SchemaObject> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of errorCodesOf(route)) {
    const status = ERRORS[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const out: Record<string, SchemaObject> = {};
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    out[String(status)] = {
      description: codes.map((c) => `\`${c}\`: ${WHEN[c] ?? "see the README's error table"}`).join("; "),
      ...((status === 429 || status === 503) && { headers: retryAfter }),
      content: json({ allOf: [ref("Error"), { properties: { code: { enum: codes } } }] }),
    };
  }
  return out;
}

const IDEMPOTENCY_KEY = {
  name: "Idempotency-Key",
  in: "header",
  required: false,
  description:
    "Makes a retry safe: a repeat of the same request with the same key gets the first answer again " +
    "(`Idempotency-Replayed: true`). Applies to signed-in callers.",
  schema: { type: "string", minLength: 1, maxLength: 255, pattern: "^[\\x20-\\x7e]+$" },
};

const ORG_ID_HEADER = {
  name: "X-Org-Id",
  in: "header",
  required: false,
  description:
    "The organisation the call acts in (`org_…`); a session without it acts in its personal organisation, an " +
    "API key always in the one it is bound to (naming another → 403). An organisation the caller is not in → 404.",
  schema: { type: "string", pattern: ORG_ID.source },
};

function security(route: RestRoute): Record<string, string[]>[] {
  const scopes = route.scope ? [route.scope] : [];
  return SECURITY[route.access].map((s) => (s.apiKey ? { apiKey: scopes } : s));
}

function operation(route: RestRoute, schemas: Record<string, SchemaObject>): SchemaObject {
  const name = pascal(route.operationId);
  const params = [
    ...parameters(route.params, "path"),
    ...parameters(route.query, "query"),
    ...(route.method === "get" ? [] : [IDEMPOTENCY_KEY]),
    ...(route.access === "public" ? [] : [ORG_ID_HEADER]),
  ];
  if (route.body) schemas[`${name}Request`] = jsonSchema(route.body, "input", schemas, `${name}Request`);
  schemas[`${name}Response`] = jsonSchema(route.response, "output", schemas, `${name}Response`);
  const twin = route.procedure ? ` REST twin of the tRPC procedure \`${route.procedure}\`.` : "";
  const scope = route.scope ? ` An API key needs the \`${route.scope}\` scope.` : "";
  return {
    operationId: route.operationId,
    summary: route.summary,
    description: `${route.description ? `${route.description}\n\n` : ""}${ACCESS_NOTE[route.access]}${scope}${twin}`,
    tags: [route.tag],
    security: security(route),
    ...(params.length > 0 && { parameters: params }),
    ...(route.body && { requestBody: { required: true, content: json(ref(`${name}Request`)) } }),
    responses: {
      [String(route.status ?? 200)]: {
        description: route.status === 201 ? "Created" : "Success",
        content: json(ref(`${name}Response`)),
      },
      ...errorResponses(route),
    },
    ...(route.procedure && { "x-trpc-procedure": route.procedure }),
  };
}

function build(): OpenApiDocument {
  const schemas: Record<string, SchemaObject> = { Error: jsonSchema(ZRestError, "output") };
  const paths: Record<string, Record<string, SchemaObject>> = {};
  for (const route of ALL_ROUTES) {
    const path = route.path.replace(/:(\w+)/g, "{$1}");
    paths[path] = { ...paths[path], [route.method]: operation(route, schemas) };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "MCP platform REST API",
      version: "1.0.0",
      description:
        "Plain REST for non-TypeScript clients: thin adapters over the tRPC procedures (same validation, " +
        "scoping and errors). Errors are always `{ error, code, requestId }`. Reference: `/api/docs`.",
    },
    servers: [{ url: REST_BASE }],
    tags: Object.entries(TAGS).map(([name, description]) => ({ name, description })),
    security: SECURITY.any,
    paths,
    components: {
      schemas,
      securitySchemes: {
        apiKey: {
          type: "http",
          scheme: "bearer",
          description: "`Authorization: Bearer <api key>` (create keys from a signed-in session).",
        },
        session: {
          type: "apiKey",
          in: "cookie",
          name: SESSION_COOKIE,
          description: `The dashboard's session cookie (\`__Host-${SESSION_COOKIE}\` with secure cookies).`,
        },
      },
    },
  };
}

let cached: OpenApiDocument | undefined;
/** The OpenAPI 3.1 document of every REST route (built once: it only depends on the code). */
export function openApiDocument(): OpenApiDocument {
  cached ??= build();
  return cached;
}
