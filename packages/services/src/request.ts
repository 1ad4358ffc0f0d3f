import { matchesPattern } from "./credentials.ts";
import type { AdditionalCredentialField, AuthConfig, ToolConfig } from "./definition.ts";
import { FORBIDDEN_HEADERS } from "./definition.ts";
import { setPath } from "./paths.ts";

export const USER_AGENT = "mcp-platform/0.1";

export interface UpstreamRequest {
  method: string;
  url: URL;
  headers: Headers;
  body?: string;
}

/** What a request needs from its service. */
export interface RequestTarget {
  baseUrl: string;
  auth: AuthConfig;
  headers?: Readonly<Record<string, string>>;
  additionalCredentials: readonly AdditionalCredentialField[];
}

export type RequestSpec = Pick<ToolConfig["request"], "method" | "path"> &
  Partial<Omit<ToolConfig["request"], "method" | "path">>;

/** The user's key plus the extra fields a service needs (a username, a site). */
export interface CredentialParts {
  apiKey: string;
  additional?: Readonly<Record<string, string>>;
}

/** Where the next page's marker goes, decoded from the model's `cursor`. */
export type PageParam =
  | { kind: "url"; url: URL }
  | { kind: "param"; in: "query" | "body"; param: string; value: string | number };

/** Keys go into headers and URLs, so anything outside visible ASCII could split or corrupt them. */
export function isSendableCredential(credential: string): boolean {
  return /^[\x21-\x7e]{1,4096}$/.test(credential);
}

function queryValue(value: unknown): string {
  if (Array.isArray(value)) return value.map(String).join(",");
  if (typeof value === "object" && value !== null) return JSON.stringify(value);
  return String(value);
}

const entries = (m: RequestSpec["query"]): [string, string][] =>
  m === undefined ? [] : Array.isArray(m) ? m.map((n) => [n, n]) : Object.entries(m);

/** Stripe-style form encoding: `a[b]=1`, `items[0][price]=p`. */
function formEncode(value: unknown, key: string, out: URLSearchParams): void {
  if (value === undefined || value === null) return;
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) formEncode(item, `${key}[${i}]`, out);
  } else if (typeof value === "object") {
    for (const [k, v] of Object.entries(value)) formEncode(v, key ? `${key}[${k}]` : k, out);
  } else {
    out.append(key, String(value));
  }
}

/**
 * The service's base URL with `{field}` filled from the credential's additional fields (e.g. a Jira site),
 * each checked against its declared pattern so a stored value can only ever point at the intended host.
 */
export function resolveBaseUrl(
  target: RequestTarget,
  credential: CredentialParts,
): string | { error: string } {
  let error: string | undefined;
  const url = target.baseUrl.replace(/\{([^{}]+)\}/g, (_, name: string) => {
    const field = target.additionalCredentials.find((f) => f.name === name);
    const value = credential.additional?.[name] ?? "";
    if (!field?.pattern || !matchesPattern(field.pattern, value)) error = `the stored "${name}" is not valid`;
    return value;
  });
  return error === undefined ? url.replace(/\/+$/, "") : { error };
}

function authorize(
  target: RequestTarget,
  credential: CredentialParts,
  url: URL,
  headers: Headers,
): string | undefined {
  const { auth } = target;
  if (auth.type === "header") headers.set(auth.name, credential.apiKey);
  else if (auth.type === "bearer") headers.set("Authorization", `Bearer ${credential.apiKey}`);
  else if (auth.type === "query") url.searchParams.set(auth.name, credential.apiKey);
  else {
    const username = credential.additional?.[auth.username];
    if (!username) return `the stored "${auth.username}" is missing`;
    headers.set(
      "Authorization",
      `Basic ${Buffer.from(`${username}:${credential.apiKey}`).toString("base64")}`,
    );
  }
  return undefined;
}

/**
 * A path parameter is one segment: never empty, `.` or `..`, and never a slash, a backslash or an encoded
 * one (`%2F`, `%5C`, `%2E`) that a server or proxy in front of the API might decode into another path.
 */
function isSafeSegment(value: string): boolean {
  if (value === "" || value === "." || value === "..") return false;
  if ([...value].some((ch) => ch.charCodeAt(0) < 0x20)) return false;
  return !/[/\\]|%2f|%5c|%2e/i.test(value);
}

/**
 * Builds the upstream request for validated input. Returns an error message instead when a path
 * parameter could escape its segment: WHATWG URLs resolve `.`/`..` (even percent-encoded), which
 * would let input address a different upstream endpoint with the user's key. `encodeURIComponent`
 * turns `/` into `%2F`, so no value can add a segment either.
 */
export function buildRequest(
  target: RequestTarget,
  spec: RequestSpec,
  input: Record<string, unknown>,
  credential: CredentialParts,
  page?: PageParam,
): UpstreamRequest | { error: string } {
  const base = resolveBaseUrl(target, credential);
  if (typeof base !== "string") return base;
  let badParam: string | undefined;
  const path = spec.path.replace(/\{([^{}]+)\}/g, (_, name: string) => {
    const value = String(input[name] ?? "");
    if (!isSafeSegment(value)) badParam = name;
    return encodeURIComponent(value);
  });
  if (badParam !== undefined) return { error: `"${badParam}" is not a valid path segment` };

  const url = page?.kind === "url" ? new URL(page.url) : new URL(base + path);
  if (page?.kind !== "url") {
    for (const [param, name] of entries(spec.query)) {
      const value = input[name];
      if (value === undefined || value === null) continue;
      // `fields[]` (Airtable, Rails-style APIs): one parameter per element; otherwise comma-joined.
      if (param.endsWith("[]") && Array.isArray(value))
        for (const v of value) url.searchParams.append(param, queryValue(v));
      else url.searchParams.set(param, queryValue(value));
    }
    if (page?.in === "query") url.searchParams.set(page.param, String(page.value));
  }
  const headers = new Headers({ Accept: "application/json", "User-Agent": USER_AGENT });
  // The schema refuses forbidden headers; this is the backstop for definitions built in code.
  for (const [name, value] of Object.entries(target.headers ?? {})) {
    if (!FORBIDDEN_HEADERS.has(name.toLowerCase())) headers.set(name, value);
  }
  for (const [header, name] of Object.entries(spec.headers ?? {})) {
    const value = input[name];
    if (value !== undefined && value !== null && !FORBIDDEN_HEADERS.has(header.toLowerCase())) {
      headers.set(header, queryValue(value));
    }
  }
  const authError = authorize(target, credential, url, headers);
  if (authError) return { error: authError };

  const hasBody = spec.body !== undefined || spec.bodyTemplate !== undefined;
  if (!hasBody || page?.kind === "url") return { method: spec.method, url, headers };
  const body: Record<string, unknown> = structuredClone(spec.bodyTemplate ?? {});
  // Copies, so a later mapping that writes inside an earlier one's value never changes the validated input.
  for (const [target, name] of entries(spec.body)) {
    if (input[name] !== undefined) setPath(body, target, structuredClone(input[name]));
  }
  if (page?.in === "body") setPath(body, page.param, page.value);
  if (spec.bodyEncoding === "form") {
    const form = new URLSearchParams();
    formEncode(body, "", form);
    headers.set("Content-Type", "application/x-www-form-urlencoded");
    return { method: spec.method, url, headers, body: form.toString() };
  }
  headers.set("Content-Type", "application/json; charset=utf-8");
  return { method: spec.method, url, headers, body: JSON.stringify(body) };
}
