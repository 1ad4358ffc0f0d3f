import { revokeSession } from "@mcp/core";
import { z } from "zod";
import { sessionProcedure } from "../../trpc/init.ts";
import { orThrow } from "../../trpc/result.ts";
import { request } from "./request.ts";

export const ZRevokeSessionInput = z.strictObject({ id: z.string().min(1).max(64) });
export const ZRevokeSessionOutput = z.object({ id: z.string() });

/** Another user's session id answers 404 NOT_FOUND, as an unknown one; ending this very session clears its cookie. */
export const revokeSessionProcedure = sessionProcedure
  .input(ZRevokeSessionInput)
  .output(ZRevokeSessionOutput)
  .mutation(async ({ ctx, input }) => {
    const { id, cookie } = orThrow(await revokeSession(ctx.deps, ctx.actor, input, request(ctx)));
    if (cookie) ctx.setCookie(cookie);
    return { id };
  });
