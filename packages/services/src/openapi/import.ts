import { existsSync, readFileSync, realpathSync } from "node:fs";
import { dirname, resolve as resolvePath, sep } from "node:path";
import { fileURLToPath } from "node:url";
import SwaggerParser from "@apidevtools/swagger-parser";
import { z } from "zod";
import { FORBIDDEN_HEADERS, type ServiceConfigInput, ServiceConfigSchema } from "../definition.ts";
import { compileInputValidator, type JsonObjectSchema, type JsonSchema } from "../json-schema.ts";
import { CUSTOM_SERVICE } from "../registry.ts";
import { humanize, inputName, pickPort, pickPrefix, toolName, unique } from "./names.ts";
import {
  CircularRefError,
  type ConvertContext,
  convertSchema,
  deref,
  flatten,
  isRecord,
  truncate,
  typeOf,
} from "./schema.ts";

/** A failure with a one-line message for the user; nothing may be written after it. */
export class OpenApiImportError extends Error {
  override name = "OpenApiImportError";
}

/** A service already in the registry: its type, token prefix and port are not available. */
export interface ExistingService {
  type: string;
  prefix?: string;
  port?: number;
  /** Where it is defined, for the message when the type is taken. */
  file?: string;
}

export interface ImportOptions {
  /** The service type (folder name): `^[a-z][a-z0-9_-]{1,31}$`. */
  type: string;
  /** Replaces `servers[0].url` (required when that is relative or missing). */
  baseUrl?: string;
  /** The registry's services, for a free prefix and port and to refuse a taken type. */
  existing?: readonly ExistingService[];
  /** The document's path: relative `$ref`s to other files are resolved from it. */
  source?: string;
  /** The definition's `$schema` (a relative path to definition.schema.json). */
  schemaRef?: string;
  /** Keep this prefix and port (when overwriting an earlier import). */
  prefix?: string;
  port?: number;
}

export interface ImportResult {
  config: ServiceConfigInput;
  /** What could not be carried over faithfully, one line each. */
  warnings: string[];
  /** Which request became `validation`, and why. */
  validation: string;
}

export const TYPE_PATTERN = /^[a-z][a-z0-9_-]{1,31}$/;
export const SWAGGER2_MESSAGE =
  "Swagger 2.0 is not supported; convert it to OpenAPI 3 first, e.g. with swagger2openapi";

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;
const SUPPORTED = new Set(["GET", "POST", "PUT", "PATCH", "DELETE"]);
type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
const MAX_TOOLS = 200;
const JSON_MEDIA = /^application\/(?:[\w.-]+\+)?json\s*(?:;|$)/i;
const FORM_MEDIA = /^application\/x-www-form-urlencoded\s*(?:;|$)/i;
/** What a definition accepts as a header name (definition.ts `HeaderName`). */
const HEADER_NAME = /^[A-Za-z0-9_-]{1,64}$/;
/** A query parameter's name as a definition's `query` mapping can hold it. */
const MAX_QUERY_NAME = 200;
/**
 * Parameters and body fields that carry a credential (Slack's `token`): with the platform sending the user's
 * key itself, they are never inputs (a model would be asked for a secret).
 */
const CREDENTIAL_NAME = /^(?:x[-_]?)?(?:access[-_]?|auth[-_]?|api[-_]?|bearer[-_]?)?(?:token|key)$/i;
const isCredentialName = (name: string) => name.toLowerCase() !== "key" && CREDENTIAL_NAME.test(name);
const BODY_KEY = /^(-?[0-9]+|[A-Za-z_$][A-Za-z0-9_$-]*)$/;
/** Headers the platform sets itself. */
// Set by the platform (accept) or never settable (FORBIDDEN_HEADERS: Host, Authorization, Forwarded, ...).
const RESERVED_HEADERS = new Set(["accept", ...FORBIDDEN_HEADERS]);
const HttpUrl = z.url({ protocol: /^https?$/ });
/** Types and token prefixes the platform uses itself: users' own MCP servers. */
const RESERVED: readonly ExistingService[] = [CUSTOM_SERVICE];
/** The SERVICE_<TYPE>_* settings a type reads (registry.ts): `my-api` and `my_api` read the same ones. */
const envKey = (type: string) => type.toUpperCase().replaceAll("-", "_");
/** A server variable that is one label of the host becomes a field each user fills in: one DNS label. */
const HOST_LABEL_PATTERN = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";

interface Operation {
  method: string;
  path: string;
  op: Record<string, unknown>;
  pathItem: Record<string, unknown>;
  /** The operationId, else `METHOD /path`: how messages name it. */
  label: string;
}

type Tool = ServiceConfigInput["tools"][number];
type Auth = ServiceConfigInput["auth"];

const oneLine = (text: string, max = 400) => truncate(text.replace(/\s+/g, " ").trim(), max);
const str = (v: unknown): string | undefined =>
  typeof v === "string" && v.trim() !== "" ? v.trim() : undefined;
const records = (v: unknown): Record<string, unknown>[] => (Array.isArray(v) ? v.filter(isRecord) : []);

/**
 * Turns an OpenAPI 3.0 / 3.1 document (already parsed from JSON or YAML) into a service definition. Throws
 * `OpenApiImportError` for anything that must stop the import; the result always parses with
 * `ServiceConfigSchema` and compiles in `loadRegistry`.
 */
