import { AppError } from "@mcp/core";
import type { MiddlewareHandler } from "hono";
import type { HonoEnv } from "../deps.ts";

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);
/** `Sec-Fetch-Site` values of a request the browser made for a page of this very origin, or for the user. */
const OWN_SITE = new Set(["same-origin", "none"]);

/**
 * CSRF guard for cookie sessions: a state-changing request that carries an Origin must come from this
 * host or an allowed origin; one without an Origin must not be marked by the browser (`Sec-Fetch-Site`) as
 * coming from another site, a sibling subdomain included. API-key requests are not cookie-borne, so they are
 * not subject to it.
 */
export function sameOrigin(): MiddlewareHandler<HonoEnv> {
  return async function originMiddleware(c, next) {
    if (SAFE.has(c.req.method) || c.req.header("authorization")) return next();
    const origin = c.req.header("origin");
    if (!origin) {
      const site = c.req.header("sec-fetch-site")?.trim().toLowerCase();
      if (site !== undefined && !OWN_SITE.has(site)) {
        throw new AppError("FORBIDDEN", "Cross-origin request refused");
      }
      return next();
    }
    const host = c.req.header("host");
    let originHost: string;
    try {
      originHost = new URL(origin).host;
    } catch {
      throw new AppError("FORBIDDEN", "Cross-origin request refused");
    }
    if (originHost !== host && !c.var.deps.allowedOrigins.includes(origin)) {
      throw new AppError("FORBIDDEN", "Cross-origin request refused");
    }
    await next();
  };
}
