import type { Context, MiddlewareHandler } from "hono";
import { LRUCache } from "lru-cache";
import type { EdgeEnv } from "../deps.ts";
import { tooManyRequests } from "./rate-limit.ts";

const MINUTE = 60_000;

/** The one answer for every token that cannot be served (missing, malformed, unknown, revoked). */
export function invalidInstance(c: Context<EdgeEnv>): Response {
  c.var.deps.metrics.requests.inc({ status: "401" });
  return c.json({ error: "Invalid instance", code: "INVALID_INSTANCE", requestId: c.var.requestId }, 401);
}

/**
 * Addresses that spent their allowance of invalid tokens, until when. Kept in this process so a blocked
 * address costs no kv round trip on any request; the count itself lives in the shared kv, so every edge
 * blocks an address at its first failure there once the shared count is over.
 */
export class TokenGuessing {
  private readonly until = new LRUCache<string, number>({ max: 50_000, ttl: MINUTE });

  /** Milliseconds this address must still wait, or 0. */
  blockedFor(ip: string): number {
    const until = this.until.get(ip);
    return until === undefined ? 0 : Math.max(0, until - Date.now());
  }

  block(ip: string, ms: number): void {
    this.until.set(ip, Date.now() + ms, { ttl: Math.max(1, ms) });
  }
}

/**
 * Token in the path → instance. Anything malformed, unknown or revoked is a bare 401 with nothing about
 * why, answered before any upstream call (malformed tokens before any lookup at all). Each such 401
 * counts against the caller's address; past `invalidTokensPerMinutePerIp` the address gets 429 with
 * Retry-After for every token, valid or not, until its window ends — so tokens cannot be guessed at speed.
 */
export function resolveInstance(guessing: TokenGuessing): MiddlewareHandler<EdgeEnv> {
  return async function instanceMiddleware(c, next) {
    const { deps, clientIp } = c.var;
    const limit = deps.limits.invalidTokensPerMinutePerIp;
    const wait = limit > 0 ? guessing.blockedFor(clientIp) : 0;
    if (wait > 0) return tooManyRequests(c, wait, "Too many invalid instance tokens from this address");
    const instance = await deps.resolver.resolve(c.req.param("token") ?? "");
    if (instance) {
      c.set("instance", instance);
      return next();
    }
    if (limit > 0) {
      const counted = await deps.kv
        .rateLimit(`rl:badtoken:${clientIp}`, limit, MINUTE)
        .catch((error: unknown) => {
          deps.log.warn("invalid-token count failed", { error });
          return null;
        });
      if (counted && !counted.allowed) {
        guessing.block(clientIp, counted.retryAfterMs);
        return tooManyRequests(c, counted.retryAfterMs, "Too many invalid instance tokens from this address");
      }
    }
    return invalidInstance(c);
  };
}
