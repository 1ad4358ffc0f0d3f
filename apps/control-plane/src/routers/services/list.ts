import { readServiceHealth, type ServiceHealth } from "@mcp/core";
import { type AnyServiceDefinition, circuitState } from "@mcp/services";
import { z } from "zod";
import { publicProcedure } from "../../trpc/init.ts";
import { ZNoInput } from "../../trpc/schemas.ts";

const ZAnnotations = z.object({
  title: z.string().optional(),
  readOnlyHint: z.boolean().optional(),
  destructiveHint: z.boolean().optional(),
  idempotentHint: z.boolean().optional(),
  openWorldHint: z.boolean().optional(),
});

const ZProbe = z.object({
  healthy: z.boolean(),
  responseTimeMs: z.number(),
  error: z.string().optional(),
});

export const ZServiceHealth = z.object({
  healthy: z.boolean(),
  responseTimeMs: z.number(),
  /** ISO-8601 time of the last check (`lastCheck` is the same). */
  lastCheckedAt: z.string(),
  lastCheck: z.string(),
  lastError: z.string().nullable(),
  error: z.string().optional(),
  /** Since when `healthy` has had its current value. */
  since: z.string(),
  edge: ZProbe.extend({ url: z.string() }),
  upstream: ZProbe.extend({ check: z.enum(["http", "local", "skipped"]) }),
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
  /** Not known to be down: its circuit is closed and the health monitor's last check (if any) passed. */
  healthy: z.boolean(),
  /** The health monitor's last check; absent until one ran (or after its result expired). */
  health: ZServiceHealth.optional(),
});

export const ZListServicesOutput = z.array(ZServiceSummary);

/** The catalogue entry of one service: what a dashboard or an integrator needs to connect it. */
export function serviceSummary(
  s: AnyServiceDefinition,
  health?: ServiceHealth,
): z.infer<typeof ZServiceSummary> {
  // What the kv holds is another process's writing: only a well-formed result is shown.
  const checked = health ? ZServiceHealth.safeParse(health).data : undefined;
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
    healthy: (s.kind === "rest" ? circuitState(s) !== "open" : true) && checked?.healthy !== false,
    ...(checked && { health: checked }),
  };
}

/** The catalogue is public: it holds nothing about any user. */
export const listServicesProcedure = publicProcedure
  .input(ZNoInput)
  .output(ZListServicesOutput)
  .query(async ({ ctx }) => {
    const services = ctx.deps.registry.list();
    // Read from the kv, where the monitor (in whichever process leads) wrote them; a kv failure hides them.
    const health = await Promise.all(
      services.map((s) => readServiceHealth(ctx.deps.kv, s.type).catch(() => undefined)),
    );
    return services.map((s, i) => serviceSummary(s, health[i]));
  });
