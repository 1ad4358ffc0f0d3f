import { AppError } from "@mcp/core";
import type { MiddlewareHandler } from "hono";
import type { HonoEnv } from "../deps.ts";

/**
 * tRPC calls are plain JSON (CONTRACT.md): a POST whose body is anything else is a 400 before anyone is looked
 * up. tRPC's adapter would otherwise hand a mutation a multipart `FormData`, or the raw byte stream of an
 * `application/octet-stream` body (null when it is empty), as its input: a procedure that takes none
 * (`auth.signOut`, `account.signOutEverywhere`) read an empty one as "no input" and ran.
 */
export function jsonInput(): MiddlewareHandler<HonoEnv> {
  return async function jsonInputMiddleware(c, next) {
    if (c.req.method === "POST") {
      const type = c.req.header("content-type")?.split(";", 1)[0]?.trim().toLowerCase();
      if (type !== "application/json") {
        throw new AppError("BAD_REQUEST", "Send the input as JSON (Content-Type: application/json)");
      }
    }
    await next();
  };
}
