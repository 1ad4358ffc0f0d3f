import type { ResolvedInstance } from "@mcp/core";
import { addressKey, peerAddress } from "@mcp/http";
import { lru } from "@mcp/kv/lru";
import type { EdgeDeps } from "../deps.ts";
import { json, type McpCall } from "./call.ts";
import { tooManyRequests } from "./rate-limit.ts";

const MINUTE = 60_000;
const TOO_MANY = "Too many invalid instance tokens from this address";

/** The one answer for every token that cannot be served (missing, malformed, unknown, revoked). */
export function invalidInstance(deps: EdgeDeps, requestId: string): Response {
  deps.metrics.requests.inc({ status: "401" });
  return json({ error: "Invalid instance", code: "INVALID_INSTANCE", requestId }, 401);
}

/**
 * Per-address state of token guessing, in this process: addresses that spent their allowance (until
 * when), and how many lookups each has in flight. The count of failures lives in the shared kv, so every
 * edge blocks an address at its first failure there; what is kept here costs no kv round trip.
 */
export class TokenGuessing {
  private readonly until = lru<string, number>(50_000, { ttl: MINUTE });
  private readonly inFlight = new Map<string, number>();

  /** No address is blocked or has a lookup in flight: a known token needs no address at all. */
  idle(): boolean {
    return this.until.size === 0 && this.inFlight.size === 0;
  }

  /** Milliseconds this address must still wait, or 0. */
  blockedFor(address: string): number {
    const until = this.until.get(address);
    return until === undefined ? 0 : Math.max(0, until - Date.now());
  }

  block(address: string, ms: number): void {
    this.until.set(address, Date.now() + ms, { ttl: Math.max(1, ms) });
  }

  /** Starts a lookup unless the address already has `max` in flight; returns the release, or null. */
  begin(address: string, max: number): (() => void) | null {
    const n = this.inFlight.get(address) ?? 0;
    if (n >= max) return null;
    this.inFlight.set(address, n + 1);
    return () => {
      const left = (this.inFlight.get(address) ?? 1) - 1;
      if (left > 0) this.inFlight.set(address, left);
      else this.inFlight.delete(address);
    };
  }
}

/**
 * Token in the path → instance. Anything malformed, unknown or revoked (or, on a per-service process, of
 * another service) is a bare 401 with nothing about why, answered before any upstream call (malformed
 * tokens before any lookup at all).
 *
 * Guessing is bounded per client address (an IPv6 /64 counts as one): each such 401 counts, and past
 * `invalidTokensPerMinutePerIp` every request from the address is a 429 with Retry-After, valid token or
 * not, until its window ends. Tokens this process already knows cost nothing; a token that needs a lookup
 * waits its turn behind at most that many others from the same address, so a burst of guesses sent at
 * once runs at most about twice the limit in lookups before the count blocks the address.
 */
export async function resolveInstance(call: McpCall, guessing: TokenGuessing): Promise<Response | undefined> {
  const { deps, token } = call;
  const limit = deps.limits.invalidTokensPerMinutePerIp;
  const guarded = limit > 0;
  const known = deps.resolver.peek(token);
  // The common case, a token this process knows while nobody is guessing: no address is worked out.
  if (known && known !== "missing" && guessing.idle() && served(call, known)) return undefined;
  if (!guarded) {
    // The guessing limit is off (0): no address is worked out at all.
    const instance = known === "missing" ? null : (known ?? (await deps.resolver.resolve(token)));
    return served(call, instance) ? undefined : invalidInstance(deps, call.requestId);
  }
  const address = addressKey(peerAddress(call.req, call.server, deps.trustProxy));
  const wait = guessing.blockedFor(address);
  if (wait > 0) return tooManyRequests(call, wait, TOO_MANY);
  let instance = known === "missing" ? null : known;
  if (instance === undefined) {
    const release = guessing.begin(address, limit);
    if (!release) return tooManyRequests(call, 1_000, TOO_MANY);
    try {
      instance = await deps.resolver.resolve(token);
    } finally {
      release();
    }
  }
  if (served(call, instance)) return undefined;
  const counted = await deps.kv.rateLimit(`rl:badtoken:${address}`, limit, MINUTE).catch((error: unknown) => {
    deps.log.warn("invalid-token count failed", { error });
    return null;
  });
  if (counted && !counted.allowed) {
    guessing.block(address, counted.retryAfterMs);
    return tooManyRequests(call, counted.retryAfterMs, TOO_MANY);
  }
  return invalidInstance(deps, call.requestId);
}

/**
 * Takes a resolved instance for the call; false for none, or for another service's on a per-service process
 * (MCP_TYPE), which is answered exactly as an unknown token.
 */
function served(call: McpCall, instance: ResolvedInstance | null): boolean {
  if (!instance || (call.deps.mcpType && instance.serviceType !== call.deps.mcpType)) return false;
  call.instance = instance;
  return true;
}