export async function importOpenApi(document: unknown, options: ImportOptions): Promise<ImportResult> {
  const { type } = options;
  if (!TYPE_PATTERN.test(type)) throw new OpenApiImportError(invalidTypeMessage(type));
  if (RESERVED.some((s) => s.type === type)) {
    throw new OpenApiImportError(
      `the type "${type}" is reserved (users' own MCP servers); choose another --type`,
    );
  }
  const existing = [...RESERVED, ...(options.existing ?? [])];
  const clash = existing.find((s) => s.type === type);
  if (clash) {
    throw new OpenApiImportError(
      `the type "${type}" is already in the registry${clash.file ? ` (${clash.file})` : ""}; choose another --type`,
    );
  }
  const sameSettings = existing.find((s) => envKey(s.type) === envKey(type));
  if (sameSettings) {
    throw new OpenApiImportError(
      `the type "${type}" would read the same SERVICE_${envKey(type)}_* settings as "${sameSettings.type}"${sameSettings.file ? ` (${sameSettings.file})` : ""}, and the registry refuses both; choose another --type`,
    );
  }
  const api = await parseDocument(document, options.source);
  const warnings: string[] = [];
  const warn = (message: string) => warnings.push(oneLine(message, 500));

  const operations = collectOperations(api, warn);
  const auth = chooseAuth(api, operations, warn);
  const base = chooseBaseUrl(api, options.baseUrl, operations, auth.additionalCredentials ?? [], warn);
  const { baseUrl } = base;
  const additionalCredentials = [...(auth.additionalCredentials ?? []), ...base.fields];

  const names = new Set<string>();
  const tools: Tool[] = [];
  const overLimit: string[] = [];
  for (const operation of operations) {
    // Past the limit an operation is only counted: its own warnings would be about a tool never written.
    const full = tools.length === MAX_TOOLS;
    const tool = buildTool(api, operation, auth.auth, full ? () => {} : warn);
    if (tool === undefined) continue;
    if (full) {
      overLimit.push(operation.label);
      continue;
    }
    const wanted = tool.name;
    tool.name = unique(wanted, names);
    if (tool.name !== wanted) {
      warn(`${operation.label}: named "${tool.name}"; "${wanted}" is taken by an earlier operation`);
    }
    tools.push(tool);
  }
  if (tools.length === 0) throw new OpenApiImportError("no operation in the document could become a tool");
  if (overLimit.length > 0) {
    // One line, not one per operation: a large API (GitHub, Stripe) has thousands.
    warn(
      `${overLimit.length} operation(s) skipped; a definition holds at most ${MAX_TOOLS} tools: ${overLimit.slice(0, 5).join(", ")}${overLimit.length > 5 ? ", ..." : ""}`,
    );
  }

  const info = isRecord(api.info) ? api.info : {};
  const name = truncate(oneLine(str(info.title) ?? type), 100);
  const prefixes = new Set(existing.flatMap((s) => (s.prefix ? [s.prefix] : [])));
  const ports = new Set(existing.flatMap((s) => (s.port ? [s.port] : [])));
  const prefix =
    options.prefix !== undefined && !prefixes.has(options.prefix)
      ? options.prefix
      : pickPrefix(type, prefixes);
  const port = options.port !== undefined && !ports.has(options.port) ? options.port : pickPort(ports);
  const docsUrl = chooseDocsUrl(api, baseUrl.replace(/\{[^{}]+\}/g, "x"), warn);
  const validation = chooseValidation(operations, auth, api, warn);

  const config: ServiceConfigInput = {
    $schema: options.schemaRef ?? "../../definition.schema.json",
    version: 1,
    type,
    name,
    prefix,
    port,
    description: truncate(
      oneLine(str(info.summary) ?? str(info.description) ?? `The ${name} API.`, 100_000),
      2000,
    ),
    docsUrl,
    keyUrl: docsUrl,
    ...(auth.keyHelp !== undefined && { keyHelp: truncate(auth.keyHelp, 1000) }),
    baseUrl,
    auth: auth.auth,
    ...(additionalCredentials.length > 0 && { additionalCredentials }),
    validation: { method: "GET", path: validation.path },
    tools,
  };
  checkConfig(config);
  return { config, warnings, validation: validation.reason };
}

export function invalidTypeMessage(type: string): string {
  return `--type "${type}" is invalid: use 2-32 characters, a lowercase letter first, then lowercase letters, digits, "-" or "_"`;
}

