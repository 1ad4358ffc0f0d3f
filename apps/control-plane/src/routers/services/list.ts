import { type AnyServiceDefinition, circuitState } from "@mcp/services";
import { z } from "zod";
import { publicProcedure } from "../../trpc/init.ts";

const ZAnnotations = z.object({
  title: z.string().optional(),
  readOnlyHint: z.boolean().optional(),
  destructiveHint: z.boolean().optional(),
  idempotentHint: z.boolean().optional(),
  openWorldHint: z.boolean().optional(),
});

export const ZServiceSummary = z.object({
  type: z.string(),
  /** `rest`: tools defined by the platform; `mcp`: the vendor's own MCP server, relayed (its tools come from it). */
  kind: z.enum(["rest", "mcp"]),
  name: z.string(),
  description: z.string(),
  /** The upstream API's documentation. */
  docsUrl: z.string(),
  /** Where a user creates a key, and how. */
  keyUrl: z.string(),
  keyHelp: z.string().optional(),
  /** How the key is sent upstream (`header`, `bearer`, `basic`, `query`). */
  auth: z.enum(["header", "bearer", "basic", "query"]),
  /** Fields `instances.connect` needs in `additionalCredentials` beside the key. */
  additionalCredentials: z.array(
    z.object({
      name: z.string(),
      label: z.string(),
      description: z.string().optional(),
      pattern: z.string().optional(),
      required: z.boolean(),
      secret: z.boolean(),
    }),
  ),
  /** Requests per minute; absent = the platform's default, 0 = unlimited. */
  rateLimits: z.object({ perMinute: z.number().optional(), perInstancePerMinute: z.number().optional() }),
  tools: z.array(
    z.object({ name: z.string(), title: z.string(), description: z.string(), annotations: ZAnnotations }),
  ),
  healthy: z.boolean(),
});

export const ZListServicesOutput = z.array(ZServiceSummary);

/** The catalogue entry of one service: what a dashboard or an integrator needs to connect it. */
export function serviceSummary(s: AnyServiceDefinition): z.infer<typeof ZServiceSummary> {
  return {
    type: s.type,
    kind: s.kind,
    name: s.name,
    description: s.description,
    docsUrl: s.docsUrl,
    keyUrl: s.keyUrl,
    ...(s.keyHelp !== undefined && { keyHelp: s.keyHelp }),
    // A proxied server gets the key in the headers its definition names.
    auth: s.kind === "rest" ? s.auth.type : "header",
    additionalCredentials: s.additionalCredentials.map(
      ({ name, label, description, pattern, required, secret }) => ({
        name,
        label,
        ...(description !== undefined && { description }),
        ...(pattern !== undefined && { pattern }),
        required,
        secret,
      }),
    ),
    rateLimits: s.rateLimits,
    tools: (s.kind === "rest" ? s.mcpTools : []).map(({ name, title, description, annotations }) => ({
      name,
      title,
      description,
      annotations: annotations ?? {},
    })),
    healthy: s.kind === "rest" ? circuitState(s) !== "open" : true,
  };
}

/** The catalogue is public: it holds nothing about any user. */
export const listServicesProcedure = publicProcedure
  .output(ZListServicesOutput)
  .query(({ ctx }) => ctx.deps.registry.list().map(serviceSummary));
