import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { type ServiceConfig, ServiceConfigSchema } from "./definition.ts";
import { compileInputValidator } from "./json-schema.ts";
import type { McpTool, ServiceDefinition, ServiceRegistry, ToolDefinition } from "./types.ts";

const DEFAULT_DIR = fileURLToPath(new URL("../definitions", import.meta.url));

/** The env var that overrides a service's upstream, e.g. `SERVICE_FIGMA_BASE_URL`. */
export function baseUrlEnvName(type: string): string {
  return `SERVICE_${type.toUpperCase().replaceAll("-", "_")}_BASE_URL`;
}

/**
 * Reads and validates every `<type>/config.json` under `dir`. Synchronous and throwing on purpose:
 * it runs once at start-up, and a process with a broken definition should not start.
 */
export function loadRegistry(
  dir: string = DEFAULT_DIR,
  env: Record<string, string | undefined> = process.env,
): ServiceRegistry {
  const services = new Map<string, ServiceDefinition>();
  const folders = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory());
  for (const folder of folders.map((f) => f.name).sort()) {
    const file = join(dir, folder, "config.json");
    const config = readConfig(file, folder);
    const service = buildService(config, env);
    for (const other of services.values()) {
      if (other.prefix === service.prefix)
        fail(file, "prefix", `"${service.prefix}" is also used by ${other.type}`);
      if (other.port === service.port) fail(file, "port", `${service.port} is also used by ${other.type}`);
    }
    services.set(service.type, service);
  }
  const sorted = [...services.values()];
  return {
    get: (type) => services.get(type),
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

function readConfig(file: string, folder: string): ServiceConfig {
  if (!existsSync(file)) fail(file, "(file)", "missing; every folder under definitions/ is a service");
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    fail(file, "(file)", `invalid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  const parsed = ServiceConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new Error(`${displayPath(file)}: ${issues.join("; ")}`);
  }
  if (parsed.data.type !== folder)
    fail(file, "type", `"${parsed.data.type}" must match its folder "${folder}"`);
  return parsed.data;
}

function buildService(config: ServiceConfig, env: Record<string, string | undefined>): ServiceDefinition {
  const envName = baseUrlEnvName(config.type);
  // An empty value (e.g. `SERVICE_FIGMA_BASE_URL=` in a .env file) means "not set".
  const override = env[envName] || undefined;
  if (override !== undefined && !z.url({ protocol: /^https?$/ }).safeParse(override).success) {
    throw new Error(`${envName}: not an http(s) URL`);
  }
  const tools: ToolDefinition[] = config.tools.map((tool) => ({
    ...tool,
    validateInput: compileInputValidator(tool.inputSchema),
  }));
  const byName = new Map(tools.map((t) => [t.name, t]));
  const mcpTools: McpTool[] = config.tools.map(({ name, description, inputSchema, annotations }) =>
    annotations ? { name, description, inputSchema, annotations } : { name, description, inputSchema },
  );
  return {
    ...config,
    baseUrl: override ?? config.baseUrl,
    tools,
    mcpTools,
    getTool: (name) => byName.get(name),
  };
}
