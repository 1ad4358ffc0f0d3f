import { z } from "zod";
import { type JsonObjectSchema, JsonObjectSchemaSchema } from "./json-schema.ts";
import { StdioServerConfigSchema } from "./stdio/config.ts";

/**
 * The service definition format, version 1: what `definitions/<type>/config.json` may hold. Every field is
 * described here; `bun run services:schema` turns this schema into `definition.schema.json` for editors.
 */

const HttpMethod = z.enum(["GET", "POST", "PUT", "PATCH", "DELETE"]);
const RequestPath = z
  .string()
  .max(500)
  .regex(/^\/[^\s?#]*$/, "must start with / and hold no query or fragment");
const InputName = z.string().min(1).max(64);
const HttpUrl = z.url({ protocol: /^https?$/ });
/** A dot path into a JSON value: `user.login`, `errors.0.message`, `data.-1.id` (-1 = last element). */
const DotPath = z
  .string()
  .max(200)
  .regex(
    /^(-?[0-9]+|[A-Za-z_$][A-Za-z0-9_$-]*)(\.(-?[0-9]+|[A-Za-z_$][A-Za-z0-9_$-]*))*$/,
    "must be a dot path",
  );
/**
 * Headers neither a definition nor a model may set: they would re-route the request (`Host`, `Forwarded`, the
 * `X-Forwarded-*` and URL-rewriting headers a reverse proxy in front of the upstream may trust), pose as another
 * client (`X-Real-IP`), change its meaning (`X-HTTP-Method-Override`, framing, encoding), or carry credentials
 * other than the user's key.
 */
export const FORBIDDEN_HEADERS: ReadonlySet<string> = new Set([
  "host",
  "authorization",
  "proxy-authorization",
  "cookie",
  "connection",
  "content-length",
  "content-type",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "keep-alive",
  "expect",
  "forwarded",
  "via",
  "x-forwarded-for",
  "x-forwarded-host",
  "x-forwarded-proto",
  "x-forwarded-port",
  "x-forwarded-prefix",
  "x-forwarded-server",
  "x-forwarded-scheme",
  "x-forwarded-ssl",
  "x-host",
  "x-original-host",
  "x-original-url",
  "x-rewrite-url",
  "x-real-ip",
  "x-client-ip",
  "true-client-ip",
  "cf-connecting-ip",
  "proxy-connection",
  "content-encoding",
  "x-http-method-override",
  "x-http-method",
  "x-method-override",
  "user-agent",
]);
const HeaderName = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "must be an HTTP header name");
/** Headers a definition sets (`{ name: value }`), none of them forbidden. */
const settableHeaders = <V extends z.ZodType>(value: V) =>
  z.record(HeaderName, value).superRefine((headers, ctx) => {
    for (const name of Object.keys(headers)) {
      if (FORBIDDEN_HEADERS.has(name.toLowerCase())) {
        ctx.addIssue({
          code: "custom",
          path: [name],
          message: "this header cannot be set by a definition or by input",
        });
      }
    }
  });
const CredentialField = z.string().regex(/^[a-z][a-zA-Z0-9_]{0,31}$/);

/** `{name}` placeholders in a request path or base URL, in order. */
export function pathParams(path: string): string[] {
  return [...path.matchAll(/\{([^{}]+)\}/g)].map((m) => m[1] ?? "");
}

const Annotations = z
  .strictObject({
    title: z.string().max(200).optional().describe("Shown by older clients; defaults to the tool's title."),
    readOnlyHint: z.boolean().describe("The tool does not change anything upstream."),
    destructiveHint: z.boolean().describe("The tool may delete or overwrite data upstream."),
    idempotentHint: z.boolean().describe("Calling it twice with the same input has no further effect."),
    openWorldHint: z
      .boolean()
      .describe("The tool reaches an external system (always true for an upstream API)."),
  })
  .describe("MCP tool annotations: hints for clients, never trusted for security.");

/** Where input goes: a list of input names sent under their own name, or `{ target: inputName }`. */
const Mapping = z.union([z.array(InputName).max(64), z.record(z.string().min(1).max(200), InputName)]);

const Pagination = z
  .discriminatedUnion("type", [
    z.strictObject({
      type: z.literal("link").describe('RFC 8288 `Link` header with rel="next" (GitHub).'),
    }),
    z.strictObject({
      type: z.literal("cursor").describe("The response names the next cursor; it is sent back as `param`."),
      cursorPath: DotPath.describe(
        "Where the next cursor is in the response, e.g. `response_metadata.next_cursor`.",
      ),
      hasMorePath: DotPath.optional().describe(
        "A boolean saying whether there is another page (e.g. Stripe `has_more`).",
      ),
      in: z.enum(["query", "body"]).default("query").describe("Where the cursor goes in the next request."),
      param: z
        .string()
        .min(1)
        .max(200)
        .describe("Query parameter, or dot path in the body, e.g. `variables.after`."),
    }),
    z.strictObject({
      type: z.literal("page").describe("Numbered pages: `param` = 1, 2, 3, ..."),
      param: z.string().min(1).max(64),
      start: z.number().int().min(0).max(1).default(1),
      itemsPath: DotPath.optional().describe(
        "The list in the response; an empty list ends the pages. Default: the response itself.",
      ),
      in: z.enum(["query", "body"]).default("query"),
    }),
    z.strictObject({
      type: z.literal("offset").describe("An item offset: `param` = 0, n, 2n, ... (Jira `startAt`)."),
      param: z.string().min(1).max(64),
      itemsPath: DotPath.optional().describe("The list in the response. Default: the response itself."),
      totalPath: DotPath.optional().describe("The total count, when the response has one."),
      in: z.enum(["query", "body"]).default("query"),
    }),
  ])
  .describe(
    "How the tool pages. The model passes `cursor` (added to the input) and reads `nextCursor` from the result.",
  );

const ResponseShape = z
  .strictObject({
    root: DotPath.optional().describe(
      "Hand the model only this part of the answer (e.g. `data.issues` of a GraphQL answer); `fields` apply within it.",
    ),
    fields: z
      .array(DotPath)
      .min(1)
      .max(100)
      .optional()
      .describe("Keep only these dot paths (lists are mapped: `labels.name` keeps every label's name)."),
    maxChars: z
      .number()
      .int()
      .min(1000)
      .max(1_000_000)
      .optional()
      .describe("The result text is cut at this many characters, with a note saying so (default 100000)."),
  })
  .describe("How the upstream's answer is shaped for the model.");

const Request = z.strictObject({
  method: HttpMethod,
  path: RequestPath.describe("Appended to the base URL; `{name}` is a path segment from the input."),
  query: Mapping.optional().describe("Input sent as query parameters."),
  headers: settableHeaders(InputName)
    .optional()
    .describe("Input sent as request headers: `{ header: inputName }`."),
  body: Mapping.optional().describe('Input sent in the body: names, or `{ "dot.path": inputName }`.'),
  bodyTemplate: z
    .record(z.string(), z.json())
    .optional()
    .describe("Constant body the mapped input is merged into (e.g. a GraphQL `query`)."),
  bodyEncoding: z
    .enum(["json", "form"])
    .default("json")
    .describe("`form`: application/x-www-form-urlencoded with bracket keys (Stripe)."),
});

const ToolSchema = z
  .strictObject({
    name: z.string().regex(/^[a-z][a-z0-9_]{0,63}$/),
    title: z.string().min(1).max(200).describe("Human-readable name shown by clients."),
    description: z.string().min(1).max(4000),
    inputSchema: JsonObjectSchemaSchema,
    request: Request,
    pagination: Pagination.optional(),
    response: ResponseShape.optional(),
    cacheTtlMs: z
      .number()
      .int()
      .positive()
      .max(86_400_000)
      .optional()
      .describe("Per-user read cache; GET tools only."),
    timeoutMs: z
      .number()
      .int()
      .min(100)
      .max(300_000)
      .optional()
      .describe(
        "This tool's upstream deadline in ms (waiting for a pooled connection included); replaces the edge's default (30000).",
      ),
    annotations: Annotations,
  })
  .superRefine((tool, ctx) => checkToolInputs(tool, ctx));

type ToolShape = {
  annotations: { readOnlyHint: boolean };
  inputSchema: JsonObjectSchema;
  request: z.infer<typeof Request>;
  pagination?: z.infer<typeof Pagination>;
  cacheTtlMs?: number;
};

const mappedNames = (m: z.infer<typeof Mapping> | undefined): [string | number, string][] =>
  m === undefined ? [] : Array.isArray(m) ? [...m.entries()] : Object.entries(m);

// Every name the request uses must come from the validated input, or the executor would send
// `undefined` upstream; path params must also be required since a URL cannot omit them.
function checkToolInputs(tool: ToolShape, ctx: z.RefinementCtx): void {
  const { properties, required = [] } = tool.inputSchema;
  if (tool.inputSchema.additionalProperties !== false) {
    ctx.addIssue({
      code: "custom",
      path: ["inputSchema", "additionalProperties"],
      message: "a tool's input is a closed object (false); maps may only be nested",
    });
  }
  const used = new Set<string>();
  const use = (name: string, path: (string | number)[], mustBeRequired: boolean) => {
    if (!(name in properties)) {
      ctx.addIssue({ code: "custom", path, message: `"${name}" is not declared in inputSchema.properties` });
    } else if (mustBeRequired && !required.includes(name)) {
      ctx.addIssue({
        code: "custom",
        path,
        message: `path parameter "${name}" must be in inputSchema.required`,
      });
    }
    if (used.has(name)) ctx.addIssue({ code: "custom", path, message: `"${name}" is sent twice` });
    used.add(name);
  };
  const { request } = tool;
  for (const name of pathParams(request.path)) use(name, ["request", "path"], true);
  for (const [key, name] of mappedNames(request.query)) use(name, ["request", "query", key], false);
  for (const [key, name] of Object.entries(request.headers ?? {}))
    use(name, ["request", "headers", key], false);
  for (const [key, name] of mappedNames(request.body)) use(name, ["request", "body", key], false);
  // Mappings apply in order and a path replaces what is there: one that is a prefix of an earlier one
  // would silently drop it (`properties` after `properties.title` loses the title).
  if (request.body && !Array.isArray(request.body)) {
    const targets = Object.keys(request.body);
    for (const [i, later] of targets.entries()) {
      const lost = targets.slice(0, i).find((earlier) => earlier.startsWith(`${later}.`));
      if (lost) {
        ctx.addIssue({
          code: "custom",
          path: ["request", "body", later],
          message: `would overwrite "${lost}", mapped before it; map "${later}" first`,
        });
      }
    }
  }
  const hasBody = request.body !== undefined || request.bodyTemplate !== undefined;
  if (hasBody && request.method === "GET") {
    ctx.addIssue({ code: "custom", path: ["request", "body"], message: "a GET request cannot have a body" });
  }
  if (tool.cacheTtlMs !== undefined && !tool.annotations.readOnlyHint) {
    ctx.addIssue({
      code: "custom",
      path: ["cacheTtlMs"],
      message: "only read-only tools (readOnlyHint) may be cached",
    });
  }
  if (tool.pagination) {
    if ("cursor" in properties) {
      ctx.addIssue({
        code: "custom",
        path: ["inputSchema", "properties", "cursor"],
        message: "a paginated tool gets `cursor` added; do not declare it",
      });
    }
    // A next-page URL is fetched as it is: only a GET may follow one.
    if (tool.pagination.type === "link" && request.method !== "GET") {
      ctx.addIssue({
        code: "custom",
        path: ["pagination", "type"],
        message: "link pagination is for GET tools only",
      });
    }
    if ("in" in tool.pagination && tool.pagination.in === "body" && request.method === "GET") {
      ctx.addIssue({
        code: "custom",
        path: ["pagination", "in"],
        message: "a GET request cannot page in its body",
      });
    }
  }
}

const Auth = z
  .discriminatedUnion("type", [
    z.strictObject({
      type: z.literal("header").describe("The key as the whole value of a header, e.g. `X-Figma-Token`."),
      name: HeaderName,
    }),
    z.strictObject({ type: z.literal("bearer").describe("`Authorization: Bearer <key>`.") }),
    z.strictObject({
      type: z
        .literal("basic")
        .describe(
          "`Authorization: Basic` with a username from `additionalCredentials` and the key as password.",
        ),
      username: CredentialField.describe(
        "The `additionalCredentials` field holding the username (e.g. `email`).",
      ),
    }),
    z.strictObject({
      type: z.literal("query").describe("The key as a query parameter (avoid when the API allows a header)."),
      name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/),
    }),
  ])
  .describe("How the user's key is sent upstream.");

