/**
 * SSRF rules for user-supplied upstream URLs (custom remote MCP servers).
 *
 * `checkUpstreamUrl` is run when a URL is connected and again, through `guardedFetch`, before every
 * outbound request (a hostname may be re-pointed at a private address after it was accepted).
 * Everything fails closed: an address that cannot be parsed counts as private, and a hostname that
 * cannot be resolved is refused.
 */
import { promises as dns } from "node:dns";
import { isIP } from "node:net";

/** Resolves a hostname to every address it answers with (v4 and v6). */
export type HostLookup = (host: string) => Promise<string[]>;

export interface UpstreamCheckOptions {
  /** `ALLOW_PRIVATE_UPSTREAMS=1`: skip the address rules (scheme, credentials and length still apply). */
  allowPrivate: boolean;
  /** Defaults to `dns.promises.lookup(host, { all: true, verbatim: true })`. */
  lookup?: HostLookup;
}

export type UpstreamCheck = { ok: true; url: URL } | { ok: false; reason: string };

export interface GuardedFetchOptions extends UpstreamCheckOptions {
  /** Time allowed until the response headers arrive; default 15 000 ms. A streaming body is not cut off. */
  timeoutMs?: number;
  /** Bytes one response body may carry before it is cut off (a user's server must not exhaust the edge). */
  maxResponseBytes?: number;
}

/** Thrown by `guardedFetch` for a refused URL or a redirect. A TypeError, like fetch's own network errors. */
export class UpstreamBlockedError extends TypeError {
  override readonly name = "UpstreamBlockedError";
  constructor(
    message: string,
    readonly code: "UPSTREAM_REFUSED" | "UPSTREAM_REDIRECT",
  ) {
    super(message);
  }
}

export const MAX_UPSTREAM_URL_LENGTH = 2048;
const DEFAULT_TIMEOUT_MS = 15_000;
const DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024;

/** Passes a body through until `max` bytes, then errors the stream (the reader sees a failure, not truncation). */
function capped(body: ReadableStream<Uint8Array>, max: number): ReadableStream<Uint8Array> {
  let seen = 0;
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        seen += chunk.byteLength;
        if (seen > max) controller.error(new TypeError(`upstream response exceeded ${max} bytes`));
        else controller.enqueue(chunk);
      },
    }),
  );
}

// ---------------------------------------------------------------------------------------------------
// Addresses

/** [network, prefix length] pairs, network as an unsigned 32-bit number. */
const PRIVATE_V4: ReadonlyArray<readonly [number, number]> = (
  [
    ["0.0.0.0", 8], // "this" network
    ["10.0.0.0", 8], // private
    ["100.64.0.0", 10], // carrier-grade NAT
    ["127.0.0.0", 8], // loopback
    ["169.254.0.0", 16], // link-local, incl. cloud metadata 169.254.169.254
    ["172.16.0.0", 12], // private
    ["192.0.0.0", 24], // IETF protocol assignments
    ["192.0.2.0", 24], // TEST-NET-1
    ["192.168.0.0", 16], // private
    ["198.18.0.0", 15], // benchmarking
    ["198.51.100.0", 24], // TEST-NET-2
    ["203.0.113.0", 24], // TEST-NET-3
    ["224.0.0.0", 4], // multicast
    ["240.0.0.0", 4], // reserved, incl. broadcast 255.255.255.255
  ] as const
).map(([net, bits]) => [v4ToInt(parseV4(net) ?? [0, 0, 0, 0]), bits] as const);

function parseV4(text: string): number[] | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const octets: number[] = [];
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return null;
    const n = Number(part);
    if (n > 255) return null;
    octets.push(n);
  }
  return octets;
}

function v4ToInt(octets: readonly number[]): number {
  return (
    (((octets[0] ?? 0) << 24) | ((octets[1] ?? 0) << 16) | ((octets[2] ?? 0) << 8) | (octets[3] ?? 0)) >>> 0
  );
}

function isPrivateV4(octets: readonly number[]): boolean {
  const ip = v4ToInt(octets);
  return PRIVATE_V4.some(([net, bits]) => {
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    return (ip & mask) >>> 0 === net;
  });
}

