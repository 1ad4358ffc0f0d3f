import { randomUUID } from "node:crypto";
import { AppError } from "@mcp/core";
import { aadFor, hashToken, open, type Sealed, seal, sha256 } from "@mcp/crypto";
import type { Context, MiddlewareHandler } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { HonoEnv } from "../deps.ts";

export interface IdempotencyOptions {
  /** How long a completed response is kept for replay (default 24 h). */
  ttlMs?: number;
  /** How long an in-flight marker holds the key if its process dies mid-request (default 5 min). */
  inFlightMs?: number;
  /** Largest response body kept for replay (default 64 KiB); a larger one answers retries with 409. */
  maxBodyBytes?: number;
}

/** Header names, lower case. */
export const IDEMPOTENCY_KEY = "idempotency-key";
export const IDEMPOTENCY_REPLAYED = "idempotency-replayed";

// Printable ASCII, as Stripe and the IETF draft allow; bounded so it cannot bloat a kv key.
const VALID_KEY = /^[\x20-\x7e]{1,255}$/;
const STATE_CHANGING = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/**
 * `check`: a marker sealed under the request's fingerprint (in its AAD), which opens only for the same request
 * again. The fingerprint itself is never stored: a plain hash of a body is a fast offline guess at what it
 * held (a password sent to `account.changePassword`), for whoever reads Redis. `fp`: entries written before.
 */
type Entry =
  | { s: "running"; check?: Sealed; fp?: string; owner: string }
  | { s: "done"; check?: Sealed; fp?: string; status: number; sealed: Sealed | null };

/**
 * `Idempotency-Key` for state-changing requests (tRPC mutations, REST POST/PUT/PATCH/DELETE) of an
 * authenticated caller: the first request with a key runs; a repeat with the same method, path and body
 * gets the stored answer again (`Idempotency-Replayed: true`), one still running gets 409 CONFLICT, a
 * different request under the same key 422 IDEMPOTENCY_CONFLICT. 5xx, 405, 408 and 429 answers are not kept,
 * so a retry runs again (a 405 ran nothing, and its replay would lose its Allow header). Keys are per caller
 * (user + organisation + API key, or session). The stored answer is sealed with the keyring (it may hold a
 * secret shown once, such as an instance URL); cookies are never stored.
 * Runs after `authenticate()`; anonymous requests are passed through untouched.
 */
export function idempotency(opts: IdempotencyOptions = {}): MiddlewareHandler<HonoEnv> {
  const ttlMs = opts.ttlMs ?? 24 * 60 * 60 * 1000;
  const inFlightMs = opts.inFlightMs ?? 5 * 60 * 1000;
  const maxBodyBytes = opts.maxBodyBytes ?? 64 * 1024;

  return async function idempotencyMiddleware(c, next) {
    const key = c.req.header(IDEMPOTENCY_KEY);
    if (key === undefined || !STATE_CHANGING.has(c.req.method)) return next();
    // Anonymous: the key is ignored, whatever it is (the procedure's own auth answers the caller).
    const scope = actorScope(c);
    if (!scope) return next();
    if (!VALID_KEY.test(key)) {
      throw new AppError("BAD_REQUEST", "Idempotency-Key must be 1-255 printable ASCII characters");
    }

    const { kv, keyring } = c.var.deps;
    const storeKey = `idem:${hashToken(`${scope}\n${key}`)}`;
    const url = new URL(c.req.url);
    const fp = sha256(
      `${scope}\n${c.req.method}\n${url.pathname}${url.search}\n${await c.req.text()}`,
      "hex",
    );
    const aad = aadFor("idempotency", storeKey, fp);
    const check = seal(keyring, "idempotency", aad);
    const running = JSON.stringify({ s: "running", check, owner: randomUUID() } satisfies Entry);

    // A second claim attempt only when the holder's entry expired between our two reads.
    for (let attempt = 0; ; attempt++) {
      if (await kv.setIfAbsent(storeKey, running, inFlightMs)) break;
      const raw = await kv.get(storeKey);
      if (raw !== null) return replay(c, JSON.parse(raw) as Entry, fp, aad);
      if (attempt > 0) throw new AppError("CONFLICT", "A request with this Idempotency-Key is in progress");
    }

    await next();
    const status = c.res.status;
    try {
      if (status >= 500 || status === 405 || status === 408 || status === 429) {
        await kv.release(storeKey, running);
        return;
      }
      const body = await c.res.clone().text();
      const contentType = c.res.headers.get("content-type") ?? "application/json";
      const sealed =
        Buffer.byteLength(body) > maxBodyBytes
          ? null
          : seal(keyring, JSON.stringify({ body, contentType }), aad);
      await kv.set(storeKey, JSON.stringify({ s: "done", check, status, sealed } satisfies Entry), ttlMs);
    } catch (error) {
      // The request itself succeeded: answer it. A retry meets the in-flight marker until it expires.
      c.var.deps.log.warn("idempotency: could not store the answer", { requestId: c.var.requestId, error });
    }
  };
}

function replay(c: Context<HonoEnv>, entry: Entry, fp: string, aad: Buffer): Response {
  const same = entry.check ? open(c.var.deps.keyring, entry.check, aad) !== null : entry.fp === fp;
  if (!same) {
    throw new AppError(
      "IDEMPOTENCY_CONFLICT",
      "This Idempotency-Key was already used with a different request; use a new key",
    );
  }
  if (entry.s === "running") {
    throw new AppError("CONFLICT", "A request with this Idempotency-Key is in progress; retry later", {
      retryAfterMs: 1000,
    });
  }
  const opened = entry.sealed && open(c.var.deps.keyring, entry.sealed, aad);
  if (!opened) throw new AppError("CONFLICT", "The answer to this Idempotency-Key cannot be replayed");
  const { body, contentType } = JSON.parse(opened) as { body: string; contentType: string };
  return c.body(body, entry.status as ContentfulStatusCode, {
    "content-type": contentType,
    [IDEMPOTENCY_REPLAYED]: "true",
  });
}

/**
 * Who the key belongs to: the user, the organisation the request acts in (`X-Org-Id`: the same key sent for
 * another organisation is another request, never the first one's answer), and the API key (or the session)
 * it came with; null when anonymous.
 */
function actorScope(c: Context<HonoEnv>): string | null {
  const actor = c.var.actor;
  if (!actor) return null;
  const who = `${actor.userId}:${actor.orgId}`;
  if (actor.via === "session") return `${who}:session:${hashToken(c.var.sessionToken ?? "")}`;
  const bearer = c.req.header("authorization") ?? "";
  return `${who}:api_key:${actor.keyId ?? hashToken(bearer)}`;
}