const AdditionalField = z.strictObject({
  name: CredentialField,
  label: z.string().min(1).max(100).describe("Shown next to the field in the dashboard."),
  description: z.string().max(500).optional(),
  pattern: z.string().max(500).optional().describe("A regular expression the whole value must match."),
  maxLength: z.number().int().min(1).max(4096).default(256),
  required: z.boolean().default(true).describe("Whether connecting needs it."),
  secret: z
    .boolean()
    .default(true)
    .describe("A secret is redacted from answers; an email or a site name is not."),
});

const Validation = z
  .strictObject({
    method: HttpMethod,
    path: RequestPath.regex(/^[^{}]*$/, "cannot hold {placeholders}"),
    body: z.record(z.string(), z.json()).optional().describe("A constant JSON body (e.g. a GraphQL query)."),
    account: z
      .strictObject({ id: DotPath.optional(), name: DotPath.optional(), email: DotPath.optional() })
      .optional()
      .describe('Which fields of the answer describe the account, shown as "connected as ...".'),
  })
  .describe("The request that proves a key works; it must answer 2xx JSON for a good key.");

const BodyErrors = z
  .strictObject({
    okPath: DotPath.optional().describe("A boolean that is false on failure (Slack `ok`)."),
    errorsPath: DotPath.optional().describe("A list that is non-empty on failure (GraphQL `errors`)."),
    messagePath: DotPath.describe("The human message, e.g. `error` or `errors.0.message`."),
    codePath: DotPath.optional().describe("A machine code compared with `authCodes`/`rateLimitCodes`."),
    authCodes: z
      .array(z.string().max(100))
      .max(50)
      .default([])
      .describe("Codes that mean the key is rejected."),
    rateLimitCodes: z.array(z.string().max(100)).max(50).default([]),
  })
  .describe("For APIs that report failures inside a 2xx body (Slack, GraphQL).");