/** Eight 16-bit groups, or null. Accepts `::` compression and a trailing dotted IPv4 part. */
function parseV6(text: string): number[] | null {
  let rest = text;
  let tail: number[] = [];
  const lastColon = rest.lastIndexOf(":");
  if (rest.slice(lastColon + 1).includes(".")) {
    const v4 = parseV4(rest.slice(lastColon + 1));
    if (!v4) return null;
    tail = [((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0)];
    // Keep the colon(s) before the v4 part so "::1.2.3.4" still reads as "::" + v4.
    rest = rest.slice(0, lastColon + 1);
    if (!rest.endsWith("::")) rest = rest.slice(0, -1);
  }
  const groupsOf = (s: string): number[] | null => {
    if (s === "") return [];
    const out: number[] = [];
    for (const g of s.split(":")) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      out.push(Number.parseInt(g, 16));
    }
    return out;
  };
  const want = 8 - tail.length;
  const halves = rest.split("::");
  if (halves.length > 2) return null;
  if (halves.length === 2) {
    const head = groupsOf(halves[0] ?? "");
    const back = groupsOf(halves[1] ?? "");
    if (!head || !back || head.length + back.length >= want) return null;
    return [...head, ...new Array<number>(want - head.length - back.length).fill(0), ...back, ...tail];
  }
  const all = groupsOf(rest);
  if (!all || all.length !== want) return null;
  return [...all, ...tail];
}

function embeddedV4(g: readonly number[]): number[] {
  const hi = g[6] ?? 0;
  const lo = g[7] ?? 0;
  return [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff];
}

function isPrivateV6(g: readonly number[]): boolean {
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0] = g;
  const zeroTo = (n: number) => g.slice(0, n).every((x) => x === 0);
  // ::/96: "::", "::1" and the deprecated IPv4-compatible form. Nothing legitimate lives here.
  if (zeroTo(6)) return true;
  // ::ffff:0:0/96 IPv4-mapped, and ::ffff:0:0:0/96 IPv4-translated (RFC 2765): the embedded v4 decides.
  if (zeroTo(5) && g5 === 0xffff) return isPrivateV4(embeddedV4(g));
  if (zeroTo(4) && g4 === 0xffff && g5 === 0) return isPrivateV4(embeddedV4(g));
  // 64:ff9b::/96 well-known NAT64 prefix: the embedded v4 decides.
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) {
    return isPrivateV4(embeddedV4(g));
  }
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 1) return true; // 64:ff9b:1::/48 local-use NAT64
  if (g0 === 0x2002) return isPrivateV4([g1 >> 8, g1 & 0xff, g2 >> 8, g2 & 0xff]); // 6to4: v4 in bits 16-47
  if (g0 === 0x2001 && g1 === 0) return true; // Teredo 2001::/32 (obfuscated v4 inside)
  if (g0 === 0x2001 && g1 === 0xdb8) return true; // documentation 2001:db8::/32
  if (g0 === 0x100 && g1 === 0 && g2 === 0 && g3 === 0) return true; // discard-only 100::/64
  if ((g0 & 0xfe00) === 0xfc00) return true; // unique local fc00::/7
  if ((g0 & 0xffc0) === 0xfe80) return true; // link-local fe80::/10
  if ((g0 & 0xffc0) === 0xfec0) return true; // deprecated site-local fec0::/10
  if ((g0 & 0xff00) === 0xff00) return true; // multicast ff00::/8
  return false;
}

/**
 * Whether an address is one a user-supplied upstream must not point at: loopback, private, link-local
 * (incl. cloud metadata), CGNAT, documentation, benchmarking, multicast and reserved ranges, in v4, v6,
 * IPv4-mapped and NAT64 forms. Brackets and an IPv6 zone (`%eth0`) are tolerated. Anything that does
 * not parse as an IP address counts as private (fail closed).
 */
