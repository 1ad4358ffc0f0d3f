import { z } from "zod";
import { type JsonObjectSchema, JsonObjectSchemaSchema } from "./json-schema.ts";

const HttpMethod = z.enum(["GET", "POST", "PUT", "PATCH", "DELETE"]);
const RequestPath = z.string().regex(/^\/[^\s?#]*$/, "must start with / and hold no query or fragment");
const InputName = z.string().min(1).max(64);
const HttpUrl = z.url({ protocol: /^https?$/ });

/** `{name}` placeholders in a request path, in order. */
export function pathParams(path: string): string[] {
  return [...path.matchAll(/\{([^{}]+)\}/g)].map((m) => m[1] ?? "");
}

const Annotations = z.strictObject({
  title: z.string().max(200).optional(),
  readOnlyHint: z.boolean().optional(),
  destructiveHint: z.boolean().optional(),
  idempotentHint: z.boolean().optional(),
  openWorldHint: z.boolean().optional(),
});

const ToolSchema = z
  .strictObject({
    name: z.string().regex(/^[a-z][a-z0-9_]{0,63}$/),
    description: z.string().min(1).max(4000),
    inputSchema: JsonObjectSchemaSchema,
    request: z.strictObject({
      method: HttpMethod,
      path: RequestPath,
      query: z.array(InputName).optional(),
      body: z.array(InputName).optional(),
    }),
    cacheTtlMs: z.number().int().positive().max(86_400_000).optional(),
    annotations: Annotations.optional(),
  })
  .superRefine((tool, ctx) => checkToolInputs(tool, ctx));

type ToolShape = {
  inputSchema: JsonObjectSchema;
  request: { method: string; path: string; query?: string[]; body?: string[] };
  cacheTtlMs?: number;
};

// Every name the request uses must come from the validated input, or the executor would send
// `undefined` upstream; path params must also be required since a URL cannot omit them.
function checkToolInputs(tool: ToolShape, ctx: z.RefinementCtx): void {
  const { properties, required = [] } = tool.inputSchema;
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
  for (const name of pathParams(tool.request.path)) use(name, ["request", "path"], true);
  for (const [i, name] of (tool.request.query ?? []).entries()) use(name, ["request", "query", i], false);
  for (const [i, name] of (tool.request.body ?? []).entries()) use(name, ["request", "body", i], false);
  if (tool.request.body && tool.request.method === "GET") {
    ctx.addIssue({ code: "custom", path: ["request", "body"], message: "a GET request cannot have a body" });
  }
  if (tool.cacheTtlMs !== undefined && tool.request.method !== "GET") {
    ctx.addIssue({ code: "custom", path: ["cacheTtlMs"], message: "only GET tools may be cached" });
  }
}

const Auth = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("header"), name: z.string().regex(/^[A-Za-z0-9-]{1,64}$/) }),
  z.strictObject({ type: z.literal("bearer") }),
  z.strictObject({ type: z.literal("query"), name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/) }),
]);

export const ServiceConfigSchema = z
  .strictObject({
    type: z.string().regex(/^[a-z][a-z0-9_-]{1,31}$/),
    name: z.string().min(1).max(100),
    prefix: z.string().regex(/^[a-z]{2,8}$/),
    port: z.number().int().min(1024).max(65_535),
    baseUrl: HttpUrl,
    description: z.string().min(1).max(2000),
    auth: Auth,
    validation: z.strictObject({
      method: HttpMethod,
      path: RequestPath.regex(/^[^{}]*$/, "cannot hold {placeholders}"),
    }),
    tools: z.array(ToolSchema).min(1),
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
  });

/** A service definition exactly as written in `definitions/<type>/config.json`. */
export type ServiceConfig = z.infer<typeof ServiceConfigSchema>;
export type ToolConfig = ServiceConfig["tools"][number];
export type AuthConfig = ServiceConfig["auth"];
