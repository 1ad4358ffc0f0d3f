/**
 * SSRF rules for user-supplied upstream URLs (custom remote MCP servers).
 *
 * `checkUpstreamUrl` is run when a URL is connected and again, through `guardedFetch`, before every
 * outbound request (a hostname may be re-pointed at a private address after it was accepted).
 * Everything fails closed: an address that cannot be parsed counts as private, and a hostname that
 * cannot be resolved is refused.
 *
 * DNS rebinding: a hostname is resolved once per request, by the check, and `guardedFetch` then connects
 * to the checked address itself (the URL's host rewritten to the IP, the original `Host` header kept, and
 * for https the TLS server name set to the hostname so SNI and certificate verification still use it).
 * fetch never resolves the name a second time, so a TTL-0 answer cannot switch to a private address
 * between the check and the connect.
 *
 * Refusals after the syntax checks share one message, so a user cannot tell "private" from "does not
 * resolve" and map internal names through it.
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
  /**
   * TEST ONLY: which addresses are refused; defaults to `isPrivateAddress`. Lets a test map a name to a
   * loopback server it runs itself. Never set it in production code.
   */
  isBlocked?: (ip: string) => boolean;
}

/**
 * `addresses` are the addresses that were checked: every DNS answer for a hostname (the order the
 * resolver gave), the literal itself (without brackets) for an IP literal, and none with `allowPrivate`.
 */
export type UpstreamCheck = { ok: true; url: URL; addresses: string[] } | { ok: false; reason: string };

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
    readonly code: "UPSTREAM_REFUSED" | "UPSTREAM_REDIRECT" | "UPSTREAM_LOOP",
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
    ["192.88.99.0", 24], // deprecated 6to4 relay anycast
    ["192.168.0.0", 16], // private
    ["168.63.129.16", 32], // Azure's host endpoint (WireServer: metadata, agent): public-looking, host-internal
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
  if (g0 === 0x2001 && g1 === 2 && g2 === 0) return true; // benchmarking 2001:2::/48
  if (g0 === 0x2001 && (g1 & 0xfff0) === 0x10) return true; // ORCHID 2001:10::/28
  if (g0 === 0x2001 && (g1 & 0xfff0) === 0x20) return true; // ORCHIDv2 2001:20::/28
  if (g0 === 0x2001 && g1 === 0xdb8) return true; // documentation 2001:db8::/32
  if (g0 === 0x3fff && (g1 & 0xf000) === 0) return true; // documentation 3fff::/20
  if (g0 === 0x5f00) return true; // SRv6 segment identifiers 5f00::/16
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

/** The one reason for every refusal of a well-formed URL: it must not reveal how internal DNS answered. */
function notAllowed(hostname: string): string {
  return `host ${hostname} is not allowed (private, internal or unresolvable address)`;
}

/**
 * Validates a user-supplied upstream URL. Reasons are short and never echo the URL (its query may
 * hold a token); the hostname is named. Malformed URLs get a specific reason; a well-formed URL whose
 * host is refused always gets the same one (see `notAllowed`).
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
  if (opts.allowPrivate) return { ok: true, url, addresses: [] };

  const isBlocked = opts.isBlocked ?? isPrivateAddress;
  const refused = { ok: false, reason: notAllowed(url.hostname.toLowerCase()) } as const;
  // The WHATWG parser has already turned 2130706433, 0x7f.1, 017700000001 and 127.1 into 127.0.0.1,
  // and IPv6 literals into their compressed form in brackets.
  const literal = ipLiteral(url);
  if (literal !== null) return isBlocked(literal) ? refused : { ok: true, url, addresses: [literal] };
  const hostname = url.hostname.toLowerCase();
  const name = hostname.replace(/\.+$/, "");
  if (name === "" || isInternalName(name)) return refused;
  let addresses: string[];
  try {
    addresses = await (opts.lookup ?? defaultLookup)(hostname);
  } catch {
    return refused;
  }
  if (addresses.length === 0 || addresses.some(isBlocked)) return refused;
  return { ok: true, url, addresses };
}

/** The URL's host as an IP address without brackets, or null when it is a name. */
function ipLiteral(url: URL): string | null {
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  return isIP(host) === 0 ? null : host.toLowerCase();
}

/** Where a request pinned to a checked address goes. */
export interface PinnedTarget {
  /** The URL with its host replaced by the address (bracketed for IPv6); port, path and query kept. */
  url: URL;
  /** The `Host` header to send: the original URL's host[:port]. */
  host: string;
  /** For https: the name for SNI and certificate verification (the original hostname). */
  serverName?: string;
}

/** Rewrites `url` to connect to `address` while still naming the original host (see `guardedFetch`). */
export function pinnedTarget(url: URL, address: string): PinnedTarget {
  const target = new URL(url.href);
  const bare = address.startsWith("[") ? address.slice(1, -1) : address;
  const hostname = isIP(bare) === 6 ? `[${bare}]` : isIP(bare) === 4 ? bare : null;
  if (hostname !== null) target.hostname = hostname;
  // The hostname setter ignores a value it cannot parse (e.g. a zone id): never fall back to the name.
  if (hostname === null || ipLiteral(target) === null) {
    throw new UpstreamBlockedError(notAllowed(url.hostname.toLowerCase()), "UPSTREAM_REFUSED");
  }
  const pinned: PinnedTarget = { url: target, host: url.host };
  // SNI carries no trailing dot (RFC 6066); the certificate is for the name without it as well.
  if (url.protocol === "https:") pinned.serverName = url.hostname.replace(/\.+$/, "");
  return pinned;
}

// ---------------------------------------------------------------------------------------------------
// fetch

/**
 * A fetch for outbound calls to user-supplied servers: re-checks the URL (and its DNS answers) before
 * every request, connects to the address the check approved (no second DNS lookup, see the top of this
 * file), never follows redirects (a 3xx rejects), and bounds the wait for response headers.
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
      // A checked hostname is never handed to fetch: it would resolve it again (DNS rebinding). An
      // empty answer cannot get here (it is refused); pinnedTarget would throw on it, not fall back.
      response =
        opts.allowPrivate || ipLiteral(check.url) !== null
          ? await fetch(input, { ...init, redirect: "manual", signal })
          : await fetchPinned(input, init, pinnedTarget(check.url, check.addresses[0] ?? ""), signal);
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

/** fetch to a pinned address: the request (string/URL + init, or a Request) with its host rewritten. */
function fetchPinned(
  input: string | URL | Request,
  init: RequestInit | undefined,
  target: PinnedTarget,
  signal: AbortSignal,
): Promise<Response> {
  const callerTls = (init as BunFetchRequestInit | undefined)?.tls;
  const tls: BunFetchRequestInitTLS | undefined =
    target.serverName === undefined ? callerTls : { ...callerTls, serverName: target.serverName };
  if (input instanceof Request) {
    // Applies init over the Request the way fetch(request, init) would; its body moves to `merged`.
    const merged = new Request(input, init);
    const headers = new Headers(merged.headers);
    headers.set("host", target.host);
    return fetch(target.url, {
      method: merged.method,
      headers,
      body: merged.body,
      duplex: "half",
      redirect: "manual",
      signal,
      ...(tls ? { tls } : {}),
    } as BunFetchRequestInit);
  }
  const headers = new Headers(init?.headers);
  headers.set("host", target.host);
  return fetch(target.url, { ...init, headers, redirect: "manual", signal, ...(tls ? { tls } : {}) });
}
