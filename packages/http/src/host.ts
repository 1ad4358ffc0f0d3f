import type { MiddlewareHandler } from "hono";

/** The names a loopback-bound server answers to, as they appear in a Host header. */
export const LOOPBACK_HOSTS: readonly string[] = ["localhost", "127.0.0.1", "[::1]"];

/** True for a bind address that only this machine can reach (`::1` and `[::1]` alike). */
export function isLoopbackBind(host: string): boolean {
  return LOOPBACK_HOSTS.includes(normaliseHost(host) ?? "");
}

/**
 * The host name of a Host header value or allowlist entry, normalised the way a URL parser sees it:
 * lower-case, port and trailing dot dropped, IPv6 in brackets (`[::1]:3001` and `::1` → `[::1]`).
 * Null when it is not a host at all.
 */
export function normaliseHost(value: string | undefined | null): string | null {
  if (!value) return null;
  const bare =
    value.includes(":") && !value.startsWith("[") && value.split(":").length > 2 ? `[${value}]` : value;
  try {
    const url = new URL(`http://${bare}`);
    if (url.username || url.password || url.pathname !== "/" || url.search || url.hash) return null;
    return url.hostname.replace(/\.$/, "");
  } catch {
    return null;
  }
}

/** An allowlist of host names, normalised once (entries that are not hosts are dropped). */
export function hostSet(hosts: readonly string[]): ReadonlySet<string> {
  return new Set(hosts.map(normaliseHost).filter((h): h is string => h !== null));
}

/**
 * Host headers already normalised (a URL parse each): every request is checked, and a server sees few
 * distinct values. Bounded: emptied when full, so odd values sent on purpose cost memory only briefly.
 */
const normalised = new Map<string, string | null>();
const MAX_NORMALISED = 1024;

/** True when the Host header names an allowed host; an empty allowlist allows everything. */
export function hostAllowed(header: string | undefined, allowed: ReadonlySet<string>): boolean {
  if (allowed.size === 0) return true;
  if (!header) return false;
  let host = normalised.get(header);
  if (host === undefined) {
    host = normaliseHost(header);
    if (normalised.size >= MAX_NORMALISED) normalised.clear();
    normalised.set(header, host);
  }
  return host !== null && allowed.has(host);
}

/**
 * DNS-rebinding guard for a server bound to loopback: a page on an attacker's domain that resolves to
 * 127.0.0.1 still sends its own name as Host, so only the listed names are served. `allowed` empty →
 * no check (a public bind relies on its reverse proxy for this).
 */
export function hostGuard(opts: {
  allowed: readonly string[];
  reject: (c: Parameters<MiddlewareHandler>[0]) => Response;
}): MiddlewareHandler {
  const allowed = hostSet(opts.allowed);
  return async function hostGuardMiddleware(c, next) {
    if (!hostAllowed(c.req.header("host"), allowed)) return opts.reject(c);
    await next();
  };
}

/**
 * The Host allowlist for a server bound to `bindHost`: on loopback, the loopback names plus the host of
 * each public URL it is reached through (a local reverse proxy); on any other bind, none (no check).
 */
export function loopbackAllowlist(bindHost: string, ...publicUrls: (string | undefined)[]): string[] {
  if (!isLoopbackBind(bindHost)) return [];
  const hosts = [...LOOPBACK_HOSTS];
  for (const url of publicUrls) if (url) hosts.push(new URL(url).hostname);
  return hosts;
}
