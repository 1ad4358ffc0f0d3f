import { signOutEverywhere } from "@mcp/core";
import { z } from "zod";
import { sessionProcedure } from "../../trpc/init.ts";
import { ZNoInput } from "../../trpc/schemas.ts";
import { request } from "./request.ts";

export const ZSignOutEverywhereOutput = z.object({ revoked: z.number().int().nonnegative() });

/** Ends every session of the user, this one included (its cookie is cleared). */
export const signOutEverywhereProcedure = sessionProcedure
  .input(ZNoInput)
  .output(ZSignOutEverywhereOutput)
  .mutation(async ({ ctx }) => {
    const { revoked, cookie } = await signOutEverywhere(ctx.deps, ctx.actor, request(ctx));
    ctx.setCookie(cookie);
    return { revoked };
  });