const RateLimits = z
  .strictObject({
    perMinute: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe("Requests per minute to the service across all users; 0 = unlimited."),
    perInstancePerMinute: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe("Requests per minute for one instance; 0 = unlimited."),
  })
  .describe("Overridden by SERVICE_<TYPE>_RATE_LIMIT and RATE_LIMIT_PER_INSTANCE.");

const Health = z
  .strictObject({
    method: z.enum(["GET", "HEAD"]).default("GET"),
    path: RequestPath.regex(/^[^{}]*$/, "cannot hold {placeholders}").describe(
      "Appended to the base URL, e.g. a status endpoint that needs no key.",
    ),
  })
  .describe(
    "The health monitor's unauthenticated request; it must answer 2xx. Default: a GET of the base URL, where any answer below 500 means reachable.",
  );

const Pool = z
  .strictObject({
    maxConnections: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .default(50)
      .describe("Requests in flight to the service at once from one edge process (keep-alive connections)."),
    maxQueue: z
      .number()
      .int()
      .min(0)
      .max(10_000)
      .default(100)
      .describe(
        "Calls waiting for a free connection; beyond it a call fails at once with SERVICE_UNAVAILABLE.",
      ),
    queueTimeoutMs: z
      .number()
      .int()
      .min(100)
      .max(300_000)
      .default(10_000)
      .describe("How long a queued call waits for a free connection (never past the tool's deadline)."),
    connectTimeoutMs: z
      .number()
      .int()
      .min(100)
      .max(60_000)
      .default(5_000)
      .describe(
        "How long opening a connection to the upstream may take (checked when no answer came from it in the last 30 s); past it the call fails at once as unreachable.",
      ),
  })
  .describe("The service's upstream connection pool, per edge process.");

