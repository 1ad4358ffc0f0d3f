import { AppError, actorOrg, ORG_ID, verifyApiKey } from "@mcp/core";
import { API_KEY } from "@mcp/crypto";
import { bearerToken } from "@mcp/http";
import type { MiddlewareHandler } from "hono";
import type { HonoEnv } from "../deps.ts";

/**
 * Resolves the caller from `Authorization: Bearer <api key>` or the session cookie. Sets `actor` (null
 * when anonymous); procedures decide whether that is enough. A bearer that is present but wrong is a
 * 401 at once, so an integrator never silently acts anonymously; so is an expired or revoked key, with the
 * same message (nothing says which). An API key's actor carries its `scopes` and `keyId`: `scopedProcedure`
 * checks them. The organisation it acts in: an API key's own (another one asked for with `X-Org-Id` → 403); for
 * a session the one `X-Org-Id` names when the user is a member (else 404, as for any organisation they are
 * not in), or their personal one.
 */
export function authenticate(): MiddlewareHandler<HonoEnv> {
  return async function authMiddleware(c, next) {
    c.set("actor", null);
    c.set("sessionToken", null);
    const deps = c.var.deps;
    const authorization = c.req.header("authorization");
    // Read once the caller is known: an anonymous request is refused (401) for what it lacks, not for its header.
    const requestedOrg = () => orgHeader(c.req.header("x-org-id"));
    if (authorization) {
      const key = bearerToken(authorization);
      const actor = API_KEY.test(key) ? await verifyApiKey(deps, key) : null;
      if (!actor) throw new AppError("UNAUTHORIZED", "Invalid API key in Authorization header");
      const asked = requestedOrg();
      if (asked && asked !== actor.orgId) {
        throw new AppError("FORBIDDEN", "This API key is bound to another organisation");
      }
      c.set("actor", { ...actor, via: "api_key" });
      return next();
    }
    const token = deps.sessions.readCookie(c.req.header("cookie") ?? "");
    if (token) {
      const session = await deps.sessions.validate(token);
      if (session) {
        const org = await actorOrg(deps, session.userId, requestedOrg());
        if (!org) throw new AppError("NOT_FOUND", "Organisation not found");
        c.set("actor", { userId: session.userId, orgId: org.orgId, orgRole: org.role, via: "session" });
        c.set("sessionToken", token);
        if (session.cookie) {
          await next();
          renewCookie(c.res, session.cookie);
          return;
        }
      }
    }
    await next();
  };
}

/**
 * A session used in the second half of its life was extended: the browser gets the cookie again with the new
 * lifetime. Added to whatever answered (tRPC builds its own Response, which headers set on the context before
 * it ran never reach), unless the answer sets a session cookie itself (sign-out, a password change, ending this
 * session): that one is the last word.
 */
function renewCookie(res: Response, cookie: string): void {
  if (res.headers.getSetCookie().length > 0) return;
  try {
    res.headers.append("set-cookie", cookie);
  } catch {
    // Immutable headers (a Response passed through as is): this answer goes without it.
  }
}

/**
 * `X-Org-Id`: absent → null; anything that cannot be an organisation id → 400 before any organisation lookup
 * (a caller is already known: an anonymous request is not told about its header).
 */
function orgHeader(value: string | undefined): string | null {
  if (value === undefined || value === "") return null;
  if (!ORG_ID.test(value)) throw new AppError("BAD_REQUEST", "X-Org-Id: not an organisation id");
  return value;
}

/** The realm of the control plane's challenges. */
export const REALM = "mcp-platform";

/**
 * What RFC 9110 asks of two answers, whoever made them:
 * - every 401 says how to authenticate (11.6.1): API keys are bearer tokens (RFC 6750, 3), and a request that
 *   presented one (`Authorization: Bearer …`) that failed is told `error="invalid_token"`. A session cookie
 *   needs no challenge of its own; browsers prompt for none on a Bearer one;
 * - every 405 names the methods that work (15.5.6): tRPC's own, for a query sent as POST or a mutation as
 *   GET, carries none (REST's set theirs).
 */
export function statusHeaders(): MiddlewareHandler<HonoEnv> {
  return async function fill(c, next) {
    await next();
    const { status, headers } = c.res;
    if (status === 401 && !headers.has("www-authenticate")) {
      const bearer = /^bearer\s/i.test(c.req.header("authorization") ?? "");
      headers.set("www-authenticate", `Bearer realm="${REALM}"${bearer ? ', error="invalid_token"' : ""}`);
    }
    if (status === 405 && !headers.has("allow")) {
      const method = c.req.method;
      headers.set("allow", method === "GET" ? "POST" : method === "POST" ? "GET" : "GET, POST");
    }
  };
}
