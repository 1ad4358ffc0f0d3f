import { z } from "zod";
import { publicProcedure } from "../../trpc/init.ts";
import { ZNoInput } from "../../trpc/schemas.ts";

export const ZSignOutOutput = z.object({ ok: z.literal(true) });

export const signOutProcedure = publicProcedure
  .input(ZNoInput)
  .output(ZSignOutOutput)
  .mutation(async ({ ctx }) => {
    if (ctx.sessionToken) ctx.setCookie(await ctx.deps.sessions.invalidate(ctx.sessionToken));
    return { ok: true as const };
  });