/** Fails with every issue on one line when the definition would not load. */
export function checkConfig(config: ServiceConfigInput): void {
  const parsed = ServiceConfigSchema.safeParse(config);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new OpenApiImportError(`the generated definition is invalid: ${issues.join("; ")}`);
  }
  for (const tool of parsed.data.tools) {
    try {
      compileInputValidator(tool.inputSchema);
    } catch (err) {
      throw new OpenApiImportError(
        `the generated definition is invalid: tools.${tool.name}.inputSchema: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }
}

async function parseDocument(
  document: unknown,
  source: string | undefined,
): Promise<Record<string, unknown>> {
  if (!isRecord(document)) {
    throw new OpenApiImportError('not an OpenAPI document: expected an object with an "openapi" field');
  }
  if (document.swagger !== undefined) throw new OpenApiImportError(SWAGGER2_MESSAGE);
  if (document.openapi === undefined) {
    throw new OpenApiImportError('not an OpenAPI document: it has no "openapi" field');
  }
  const version = String(document.openapi);
  if (typeof document.openapi !== "string" || /^3\.[01]$/.test(version)) {
    // YAML reads `openapi: 3.1` as a number.
    throw new OpenApiImportError(
      `"openapi" must be the full version as a string, e.g. "3.1.0" or "3.0.3" (it is ${JSON.stringify(document.openapi)})`,
    );
  }
  if (!/^3\.[01]\.[0-9]+$/.test(version)) {
    throw new OpenApiImportError(`OpenAPI ${version} is not supported; only 3.0.x and 3.1.x are`);
  }
  // Circular references are left as `$ref` objects ("ignore"), so the converter can name the one it meets;
  // references over HTTP are never followed.
  const parserOptions: SwaggerParser.Options = {
    dereference: { circular: "ignore" },
    resolve: { http: false, file: confinedFileResolver(source) },
  };
  const clone = structuredClone(document) as never;
  try {
    const parser = new SwaggerParser();
    const api = source
      ? await parser.validate(source, clone, parserOptions)
      : await parser.validate(clone, parserOptions);
    return api as unknown as Record<string, unknown>;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new OpenApiImportError(`not a valid OpenAPI ${version} document: ${oneLine(message)}`);
  }
}

/**
 * External `$ref`s may only read files in the document's own folder (or below it): a vendor's document must
 * not pull `.env` or `~/.aws/credentials` into tool descriptions. Without a file location, none are read.
 */
function confinedFileResolver(source: string | undefined) {
  const root = source ? realpathSync(dirname(resolvePath(source))) : undefined;
  return {
    order: 1,
    canRead: (file: { url: string }) => !/^https?:/i.test(file.url),
    read: (file: { url: string }): Buffer => {
      const path = file.url.startsWith("file:") ? fileURLToPath(file.url) : decodeURIComponent(file.url);
      const real = existsSync(path) ? realpathSync(path) : path;
      if (!root || (real !== root && !real.startsWith(root + sep))) {
        throw new Error(
          `the $ref ${file.url} is outside the document's folder; only files beside it are read`,
        );
      }
      return readFileSync(real);
    },
  };
}

