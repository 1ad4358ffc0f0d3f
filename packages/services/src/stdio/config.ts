import { existsSync, realpathSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";

/** The only PATH a child ever sees: system binaries, never the platform's own PATH. */
export const SAFE_PATH = "/usr/local/bin:/usr/bin:/bin";

/** The services package: its `node_modules/.bin` holds the stdio servers the platform may run. */
export const SERVICES_PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

export const MAX_ARGS = 32;
export const MAX_ARG_CHARS = 1024;
export const MAX_ENV_VARS = 64;
export const MAX_ENV_VALUE_CHARS = 4096;

/** Names the pool sets itself (the safe base) or that change how a runtime loads code. */
const RESERVED_NAMES = new Set(["PATH", "HOME", "TMPDIR", "PWD", "SHELL", "NODE_OPTIONS", "NODE_PATH"]);
const RESERVED_PREFIXES = ["LD_", "DYLD_", "BUN_", "NODE_", "NPM_CONFIG_"];
/** The platform's own secrets and wiring: a definition naming one is a mistake or an attack. */
export const PLATFORM_ENV_NAMES = new Set([
  "DATABASE_URL",
  "REDIS_URL",
  "ENCRYPTION_KEYS",
  "METRICS_TOKEN",
  "SESSION_SECRET",
  "ALLOW_PRIVATE_UPSTREAMS",
  "ENABLED_SERVICES",
  "DATA_DIR",
]);

/** `{apiKey}`, `{additional.<field>}`, and `{home}` (the child's private, per-process directory). */
const PLACEHOLDER = /\{([A-Za-z_][\w]*(?:\.[A-Za-z_][\w-]*)?)\}/g;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const BIN_COMMAND = /^node_modules\/\.bin\/[A-Za-z0-9@._-]+$/;

export type StdioRuntime = "bun" | "node" | "bin";

/** A stdio server definition after validation: the command resolved to an absolute path that exists. */
export interface StdioServerConfig {
  command: string;
  runtime: StdioRuntime;
  args: string[];
  /** Env name → template. */
  env: Record<string, string>;
}

/** Why a name may not be set by a definition, or undefined when it may. */
export function forbiddenEnvName(name: string): string | undefined {
  const upper = name.toUpperCase();
  if (upper === "NODE_ENV") return undefined;
  if (PLATFORM_ENV_NAMES.has(upper)) return `${name} is one of the platform's own settings`;
  if (RESERVED_NAMES.has(upper)) return `${name} is set by the platform (safe base) and cannot be overridden`;
  const prefix = RESERVED_PREFIXES.find((p) => upper.startsWith(p));
  if (prefix) return `${name}: names starting with ${prefix} change how the runtime loads code`;
  return undefined;
}

function badPlaceholder(template: string): string | undefined {
  for (const match of template.matchAll(PLACEHOLDER)) {
    const name = match[1] ?? "";
    if (name === "apiKey" || name === "home" || /^additional\.[A-Za-z_][\w-]*$/.test(name)) continue;
    return `unknown placeholder {${name}} (use {apiKey}, {additional.<field>} or {home})`;
  }
  return undefined;
}

function which(name: string): string | undefined {
  return Bun.which(name, { PATH: SAFE_PATH }) ?? undefined;
}

const isInside = (root: string, path: string) => {
  const rel = relative(root, path);
  return rel !== "" && !rel.startsWith("..") && !rel.startsWith(sep);
};

/**
 * The node_modules folders a package resolves from (its own and its ancestors'), as real paths: Bun's
 * isolated installs link a package's node_modules entries into the workspace root's `node_modules/.bun`.
 */
function moduleRoots(projectDir: string): string[] {
  const roots: string[] = [];
  for (let dir = projectDir; ; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules");
    if (existsSync(candidate)) roots.push(realpathSync(candidate));
    if (dirname(dir) === dir) return roots;
  }
}

/** The command resolved against the project, or the reason it cannot run. */
export function resolveCommand(
  command: string,
  projectDir: string,
): { ok: true; command: string; runtime: StdioRuntime } | { ok: false; reason: string } {
  if (command === "bun" || command === "node") {
    const path = which(command);
    return path
      ? { ok: true, command: path, runtime: command }
      : { ok: false, reason: `${command} is not installed on ${SAFE_PATH}` };
  }
  if (!BIN_COMMAND.test(command)) {
    return { ok: false, reason: 'must be "bun", "node" or "node_modules/.bin/<name>"' };
  }
  const path = join(projectDir, command);
  if (!existsSync(path)) return { ok: false, reason: `${command} does not exist in ${projectDir}` };
  const real = realpathSync(path);
  if (!moduleRoots(projectDir).some((root) => isInside(root, real))) {
    return { ok: false, reason: `${command} points outside the project's node_modules` };
  }
  return { ok: true, command: real, runtime: "bin" };
}

/** The definition side of a stdio server; `projectDir` is where `node_modules/.bin` is looked up. */
export function stdioServerConfigSchema(projectDir: string = SERVICES_PACKAGE_DIR) {
  return z
    .object({
      command: z.string().min(1).max(256),
      args: z.array(z.string().max(MAX_ARG_CHARS)).max(MAX_ARGS).default([]),
      env: z.record(z.string(), z.string().max(MAX_ENV_VALUE_CHARS)).default({}),
    })
    .strict()
    .superRefine((value, ctx) => {
      const resolved = resolveCommand(value.command, projectDir);
      if (!resolved.ok) ctx.addIssue({ code: "custom", path: ["command"], message: resolved.reason });
      value.args.forEach((arg, i) => {
        // Arguments are world-readable in /proc/<pid>/cmdline: secrets go in env only.
        if (arg.match(PLACEHOLDER)) {
          ctx.addIssue({
            code: "custom",
            path: ["args", i],
            message: "placeholders belong in env, not args",
          });
        }
      });
      const names = Object.keys(value.env);
      if (names.length > MAX_ENV_VARS) {
        ctx.addIssue({ code: "custom", path: ["env"], message: `at most ${MAX_ENV_VARS} variables` });
      }
      for (const name of names) {
        const template = value.env[name] ?? "";
        const problem = !ENV_NAME.test(name)
          ? `${name} is not a valid environment variable name`
          : (forbiddenEnvName(name) ?? badPlaceholder(template));
        if (problem) ctx.addIssue({ code: "custom", path: ["env", name], message: problem });
      }
    })
    .transform((value): StdioServerConfig => {
      const resolved = resolveCommand(value.command, projectDir);
      // superRefine has already refused an unresolvable command.
      if (!resolved.ok) throw new Error(resolved.reason);
      return { command: resolved.command, runtime: resolved.runtime, args: value.args, env: value.env };
    });
}

/** The schema for definitions shipped with the services package. */
export const StdioServerConfigSchema = stdioServerConfigSchema();

/** What fills a definition's env templates for one credential. */
export interface StdioCredential {
  apiKey: string;
  additional?: Record<string, string>;
}

/** The definition's env with the credential and the child's home filled in. */
export function renderEnv(
  config: StdioServerConfig,
  credential: StdioCredential,
  home: string,
): { ok: true; env: Record<string, string> } | { ok: false; reason: string } {
  const env: Record<string, string> = {};
  for (const [name, template] of Object.entries(config.env)) {
    let missing: string | undefined;
    env[name] = template.replace(PLACEHOLDER, (whole, key: string) => {
      if (key === "apiKey") return credential.apiKey;
      if (key === "home") return home;
      const field = key.slice("additional.".length);
      const value = credential.additional?.[field];
      if (value === undefined) missing = field;
      return value ?? whole;
    });
    if (missing)
      return { ok: false, reason: `the credential has no additional field "${missing}" (env ${name})` };
  }
  return { ok: true, env };
}
