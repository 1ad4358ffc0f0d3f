import type { MiddlewareHandler } from "hono";

export type ClientIpVariables = { clientIp: string };

/**
 * The caller's address for per-address limits: the socket's peer, or — only when the deployment says a
 * proxy sets it — the last X-Forwarded-For entry, the one our proxy appended (entries before it are
 * whatever the client sent). "unknown" when neither is available (app.request in tests).
 */
export function clientIp(opts: { trustProxy: boolean }): MiddlewareHandler<{
  Variables: ClientIpVariables;
}> {
  return async function clientIpMiddleware(c, next) {
    c.set("clientIp", addressOf(c, opts.trustProxy));
    await next();
  };
}

/** Under Hono: the server is the `env` Bun.serve hands to `fetch`. */
function addressOf(c: Parameters<MiddlewareHandler>[0], trustProxy: boolean): string {
  const env = c.env as { requestIP?: unknown } | undefined;
  const server = typeof env?.requestIP === "function" ? (env as PeerSource) : undefined;
  return peerAddress(c.req.raw, server, trustProxy);
}

/** Bun's server, as far as an address is concerned. */
export interface PeerSource {
  requestIP(req: Request): { address: string } | null;
}

/**
 * The caller's address as `clientIp` sets it, from a request and the server that took it (the edge's MCP
 * route runs outside Hono, and needs it only sometimes): "unknown" without a server (tests calling a fetch
 * handler directly).
 */
export function peerAddress(req: Request, server: PeerSource | undefined, trustProxy: boolean): string {
  let ip: string | undefined;
  if (trustProxy) ip = req.headers.get("x-forwarded-for")?.split(",").at(-1)?.trim() || undefined;
  if (!ip) {
    try {
      ip = server?.requestIP(req)?.address;
    } catch {
      ip = undefined;
    }
  }
  return (ip ?? "unknown").slice(0, 64);
}

/**
 * The unit per-address limits count: an IPv4 address as is, an IPv4-mapped IPv6 address as its IPv4, and
 * any other IPv6 address as its /64 — one host is routinely given a whole /64, so counting single IPv6
 * addresses would hand it billions of fresh budgets.
 */
export function addressKey(ip: string): string {
  if (!ip.includes(":")) return ip;
  const bare = (ip.replace(/^\[|\]$/g, "").split("%")[0] ?? "").toLowerCase();
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(bare)?.[1];
  if (mapped) return mapped;
  const [head = "", tail] = bare.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups =
    tail === undefined
      ? left
      : [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right];
  if (groups.length !== 8 || !groups.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return bare;
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g, 16).toString(16))
    .join(":")}::/64`;
}