export const DEFINITION_VERSION = 1;

/** What every definition says, whatever its kind. */
const common = {
  $schema: z.string().max(500).optional(),
  version: z.literal(DEFINITION_VERSION).describe("The definition format's version."),
  type: z
    .string()
    .regex(/^[a-z][a-z0-9_-]{1,31}$/)
    .describe("Folder name and the service's id in APIs."),
  name: z.string().min(1).max(100),
  prefix: z
    .string()
    .regex(/^[a-z]{2,8}$/)
    .describe("In instance tokens: mcp_<prefix>_..."),
  port: z.number().int().min(1024).max(65_535).describe("The per-service edge process's port."),
  description: z.string().min(1).max(2000),
  docsUrl: HttpUrl.describe("The upstream API's documentation."),
  keyUrl: HttpUrl.describe("Where a user creates a key."),
  keyHelp: z.string().max(1000).optional().describe("How to create a key with the scopes the tools need."),
  additionalCredentials: z.array(AdditionalField).max(10).default([]),
  rateLimits: RateLimits.optional(),
};
/** Upstreams the monitor reaches over HTTP (REST and remote MCP); a stdio server is checked locally. */
const health = { health: Health.optional() };

export const ServiceConfigSchema = z
  .strictObject({
    ...common,
    ...health,
    kind: z.literal("rest").optional().describe("A REST API described tool by tool (the default)."),
    baseUrl: z
      .string()
      .max(500)
      .describe("The upstream; `{field}` takes a non-secret additional credential (e.g. a Jira site)."),
    headers: settableHeaders(z.string().max(500))
      .optional()
      .describe("Sent with every request (API versions)."),
    auth: Auth,
    validation: Validation,
    bodyErrors: BodyErrors.optional(),
    pool: Pool.optional(),
    tools: z.array(ToolSchema).min(1).max(200),
  })
  .superRefine((service, ctx) => {
    const seen = new Set<string>();
    for (const [i, tool] of service.tools.entries()) {
      if (seen.has(tool.name)) {
        ctx.addIssue({
          code: "custom",
          path: ["tools", i, "name"],
          message: `duplicate tool "${tool.name}"`,
        });
      }
      seen.add(tool.name);
    }
    const fields = new Map(service.additionalCredentials.map((f) => [f.name, f]));
    if (service.auth.type === "basic" && !fields.has(service.auth.username)) {
      ctx.addIssue({
        code: "custom",
        path: ["auth", "username"],
        message: `"${service.auth.username}" is not in additionalCredentials`,
      });
    }
    checkBaseUrl(service.baseUrl, fields, ctx);
  });

