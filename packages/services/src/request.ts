import type { AuthConfig } from "./definition.ts";

export const USER_AGENT = "mcp-platform/0.1";

export interface UpstreamRequest {
  method: string;
  url: URL;
  headers: Headers;
  body?: string;
}

export interface RequestSpec {
  method: string;
  path: string;
  query?: readonly string[];
  body?: readonly string[];
}

/** Keys go into headers and URLs, so anything outside visible ASCII could split or corrupt them. */
export function isSendableCredential(credential: string): boolean {
  return /^[\x21-\x7e]{1,4096}$/.test(credential);
}

function queryValue(value: unknown): string {
  if (Array.isArray(value)) return value.map(String).join(",");
  if (typeof value === "object" && value !== null) return JSON.stringify(value);
  return String(value);
}

/**
 * Builds the upstream request for validated input. Returns an error message instead when a path
 * parameter could escape its segment: WHATWG URLs resolve `.`/`..` (even percent-encoded), which
 * would let input address a different upstream endpoint with the user's key.
 */
export function buildRequest(
  baseUrl: string,
  auth: AuthConfig,
  spec: RequestSpec,
  input: Record<string, unknown>,
  credential: string,
): UpstreamRequest | { error: string } {
  let badParam: string | undefined;
  const path = spec.path.replace(/\{([^{}]+)\}/g, (_, name: string) => {
    const value = String(input[name] ?? "");
    if (value === "" || value === "." || value === "..") badParam = name;
    return encodeURIComponent(value);
  });
  if (badParam !== undefined) return { error: `"${badParam}" is not a valid path segment` };

  const url = new URL(baseUrl.replace(/\/+$/, "") + path);
  for (const name of spec.query ?? []) {
    const value = input[name];
    if (value !== undefined && value !== null) url.searchParams.set(name, queryValue(value));
  }
  const headers = new Headers({ Accept: "application/json", "User-Agent": USER_AGENT });
  if (auth.type === "header") headers.set(auth.name, credential);
  else if (auth.type === "bearer") headers.set("Authorization", `Bearer ${credential}`);
  else url.searchParams.set(auth.name, credential);

  if (!spec.body) return { method: spec.method, url, headers };
  const body = Object.fromEntries(spec.body.filter((n) => input[n] !== undefined).map((n) => [n, input[n]]));
  headers.set("Content-Type", "application/json");
  return { method: spec.method, url, headers, body: JSON.stringify(body) };
}
