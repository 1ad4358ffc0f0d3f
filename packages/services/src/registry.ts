import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import {
  type ProxiedServiceConfig,
  ProxiedServiceConfigSchema,
  type ServiceConfig,
  ServiceConfigSchema,
} from "./definition.ts";
import { compileInputValidator } from "./json-schema.ts";
import { CURSOR_PROPERTY } from "./pagination.ts";
import type {
  AnyServiceDefinition,
  McpTool,
  ProxiedServiceDefinition,
  ResolvedRateLimits,
  ServiceDefinition,
  ServiceRegistry,
  ToolDefinition,
} from "./types.ts";

/** The definitions shipped with the platform. */
export const DEFINITIONS_DIR = fileURLToPath(new URL("../definitions", import.meta.url));

const envPrefix = (type: string) => `SERVICE_${type.toUpperCase().replaceAll("-", "_")}`;

/** The env var that overrides a service's upstream, e.g. `SERVICE_FIGMA_BASE_URL`. */
export function baseUrlEnvName(type: string): string {
  return `${envPrefix(type)}_BASE_URL`;
}

/** The env var that overrides a service's requests per minute across all users, e.g. `SERVICE_GITHUB_RATE_LIMIT`. */
export function rateLimitEnvName(type: string): string {
  return `${envPrefix(type)}_RATE_LIMIT`;
}

/** Users' own MCP servers share the `custom` type and the `cus` token prefix: no definition may take either. */
export const CUSTOM_SERVICE = { type: "custom", prefix: "cus" } as const;

/**
 * Reads and validates every `<type>/config.json` under `dirs` (the shipped definitions by default, plus any
 * an operator adds). Synchronous and throwing on purpose: it runs once at start-up, and a process with a
 * broken definition should not start.
 */
export function loadRegistry(
  dirs: string | readonly string[] = DEFINITIONS_DIR,
  env: Record<string, string | undefined> = process.env,
): ServiceRegistry {
  const services = new Map<string, AnyServiceDefinition>();
  const files = new Map<string, string>();
  // ENABLED_SERVICES=figma,github: only those folders are read (an operator's allowlist); unset = all.
  const enabled = env.ENABLED_SERVICES?.split(",")
    .map((t) => t.trim())
    .filter(Boolean);
  for (const dir of typeof dirs === "string" ? [dirs] : dirs) {
    const folders = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory());
    for (const folder of folders.map((f) => f.name).sort()) {
      if (enabled?.length && !enabled.includes(folder)) continue;
      const file = join(dir, folder, "config.json");
      const config = readConfig(file, folder);
      const service = config.kind === "mcp" ? buildProxied(config, env) : buildService(config, env);
      // A definition named like users' own servers would be served as theirs (or its tokens taken for theirs).
      if (envPrefix(service.type) === envPrefix(CUSTOM_SERVICE.type))
        fail(file, "type", `"${service.type}" is reserved for users' own MCP servers`);
      if (service.prefix === CUSTOM_SERVICE.prefix)
        fail(file, "prefix", `"${service.prefix}" is reserved for users' own MCP servers`);
      for (const other of services.values()) {
        const where = `${other.type} (${displayPath(files.get(other.type) ?? "")})`;
        if (other.type === service.type) fail(file, "type", `"${service.type}" is also defined by ${where}`);
        // `my-api` and `my_api` would read the same SERVICE_MY_API_* settings.
        if (envPrefix(other.type) === envPrefix(service.type))
          fail(
            file,
            "type",
            `"${service.type}" has the same ${envPrefix(service.type)}_* settings as ${where}`,
          );
        if (other.prefix === service.prefix)
          fail(file, "prefix", `"${service.prefix}" is also used by ${where}`);
        if (other.port === service.port) fail(file, "port", `${service.port} is also used by ${where}`);
      }
      services.set(service.type, service);
      files.set(service.type, file);
    }
  }
  // A name that matches no definition is a typo (`figmaa`): refused, rather than starting without the service.
  // `custom` (users' own MCP servers) is no definition: always served, naming it is harmless.
  const unknown = enabled?.filter((type) => !services.has(type) && type !== "custom") ?? [];
  if (unknown.length > 0) {
    throw new Error(
      `invalid environment: ENABLED_SERVICES: no definition for ${unknown.map((t) => JSON.stringify(t.slice(0, 64))).join(", ")}`,
    );
  }
  const sorted = [...services.values()].sort((a, b) => a.type.localeCompare(b.type));
  return {
    get: (type) => {
      const service = services.get(type);
      return service?.kind === "rest" ? service : undefined;
    },
    proxied: (type) => {
      const service = services.get(type);
      return service?.kind === "mcp" ? service : undefined;
    },
    any: (type) => services.get(type),
    has: (type) => services.has(type),
    list: () => [...sorted],
  };
}