function collectOperations(api: Record<string, unknown>, warn: (m: string) => void): Operation[] {
  const out: Operation[] = [];
  const paths = isRecord(api.paths) ? api.paths : {};
  for (const [path, pathItem] of Object.entries(paths)) {
    if (!isRecord(pathItem)) continue;
    for (const [key, op] of Object.entries(pathItem)) {
      if (!(METHODS as readonly string[]).includes(key) || !isRecord(op)) continue;
      const method = key.toUpperCase();
      const label = str(op.operationId) ?? `${method} ${path}`;
      if (!SUPPORTED.has(method)) {
        warn(`${label}: skipped; ${method} requests are not supported`);
        continue;
      }
      out.push({ method, path, op, pathItem, label });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------- auth

interface AuthChoice {
  auth: Auth;
  scheme?: string;
  keyHelp?: string;
  additionalCredentials?: ServiceConfigInput["additionalCredentials"];
}

const requirementNames = (security: unknown): string[] => records(security).flatMap((r) => Object.keys(r));
const effectiveSecurity = (api: Record<string, unknown>, o: Operation): unknown =>
  o.op.security !== undefined ? o.op.security : api.security;

/**
 * The credential placement: among the schemes the document requires globally (in order, but one the key alone
 * unlocks in a header first: Stripe offers Basic with the key as user name, or Bearer), else those its
 * operations use most, the first one a user can paste a key for (bearer, basic, apiKey in a header or the
 * query); with only OAuth 2 / OpenID Connect schemes, a bearer access token.
 */
function chooseAuth(api: Record<string, unknown>, ops: Operation[], warn: (m: string) => void): AuthChoice {
  const components = isRecord(api.components) ? api.components : {};
  const schemes = isRecord(components.securitySchemes) ? components.securitySchemes : {};
  const usage = new Map<string, number>();
  for (const o of ops) {
    for (const n of new Set(requirementNames(effectiveSecurity(api, o))))
      usage.set(n, (usage.get(n) ?? 0) + 1);
  }
  const keyInHeader = (n: string) => {
    const s = schemes[n];
    if (!isRecord(s)) return false;
    if (s.type === "http") return typeof s.scheme === "string" && s.scheme.toLowerCase() === "bearer";
    return s.type === "apiKey" && s.in === "header";
  };
  // A stable sort: document order otherwise.
  const global = requirementNames(api.security).sort(
    (a, b) => Number(keyInHeader(b)) - Number(keyInHeader(a)),
  );
  const declared = Object.keys(schemes);
  const rest = declared
    .filter((n) => !global.includes(n))
    .sort((a, b) => (usage.get(b) ?? 0) - (usage.get(a) ?? 0));
  const candidates = [...new Set([...global, ...rest])].filter((n) => isRecord(schemes[n]));

  const unusable: string[] = [];
  for (const n of candidates) {
    const choice = keyAuth(n, schemes[n] as Record<string, unknown>);
    if (typeof choice === "string") unusable.push(`"${n}" (${choice})`);
    else if (choice) {
      if (unusable.length > 0) warn(`auth: cannot use ${unusable.join(", ")}; using "${n}"`);
      warnOtherSecurity(api, ops, n, warn);
      return choice;
    }
  }
  if (unusable.length > 0) warn(`auth: cannot use ${unusable.join(", ")}`);
  const oauth = candidates.find((n) => {
    const t = (schemes[n] as Record<string, unknown>).type;
    return t === "oauth2" || t === "openIdConnect";
  });
  if (oauth !== undefined) {
    const scheme = schemes[oauth] as Record<string, unknown>;
    const scopes = new Set<string>();
    for (const flow of Object.values(isRecord(scheme.flows) ? scheme.flows : {})) {
      if (isRecord(flow) && isRecord(flow.scopes)) for (const s of Object.keys(flow.scopes)) scopes.add(s);
    }
    warn(`auth: "${oauth}" is ${String(scheme.type)}; users paste an access token, sent as a bearer token`);
    warnOtherSecurity(api, ops, oauth, warn);
    return {
      auth: { type: "bearer" },
      scheme: oauth,
      keyHelp: `This API uses ${scheme.type === "oauth2" ? "OAuth 2.0" : "OpenID Connect"} ("${oauth}"): paste an access token obtained for it; it is sent as "Authorization: Bearer <token>".${scopes.size > 0 ? ` Scopes the tools may need: ${[...scopes].join(", ")}.` : ""}`,
    };
  }
  warn(
    declared.length === 0
      ? "auth: the document declares no security scheme; assumed a bearer token (edit auth if the API differs)"
      : `auth: no supported security scheme (${declared.join(", ")}); assumed a bearer token (edit auth)`,
  );
  return { auth: { type: "bearer" } };
}

/** The placement for a scheme a user can paste a key for; why not, for other key schemes; else undefined. */
function keyAuth(name: string, s: Record<string, unknown>): AuthChoice | string | undefined {
  const described = str(s.description);
  const help = (text: string) => (described ? `${text} ${oneLine(described, 800)}` : text);
  if (s.type === "http" && typeof s.scheme === "string") {
    const scheme = s.scheme.toLowerCase();
    if (scheme === "bearer") {
      return {
        auth: { type: "bearer" },
        scheme: name,
        keyHelp: help('The key is sent as "Authorization: Bearer <key>".'),
      };
    }
    if (scheme === "basic") {
      return {
        auth: { type: "basic", username: "username" },
        scheme: name,
        keyHelp: help(
          "HTTP Basic: the username goes in the Username field and the key (password or token) is the password.",
        ),
        additionalCredentials: [
          {
            name: "username",
            label: "Username",
            description: "The HTTP Basic username sent with the key.",
            secret: false,
          },
        ],
      };
    }
    return `HTTP ${s.scheme} authentication is not supported`;
  }
  if (s.type === "apiKey" && typeof s.name === "string") {
    if (s.in === "header") {
      if (!HEADER_NAME.test(s.name)) {
        return `the header name "${s.name}" is outside what definitions accept: 1-64 letters, digits, "-" and "_"`;
      }
      return {
        auth: { type: "header", name: s.name },
        scheme: name,
        keyHelp: help(`The key is sent in the ${s.name} header.`),
      };
    }
    if (s.in === "query") {
      if (!/^[A-Za-z0-9_.-]{1,64}$/.test(s.name))
        return `the query parameter name "${s.name}" is not supported`;
      return {
        auth: { type: "query", name: s.name },
        scheme: name,
        keyHelp: help(`The key is sent as the ${s.name} query parameter.`),
      };
    }
    return `an API key in a ${String(s.in)} is not supported`;
  }
  if (s.type === "mutualTLS") return "mutual TLS is not supported";
  return undefined;
}

function warnOtherSecurity(
  api: Record<string, unknown>,
  ops: Operation[],
  chosen: string,
  warn: (m: string) => void,
) {
  const others = ops.filter((o) => {
    const reqs = records(effectiveSecurity(api, o));
    if (reqs.length === 0) return false;
    return !reqs.some((r) => Object.keys(r).length === 0 || chosen in r);
  });
  if (others.length > 0) {
    const list = others
      .slice(0, 5)
      .map((o) => o.label)
      .join(", ");
    warn(
      `auth: the key is sent as "${chosen}"; ${others.length} operation(s) declare only other schemes and may refuse it: ${list}${others.length > 5 ? ", ..." : ""}`,
    );
  }
}

// ------------------------------------------------------------------------------------------ base URL

type CredentialField = NonNullable<ServiceConfigInput["additionalCredentials"]>[number];

/** A URL as messages show it: never with a user name or password. */
const shown = (url: string) => url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, "$1***@");

/**
 * `baseUrl` from `--base-url`, else `servers[0]` with its variables filled: a variable without `enum` that is a
 * label of the host in front of a fixed domain (Jira's `https://{your-domain}.atlassian.net`) is each user's own,
 * so it stays in the URL as `{field}` and becomes a non-secret additional credential pinned to one DNS label;
 * any other takes its default.
 */
function chooseBaseUrl(
  api: Record<string, unknown>,
  override: string | undefined,
  ops: Operation[],
  taken: readonly { name: string }[],
  warn: (m: string) => void,
): { baseUrl: string; fields: CredentialField[] } {
  const servers = records(api.servers);
  for (const o of ops) {
    if (records(o.op.servers).length > 0 || records(o.pathItem.servers).length > 0) {
      warn(`${o.label}: declares its own servers; it is called on the base URL`);
    }
  }
  if (override !== undefined) {
    if (!HttpUrl.safeParse(override).success || override.length > 500) {
      throw new OpenApiImportError(`--base-url "${shown(override)}" is not an http(s) URL`);
    }
    checkUrlParts(override, "--base-url");
    return { baseUrl: https(trimSlash(override), warn), fields: [] };
  }
  const first = servers[0];
  const raw = first ? str(first.url) : undefined;
  if (raw === undefined || !first) {
    throw new OpenApiImportError("the document has no servers; pass --base-url <https://...>");
  }
  const variables = isRecord(first.variables) ? first.variables : {};
  // The host, and what follows its last {variable}: a fixed domain of two labels or more pins the host.
  const host = /^[a-z][a-z0-9+.-]*:\/\/(?:[^/?#@]*@)?([^/?#:]*)/i.exec(raw)?.[1] ?? "";
  const fixedDomain = /^[A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+){2,}$/.test(host.slice(host.lastIndexOf("}") + 1));
  const names = new Set(taken.map((f) => f.name));
  const fields: CredentialField[] = [];
  const url = raw.replace(/\{([^{}]+)\}/g, (_, v: string) => {
    const variable = isRecord(variables[v]) ? variables[v] : {};
    const value = variable.default;
    const fixed = Array.isArray(variable.enum) && variable.enum.length > 0;
    if (!fixed && fixedDomain && host.includes(`{${v}}`)) {
      const field = hostField(v, variable, raw, names);
      fields.push(field);
      warn(
        `servers[0].url: {${v}} is each user's own part of the host; it becomes the "${field.name}" field users fill in when connecting (review its label and description)`,
      );
      return `{${field.name}}`;
    }
    if (typeof value !== "string") {
      throw new OpenApiImportError(
        `servers[0].url "${shown(raw)}": the variable {${v}} has no default; pass --base-url`,
      );
    }
    if (!fixed) warn(`servers[0].url: {${v}} took its default "${value}" (edit baseUrl if it differs)`);
    return value;
  });
  const sample = url.replace(/\{[^{}]+\}/g, "x");
  if (!/^[a-z][a-z0-9+.-]*:/i.test(sample)) {
    throw new OpenApiImportError(`servers[0].url "${shown(raw)}" is relative; pass --base-url <https://...>`);
  }
  if (!HttpUrl.safeParse(sample).success || url.length > 500) {
    throw new OpenApiImportError(
      `servers[0].url "${shown(url)}" is not an http(s) URL; pass --base-url <https://...>`,
    );
  }
  checkUrlParts(sample, "servers[0].url");
  return { baseUrl: https(trimSlash(url), warn), fields };
}

/** A base URL requests are appended to: no user name or password (a secret), no query or fragment. */
function checkUrlParts(url: string, what: string): void {
  const parsed = new URL(url);
  if (parsed.username !== "" || parsed.password !== "") {
    throw new OpenApiImportError(
      `${what} holds a user name or password, which never go in a definition; pass --base-url <https://...> without them`,
    );
  }
  if (/[?#]/.test(url)) {
    throw new OpenApiImportError(
      `${what} "${url}" has a query or fragment, which a base URL cannot keep (every tool's path is appended to it); pass --base-url <https://...> without it`,
    );
  }
}

/** The additional credential for a host variable: not secret, one DNS label, so the key stays on that domain. */
function hostField(
  variable: string,
  spec: Record<string, unknown>,
  url: string,
  names: Set<string>,
): CredentialField {
  let name = inputName(variable).replace(/^_+/, "");
  name = `${name.charAt(0).toLowerCase()}${name.slice(1)}`;
  if (!/^[a-z]/.test(name)) name = `site_${name}`;
  name = unique(name.slice(0, 32), names, 32);
  const own = str(spec.description);
  const example =
    typeof spec.default === "string" ? ` (the document's example: "${oneLine(spec.default, 63)}")` : "";
  const where = url.replace(`{${variable}}`, "<this>");
  return {
    name,
    label: truncate(humanize(variable), 100),
    description: truncate(
      `${own ? `${oneLine(own, 300).replace(/([^.!?:])$/, "$1.")} ` : ""}The part of the API's host name in ${oneLine(where, 150)}${example}: letters, digits and "-".`,
      500,
    ),
    pattern: HOST_LABEL_PATTERN,
    maxLength: 63,
    secret: false,
  };
}

/** Keys never travel in clear text: an http base URL becomes https (SERVICE_<TYPE>_BASE_URL can still say http). */
function https(url: string, warn: (m: string) => void): string {
  if (!url.toLowerCase().startsWith("http://")) return url;
  const secure = `https://${url.slice("http://".length)}`;
  warn(
    `base URL ${url} is plain http; the definition uses ${secure} (set SERVICE_<TYPE>_BASE_URL for an http test server)`,
  );
  return secure;
}

const trimSlash = (url: string) => url.replace(/\/+$/, "");

function chooseDocsUrl(api: Record<string, unknown>, baseUrl: string, warn: (m: string) => void): string {
  const info = isRecord(api.info) ? api.info : {};
  const candidates = [
    isRecord(api.externalDocs) ? api.externalDocs.url : undefined,
    isRecord(info.contact) ? info.contact.url : undefined,
  ];
  for (const c of candidates) {
    if (typeof c === "string" && c.length <= 2000 && HttpUrl.safeParse(c).success) return c;
  }
  const origin = new URL(baseUrl).origin;
  warn(`docsUrl and keyUrl: the document links no documentation; set to ${origin} (edit them)`);
  return origin;
}

// --------------------------------------------------------------------------------------------- tools

interface Param {
  name: string;
  in: string;
  required: boolean;
  schema: unknown;
  description?: string;
  example?: unknown;
  /** A query list sent as repeated parameters (OpenAPI's default `form` style). */
  explode: boolean;
  /** `deepObject`: a query list goes as `name[]=a&name[]=b` (Stripe's `expand`). */
  deep: boolean;
}

/** Path-level parameters, overridden by the operation's own (same name and place). */
function parametersOf(o: Operation): Param[] {
  const byKey = new Map<string, Param>();
  for (const p of [...records(o.pathItem.parameters), ...records(o.op.parameters)]) {
    if (typeof p.name !== "string" || typeof p.in !== "string") continue;
    let schema = p.schema;
    if (schema === undefined && isRecord(p.content)) {
      const media = Object.values(p.content).find(isRecord);
      schema = media?.schema;
    }
    byKey.set(`${p.in}:${p.in === "header" ? p.name.toLowerCase() : p.name}`, {
      name: p.name,
      in: p.in,
      required: p.in === "path" || p.required === true,
      schema: schema ?? { type: "string" },
      description: str(p.description),
      example: p.example,
      explode: (p.style === undefined || p.style === "form") && p.explode !== false,
      deep: p.style === "deepObject",
    });
  }
  return [...byKey.values()];
}

/**
 * Why the platform, not the model, fills this parameter (so it is no input); undefined when it is an input.
 * `secured`: the operation takes a key, which the platform sends.
 */
function platformParam(p: Param, auth: Auth, secured: boolean): string | undefined {
  const lower = p.name.toLowerCase();
  if (p.in === "header" && RESERVED_HEADERS.has(lower)) return "set by the platform";
  if (p.in === "header" && auth.type === "header" && auth.name.toLowerCase() === lower) return "the key";
  if (p.in === "query" && auth.type === "query" && auth.name === p.name) return "the key";
  if (secured && (p.in === "header" || p.in === "query") && isCredentialName(p.name)) return "a credential";
  return undefined;
}

/** Whether the operation takes a key (its own security, else the document's, names a scheme). */
const isSecured = (api: Record<string, unknown>, o: Operation): boolean =>
  records(effectiveSecurity(api, o)).some((r) => Object.keys(r).length > 0);

// PUT and PATCH overwrite what is there: destructive in MCP's sense (not only additive), as DELETE is.
function annotations(method: string): Tool["annotations"] {
  return {
    readOnlyHint: method === "GET",
    destructiveHint: method === "DELETE" || method === "PUT" || method === "PATCH",
    idempotentHint: method === "GET" || method === "PUT" || method === "DELETE",
    openWorldHint: true,
  };
}

function toolTexts(o: Operation): { title: string; description: string } {
  const summary = str(o.op.summary);
  const description = str(o.op.description);
  const operationId = str(o.op.operationId);
  const title = truncate(
    oneLine(summary ?? (operationId ? humanize(operationId) : `${o.method} ${o.path}`)),
    200,
  );
  const parts: string[] = [];
  if (o.op.deprecated === true) parts.push("Deprecated.");
  if (summary && !(description ?? "").startsWith(summary)) parts.push(summary);
  if (description) parts.push(description);
  const text = parts.join("\n\n") || `${o.method} ${o.path}`;
  return { title, description: truncate(text, 4000) };
}

/** One operation as a tool; undefined (with a warning) when it cannot be one. */
function buildTool(
  api: Record<string, unknown>,
  o: Operation,
  auth: Auth,
  warn: (m: string) => void,
): Tool | undefined {
  // What is kept of this operation's warnings: none when it is skipped for a circular $ref.
  const own: string[] = [];
  try {
    const scope = { secured: isSecured(api, o), resolve: (ref: string) => pointer(api, ref) };
    const tool = buildToolOrThrow(o, auth, scope, (m) => own.push(m));
    for (const m of own) warn(m);
    return tool;
  } catch (err) {
    if (!(err instanceof CircularRefError)) throw err;
    // A recursive value nested in the input is left out (schema.ts); a body that is nothing but one is skipped.
    warn(
      `${o.label}: skipped; its request body is a recursive schema (circular $ref ${err.ref}), which cannot become a tool input`,
    );
    return undefined;
  }
}

/** What an operation's conversion needs of the document. */
interface Scope {
  /** The operation takes a key (which the platform sends). */
  secured: boolean;
  /** Looks up a `#/...` pointer: the `$ref`s the parser left in place (circular ones). */
  resolve: (ref: string) => unknown;
}

/** The value a local JSON pointer (`#/components/schemas/Node`) names in the document; undefined if none. */
function pointer(root: unknown, ref: string): unknown {
  if (!ref.startsWith("#/")) return undefined;
  let node = root;
  for (const raw of ref.slice(2).split("/")) {
    let key: string;
    try {
      key = decodeURIComponent(raw).replaceAll("~1", "/").replaceAll("~0", "~");
    } catch {
      return undefined;
    }
    if (!isRecord(node) || !Object.hasOwn(node, key)) return undefined;
    node = node[key];
  }
  return node;
}

function buildToolOrThrow(
  o: Operation,
  auth: Auth,
  scope: Scope,
  warn: (m: string) => void,
): Tool | undefined {
  const { secured } = scope;
  if (!/^\/[^\s?#]*$/.test(o.path) || o.path.length > 500) {
    warn(`${o.label}: skipped; the path "${o.path}" cannot be a request path`);
    return undefined;
  }
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  const taken = new Set<string>();
  const add = (name: string, schema: JsonSchema, isRequired: boolean) => {
    properties[name] = schema;
    if (isRequired) required.push(name);
  };
  const nameFor = (raw: string, place: string) => {
    const base = inputName(raw);
    return taken.has(base) ? unique(inputName(`${place}_${raw}`), taken) : unique(base, taken);
  };

  // Path parameters first, so they keep their names.
  const params = parametersOf(o);
  const placeholders = [...o.path.matchAll(/\{([^{}]+)\}/g)].map((m) => m[1] ?? "");
  for (const ph of placeholders) {
    if (!params.some((p) => p.in === "path" && p.name === ph)) {
      params.push({
        name: ph,
        in: "path",
        required: true,
        schema: { type: "string" },
        explode: false,
        deep: false,
      });
    }
  }
  params.sort((a, b) => Number(b.in === "path") - Number(a.in === "path"));

  let path = o.path;
  const query: [string, string][] = [];
  const headers: Record<string, string> = {};
  for (const p of params) {
    const at = `${o.label} ${p.in} parameter "${p.name}"`;
    if (p.in === "cookie") {
      warn(
        `${at}: skipped; cookie parameters are not supported${p.required ? " (it is required: calls may be refused)" : ""}`,
      );
      continue;
    }
    const byPlatform = platformParam(p, auth, secured);
    if (byPlatform === "a credential") {
      warn(`${at}: left out; it looks like a credential, and the platform sends the user's key itself`);
      continue;
    }
    if (byPlatform !== undefined) continue; // set by the platform (the key, content type)
    if (p.in === "header" && !HEADER_NAME.test(p.name)) {
      warn(`${at}: skipped; not a header name the definition format accepts`);
      continue;
    }
    if (p.in === "query" && (p.name === "" || p.name.length > MAX_QUERY_NAME)) {
      warn(`${at.slice(0, 200)}: skipped; a query parameter name has 1 to ${MAX_QUERY_NAME} characters`);
      continue;
    }
    if (p.in === "path" && !placeholders.includes(p.name)) continue;
    if (!["path", "query", "header"].includes(p.in)) continue;
    const ctx: ConvertContext = { where: "param", at, warn, resolve: scope.resolve };
    const converted = convertSchema(p.schema, ctx, 0, p.required);
    if (converted === undefined) continue;
    if (p.description !== undefined) {
      const own = converted.description;
      const text = own && own !== p.description ? `${p.description} ${own}` : p.description;
      converted.description = truncate(text, 2000);
    }
    if (converted.type === "object" && p.in !== "path") {
      warn(`${at}: an object; sent as JSON text`);
    }
    // The executor repeats a query parameter whose name ends in [] once per element, and joins others with commas.
    const repeated = p.name.endsWith("[]") || p.deep;
    if (converted.type === "array" && p.in === "query" && p.explode && !repeated) {
      warn(`${at}: a list; sent comma-separated (name=a,b), not repeated (name=a&name=b)`);
    }
    const name = nameFor(p.name, p.in);
    add(name, converted, p.required);
    if (p.in === "path") path = path.replaceAll(`{${p.name}}`, `{${name}}`);
    else if (p.in === "query") {
      const listKey = converted.type === "array" && p.deep && !p.name.endsWith("[]");
      query.push([listKey ? `${p.name}[]` : p.name, name]);
    } else headers[p.name] = name;
  }

  const request: Tool["request"] = { method: o.method as Method, path };
  if (query.length > 0) request.query = mapping(query);
  if (Object.keys(headers).length > 0) request.headers = headers;

  const body = bodyOf(o, scope, warn);
  if (body === "skip") return undefined;
  if (body !== undefined) {
    const entries: [string, string][] = [];
    for (const [prop, schema] of Object.entries(body.properties)) {
      const name = nameFor(prop, "body");
      add(name, schema, body.required.includes(prop));
      entries.push([prop, name]);
    }
    request.body = mapping(entries);
    if (body.form) request.bodyEncoding = "form";
  }

  const inputSchema: JsonObjectSchema = {
    type: "object",
    properties,
    ...(required.length > 0 && { required }),
    additionalProperties: false,
  };
  return {
    name: toolName(str(o.op.operationId), o.method, o.path),
    ...toolTexts(o),
    inputSchema,
    request,
    annotations: annotations(o.method),
  };
}

/** A list when every input keeps its upstream name, else `{ upstream: input }`. */
function mapping(entries: [string, string][]): string[] | Record<string, string> {
  return entries.every(([k, v]) => k === v) && entries.length <= 64
    ? entries.map(([k]) => k)
    : Object.fromEntries(entries);
}

interface Body {
  properties: Record<string, JsonSchema>;
  required: string[];
  form: boolean;
}

/**
 * The request body's top-level properties as inputs: JSON first, else a urlencoded form. "skip" when the
 * operation cannot be a tool (only other media types, or a body that is not an object).
 */
function bodyOf(o: Operation, scope: Scope, warn: (m: string) => void): Body | "skip" | undefined {
  const { secured } = scope;
  const rb = o.op.requestBody;
  if (!isRecord(rb) || !isRecord(rb.content)) return undefined;
  const types = Object.keys(rb.content);
  if (types.length === 0) return undefined;
  if (o.method === "GET") {
    // Stripe declares an empty form body on every GET: only one with fields is worth a word.
    const declares = Object.values(rb.content).some(
      (m) =>
        isRecord(m) &&
        isRecord(m.schema) &&
        isRecord(m.schema.properties) &&
        Object.keys(m.schema.properties).length > 0,
    );
    if (declares) warn(`${o.label}: its GET request body is ignored`);
    return undefined;
  }
  const mediaType = types.find((t) => JSON_MEDIA.test(t)) ?? types.find((t) => FORM_MEDIA.test(t));
  if (mediaType === undefined) {
    warn(
      `${o.label}: skipped; its request body is ${types.join(", ")} (only JSON and urlencoded forms are supported)`,
    );
    return "skip";
  }
  const media = rb.content[mediaType];
  const bodyRequired = rb.required === true;
  const plain = mediaType.split(";")[0]?.trim().toLowerCase();
  if (plain !== "application/json" && plain !== "application/x-www-form-urlencoded") {
    const sentAs = JSON_MEDIA.test(mediaType) ? "application/json" : "application/x-www-form-urlencoded";
    warn(
      `${o.label}: its request body is ${plain}; it is sent as ${sentAs}, which a strict server may refuse`,
    );
  }
  // A body that is a circular $ref (Node { children: Node[] }) is expanded once: its fields convert with it.
  const top = deref(isRecord(media) ? media.schema : undefined, {
    where: "body",
    at: `${o.label} body`,
    warn,
    resolve: scope.resolve,
  });
  const ctx: ConvertContext = top.ctx;
  const schema = flatten(top.schema, ctx) ?? {};
  const kind = typeOf(schema, { ...ctx, warn: () => {} });
  if (kind !== "object" && kind !== undefined) {
    warn(
      `${o.label}: skipped; its request body is ${kind === "array" ? "an array" : `a ${kind}`}, and tools send an object`,
    );
    return "skip";
  }
  const props = isRecord(schema.properties) ? schema.properties : {};
  if (Object.keys(props).length === 0) {
    if (bodyRequired) {
      warn(`${o.label}: skipped; its request body declares no properties`);
      return "skip";
    }
    return undefined;
  }
  const requiredNames = Array.isArray(schema.required) ? schema.required : [];
  const out: Body = { properties: {}, required: [], form: !JSON_MEDIA.test(mediaType) };
  for (const [prop, raw] of Object.entries(props)) {
    if (isRecord(raw) && raw.readOnly === true) continue;
    const at = `${o.label} body.${prop}`;
    if (secured && isCredentialName(prop)) {
      warn(`${at}: left out; it looks like a credential, and the platform sends the user's key itself`);
      continue;
    }
    if (!BODY_KEY.test(prop)) {
      warn(`${at}: left out; the definition format cannot map this property name`);
      continue;
    }
    const isRequired = bodyRequired && requiredNames.includes(prop);
    const converted = convertSchema(raw, { ...ctx, at }, 1, isRequired);
    if (converted === undefined) {
      if (requiredNames.includes(prop)) warn(`${at}: required but left out; calls may be refused upstream`);
      continue;
    }
    out.properties[prop] = converted;
    if (isRequired) out.required.push(prop);
  }
  return out;
}

// ---------------------------------------------------------------------------------------- validation

/**
 * The key check: the first GET without required parameters that takes the chosen key, else the first GET
 * without required parameters, else the first GET (its path parameters filled with examples).
 */
function chooseValidation(
  ops: Operation[],
  auth: AuthChoice,
  api: Record<string, unknown>,
  warn: (m: string) => void,
): { path: string; reason: string } {
  const { scheme } = auth;
  const gets = ops.filter((o) => o.method === "GET" && /^\/[^\s?#]*$/.test(o.path));
  // Parameters the platform fills (the key itself, a declared Authorization header) are no requirement.
  const needsInput = (o: Operation) =>
    parametersOf(o).some((p) => p.required && platformParam(p, auth.auth, isSecured(api, o)) === undefined);
  const free = gets.filter((o) => !needsInput(o) && !o.path.includes("{"));
  const takesKey = (o: Operation) =>
    scheme !== undefined && records(effectiveSecurity(api, o)).some((r) => scheme in r);
  const secured = free.find(takesKey);
  if (secured) {
    return {
      path: secured.path,
      reason: `GET ${secured.path} (${secured.label}): the first GET operation without required parameters that takes the key`,
    };
  }
  if (free[0]) {
    return {
      path: free[0].path,
      reason: `GET ${free[0].path} (${free[0].label}): the first GET operation without required parameters`,
    };
  }
  const first = gets[0];
  if (first) {
    const params = parametersOf(first);
    const path = first.path.replace(/\{([^{}]+)\}/g, (_, n: string) => {
      const p = params.find((x) => x.in === "path" && x.name === n);
      const s = isRecord(p?.schema) ? p.schema : {};
      const sample = [p?.example, s.example, s.default, Array.isArray(s.enum) ? s.enum[0] : undefined].find(
        (v) => typeof v === "string" || typeof v === "number",
      );
      return encodeURIComponent(String(sample ?? "1"));
    });
    warn(
      `validation: GET ${path} (${first.label}) has required parameters, so a good key may fail it; edit validation.path to a request that answers 2xx for any valid key`,
    );
    return {
      path,
      reason: `GET ${path} (${first.label}): the first GET operation (it has required parameters)`,
    };
  }
  warn(
    "validation: the document has no GET operation; set to GET / (edit validation to a request that answers 2xx for any valid key)",
  );
  return { path: "/", reason: "GET / (the document has no GET operation)" };
}