export function isPrivateAddress(ip: string): boolean {
  let text = ip.trim();
  if (text.startsWith("[") && text.endsWith("]")) text = text.slice(1, -1);
  const family = isIP(text);
  if (family === 4) {
    const v4 = parseV4(text);
    return v4 ? isPrivateV4(v4) : true;
  }
  if (family === 6) {
    const zone = text.indexOf("%");
    const v6 = parseV6(zone === -1 ? text : text.slice(0, zone));
    return v6 ? isPrivateV6(v6) : true;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------------
// URLs

const defaultLookup: HostLookup = async (host) =>
  (await dns.lookup(host, { all: true, verbatim: true })).map((a) => a.address);

function isInternalName(host: string): boolean {
  return (
    host === "localhost" ||
    host.endsWith(".localhost") ||
    host.endsWith(".local") ||
    host.endsWith(".internal")
  );
}

/**
 * Validates a user-supplied upstream URL. Reasons are short and never echo the URL (its query may
 * hold a token); the hostname is named.
 */
export async function checkUpstreamUrl(raw: string, opts: UpstreamCheckOptions): Promise<UpstreamCheck> {
  if (raw.length > MAX_UPSTREAM_URL_LENGTH) {
    return { ok: false, reason: `URL is too long (at most ${MAX_UPSTREAM_URL_LENGTH} characters)` };
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: "not a valid URL" };
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    return { ok: false, reason: "only http and https URLs are allowed" };
  }
  if (url.username !== "" || url.password !== "") {
    return { ok: false, reason: "URL must not contain credentials; put credentials in headers" };
  }
  if (url.hostname === "") return { ok: false, reason: "URL has no host" };
  if (opts.allowPrivate) return { ok: true, url };

  // The WHATWG parser has already turned 2130706433, 0x7f.1, 017700000001 and 127.1 into 127.0.0.1,
  // and IPv6 literals into their compressed form in brackets.
  const hostname = url.hostname.toLowerCase();
  if (hostname.startsWith("[")) {
    return isPrivateAddress(hostname)
      ? { ok: false, reason: `host ${hostname} is a private address` }
      : { ok: true, url };
  }
  if (isIP(hostname) === 4) {
    return isPrivateAddress(hostname)
      ? { ok: false, reason: `host ${hostname} is a private address` }
      : { ok: true, url };
  }
  const name = hostname.replace(/\.+$/, "");
  if (name === "" || isInternalName(name)) {
    return { ok: false, reason: `host ${hostname} is a local name` };
  }
  let addresses: string[];
  try {
    addresses = await (opts.lookup ?? defaultLookup)(hostname);
  } catch {
    return { ok: false, reason: `cannot resolve host ${hostname}` };
  }
  if (addresses.length === 0) return { ok: false, reason: `cannot resolve host ${hostname}` };
  const blocked = addresses.find(isPrivateAddress);
  if (blocked !== undefined) {
    return { ok: false, reason: `host ${hostname} resolves to a private address (${blocked})` };
  }
  return { ok: true, url };
}

// ---------------------------------------------------------------------------------------------------
// fetch

/**
 * A fetch for outbound calls to user-supplied servers: re-checks the URL (and its DNS answers) before
 * every request, never follows redirects (a 3xx rejects), and bounds the wait for response headers.
 *
 * The timeout covers the time until the response headers arrive, not the body: SSE streams (the legacy
 * transport's GET stream, streamed tool results) stay open for as long as the caller's signal allows.
 */
export function guardedFetch(opts: GuardedFetchOptions): typeof fetch {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const guarded = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const href = input instanceof Request ? input.url : input instanceof URL ? input.href : String(input);
    const check = await checkUpstreamUrl(href, opts);
    if (!check.ok) throw new UpstreamBlockedError(check.reason, "UPSTREAM_REFUSED");

    const callerSignal = init?.signal ?? (input instanceof Request ? input.signal : undefined);
    const headersTimeout = new AbortController();
    const timer = setTimeout(
      () =>
        headersTimeout.abort(
          new DOMException(`upstream did not answer within ${timeoutMs} ms`, "TimeoutError"),
        ),
      timeoutMs,
    );
    const signal = callerSignal
      ? AbortSignal.any([callerSignal, headersTimeout.signal])
      : headersTimeout.signal;
    let response: Response;
    try {
      response = await fetch(input, { ...init, redirect: "manual", signal });
    } finally {
      clearTimeout(timer);
    }
    if ((response.status >= 300 && response.status < 400) || response.type === "opaqueredirect") {
      await response.body?.cancel().catch(() => {});
      throw new UpstreamBlockedError(
        `upstream ${check.url.hostname} answered with a redirect (${response.status}); redirects are not followed`,
        "UPSTREAM_REDIRECT",
      );
    }
    if (!response.body) return response;
    const { status, statusText, headers } = response;
    return new Response(capped(response.body, opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES), {
      status,
      statusText,
      headers,
    });
  };
  // Preconnecting would open a connection without the checks above: make it a no-op.
  return Object.assign(guarded, { preconnect: () => {} }) as typeof fetch;
}
