// Kept apart from the app's entry so routers never import it (and its side effects).
import type { Context as HonoContext } from "hono";
import type { ControlPlaneDeps, HonoEnv } from "../deps.ts";

export type TrpcContext = {
  deps: ControlPlaneDeps;
  requestId: string;
  actor: HonoEnv["Variables"]["actor"];
  sessionToken: string | null;
  clientIp: string;
  /** The caller's User-Agent (bounded), for audit events. */
  userAgent: string | null;
  /** Adds a Set-Cookie header to the response. */
  setCookie(cookie: string): void;
  /** Sets a response header (e.g. Retry-After). */
  setHeader(name: string, value: string): void;
};

export function contextFromHono(c: HonoContext<HonoEnv>, resHeaders: Headers): TrpcContext {
  return {
    deps: c.var.deps,
    requestId: c.var.requestId,
    actor: c.var.actor,
    sessionToken: c.var.sessionToken,
    clientIp: c.var.clientIp,
    userAgent: c.req.header("user-agent")?.slice(0, 256) ?? null,
    setCookie: (cookie) => resHeaders.append("set-cookie", cookie),
    setHeader: (name, value) => resHeaders.set(name, value),
  };
}
