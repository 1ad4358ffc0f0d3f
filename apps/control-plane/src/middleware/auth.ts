import { AppError, verifyApiKey } from "@mcp/core";
import { API_KEY } from "@mcp/crypto";
import { bearerToken } from "@mcp/http";
import type { MiddlewareHandler } from "hono";
import type { HonoEnv } from "../deps.ts";

/**
 * Resolves the caller from `Authorization: Bearer <api key>` or the session cookie. Sets `actor` (null
 * when anonymous); procedures decide whether that is enough. A bearer that is present but wrong is a
 * 401 at once, so an integrator never silently acts anonymously; so is an expired or revoked key, with the
 * same message (nothing says which). An API key's actor carries its `scopes` and `keyId`: `scopedProcedure`
 * checks them.
 */
export function authenticate(): MiddlewareHandler<HonoEnv> {
  return async function authMiddleware(c, next) {
    c.set("actor", null);
    c.set("sessionToken", null);
    const deps = c.var.deps;
    const authorization = c.req.header("authorization");
    if (authorization) {
      const key = bearerToken(authorization);
      const actor = API_KEY.test(key) ? await verifyApiKey(deps, key) : null;
      if (!actor) throw new AppError("UNAUTHORIZED", "Invalid API key in Authorization header");
      c.set("actor", { userId: actor.userId, via: "api_key", scopes: actor.scopes, keyId: actor.keyId });
      return next();
    }
    const token = deps.sessions.readCookie(c.req.header("cookie") ?? "");
    if (token) {
      const session = await deps.sessions.validate(token);
      if (session) {
        c.set("actor", { userId: session.userId, via: "session" });
        c.set("sessionToken", token);
        if (session.cookie) c.header("set-cookie", session.cookie, { append: true });
      }
    }
    await next();
  };
}