function fail(file: string, field: string, message: string): never {
  throw new Error(`${displayPath(file)}: ${field}: ${message}`);
}

// Relative to the working directory when possible, so messages read like the repository layout.
function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel.startsWith("..") ? file : rel;
}

function readConfig(file: string, folder: string): ServiceConfig | ProxiedServiceConfig {
  if (!existsSync(file)) fail(file, "(file)", "missing; every folder under definitions/ is a service");
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    fail(file, "(file)", `invalid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  // The kind picks the schema, so a broken definition of either kind names its exact field.
  const proxied = typeof raw === "object" && raw !== null && (raw as { kind?: unknown }).kind === "mcp";
  const parsed = proxied ? ProxiedServiceConfigSchema.safeParse(raw) : ServiceConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new Error(`${displayPath(file)}: ${issues.join("; ")}`);
  }
  if (parsed.data.type !== folder)
    fail(file, "type", `"${parsed.data.type}" must match its folder "${folder}"`);
  return parsed.data;
}

/** A per-minute limit from the environment: a whole number, 0 = unlimited; unset or empty = not overridden. */
export function limitFromEnv(env: Record<string, string | undefined>, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === "") return undefined;
  if (!/^[0-9]{1,9}$/.test(raw))
    throw new Error(`${name}: must be a whole number of requests per minute (0 = unlimited)`);
  return Number(raw);
}

/** A paginated tool's input gains `cursor`, the `nextCursor` of the page before. */
function withCursor(tool: ServiceConfig["tools"][number]): ServiceConfig["tools"][number] {
  if (!tool.pagination) return tool;
  const { properties } = tool.inputSchema;
  return {
    ...tool,
    inputSchema: { ...tool.inputSchema, properties: { ...properties, cursor: { ...CURSOR_PROPERTY } } },
  };
}

/** SERVICE_<TYPE>_BASE_URL, when set; an empty value (e.g. `SERVICE_FIGMA_BASE_URL=` in a .env file) is not. */
function baseUrlOverride(type: string, env: Record<string, string | undefined>): string | undefined {
  const envName = baseUrlEnvName(type);
  const override = env[envName] || undefined;
  if (override !== undefined && !z.url({ protocol: /^https?$/ }).safeParse(override).success) {
    throw new Error(`${envName}: not an http(s) URL`);
  }
  return override;
}

function resolvedLimits(
  config: Pick<ServiceConfig, "type" | "rateLimits">,
  env: Record<string, string | undefined>,
): ResolvedRateLimits {
  const perMinute = limitFromEnv(env, rateLimitEnvName(config.type)) ?? config.rateLimits?.perMinute;
  const perInstancePerMinute = config.rateLimits?.perInstancePerMinute;
  return {
    ...(perMinute !== undefined && { perMinute }),
    ...(perInstancePerMinute !== undefined && { perInstancePerMinute }),
  };
}

function buildProxied(
  config: ProxiedServiceConfig,
  env: Record<string, string | undefined>,
): ProxiedServiceDefinition {
  const rateLimits = resolvedLimits(config, env);
  if (config.transport === "stdio") return { ...config, rateLimits };
  const override = baseUrlOverride(config.type, env);
  return { ...config, baseUrl: override ?? config.baseUrl, rateLimits };
}

function buildService(config: ServiceConfig, env: Record<string, string | undefined>): ServiceDefinition {
  const override = baseUrlOverride(config.type, env);
  const tools: ToolDefinition[] = config.tools.map(withCursor).map((tool) => ({
    ...tool,
    validateInput: compileInputValidator(tool.inputSchema),
  }));
  const byName = new Map(tools.map((t) => [t.name, t]));
  const mcpTools: McpTool[] = tools.map(({ name, title, description, inputSchema, annotations }) => ({
    name,
    title,
    description,
    inputSchema,
    annotations: { title, ...annotations },
  }));
  return {
    ...config,
    kind: "rest",
    // The override replaces the whole URL, `{site}`-style placeholders included (a self-hosted install, a test).
    baseUrl: override ?? config.baseUrl,
    rateLimits: resolvedLimits(config, env),
    tools,
    mcpTools,
    getTool: (name) => byName.get(name),
  };
}