// A user-supplied piece of the upstream's host must be pinned by a pattern, or a key could be sent anywhere.
function checkBaseUrl(
  baseUrl: string,
  fields: Map<string, z.infer<typeof AdditionalField>>,
  ctx: z.RefinementCtx,
): void {
  for (const name of pathParams(baseUrl)) {
    const field = fields.get(name);
    if (!field) {
      ctx.addIssue({
        code: "custom",
        path: ["baseUrl"],
        message: `"{${name}}" is not in additionalCredentials`,
      });
    } else if (!field.pattern || field.secret) {
      ctx.addIssue({
        code: "custom",
        path: ["baseUrl"],
        message: `"{${name}}" must be a non-secret additional credential with a pattern`,
      });
    }
  }
  const sample = baseUrl.replace(/\{[^{}]+\}/g, "x");
  // Keys never travel in clear text; SERVICE_<TYPE>_BASE_URL may still point at an http test server.
  if (!z.url({ protocol: /^https$/ }).safeParse(sample).success) {
    ctx.addIssue({ code: "custom", path: ["baseUrl"], message: "must be an https URL" });
  }
}

/** A service definition as parsed from `definitions/<type>/config.json` (defaults applied). */
export type ServiceConfig = z.infer<typeof ServiceConfigSchema>;
/** A definition as written (before defaults), e.g. by the OpenAPI importer. */
export type ServiceConfigInput = z.input<typeof ServiceConfigSchema>;
export type ToolConfig = ServiceConfig["tools"][number];
export type AuthConfig = ServiceConfig["auth"];
export type PaginationConfig = NonNullable<ToolConfig["pagination"]>;
export type BodyErrorsConfig = NonNullable<ServiceConfig["bodyErrors"]>;
export type AdditionalCredentialField = ServiceConfig["additionalCredentials"][number];
export type HealthRequestConfig = NonNullable<ServiceConfig["health"]>;

/** `{apiKey}` and `{additional.<field>}` in a proxied server's header templates. */
export function credentialPlaceholders(template: string): string[] {
  return [...template.matchAll(/\{([^{}]+)\}/g)].map((m) => m[1] ?? "");
}

/**
 * A service that is already an MCP server (kind `mcp`): each user's instance relays to it with that user's
 * key in the headers the definition names. `transport: "remote"` is a Streamable HTTP (or legacy SSE) URL.
 */
const RemoteProxiedSchema = z
  .strictObject({
    ...common,
    ...health,
    kind: z.literal("mcp"),
    transport: z.literal("remote").describe("A remote MCP server (Streamable HTTP, or legacy HTTP+SSE)."),
    baseUrl: z.string().max(500).describe("The server's MCP endpoint; SERVICE_<TYPE>_BASE_URL overrides it."),
    headers: z
      .record(HeaderName, z.string().min(1).max(1000))
      .describe(
        'Sent on every request; `{apiKey}` and `{additional.<field>}` are filled from the user\'s credential, e.g. `{ "Authorization": "Bearer {apiKey}" }`.',
      ),
  })
  .superRefine((service, ctx) => {
    if (!z.url({ protocol: /^https$/ }).safeParse(service.baseUrl).success) {
      ctx.addIssue({ code: "custom", path: ["baseUrl"], message: "must be an https URL" });
    }
    const fields = new Set(service.additionalCredentials.map((f) => f.name));
    let usesKey = false;
    for (const [name, template] of Object.entries(service.headers)) {
      // Authorization is where a key belongs here; everything else that re-routes or re-frames is not.
      if (name.toLowerCase() !== "authorization" && FORBIDDEN_HEADERS.has(name.toLowerCase())) {
        ctx.addIssue({
          code: "custom",
          path: ["headers", name],
          message: "this header cannot be set by a definition",
        });
      }
      for (const placeholder of credentialPlaceholders(template)) {
        if (placeholder === "apiKey") usesKey = true;
        else if (
          !placeholder.startsWith("additional.") ||
          !fields.has(placeholder.slice("additional.".length))
        ) {
          ctx.addIssue({
            code: "custom",
            path: ["headers", name],
            message: `"{${placeholder}}" is neither {apiKey} nor {additional.<field>} of additionalCredentials`,
          });
        }
      }
    }
    if (!usesKey) ctx.addIssue({ code: "custom", path: ["headers"], message: "no header carries {apiKey}" });
  });

/**
 * A local MCP server run over stdio, one process per user's credential: `command` is `bun`, `node` or a
 * `node_modules/.bin` entry of the project (nothing is downloaded), and the credential reaches it only in
 * the environment variables `env` names (`{apiKey}`, `{additional.<field>}`, `{home}`: its private folder).
 */
const StdioProxiedSchema = z.strictObject({
  ...common,
  kind: z.literal("mcp"),
  transport: z.literal("stdio").describe("A local MCP server started per user's credential."),
  stdio: StdioServerConfigSchema,
});

export const ProxiedServiceConfigSchema = z.discriminatedUnion("transport", [
  RemoteProxiedSchema,
  StdioProxiedSchema,
]);

export type ProxiedServiceConfig = z.infer<typeof ProxiedServiceConfigSchema>;
