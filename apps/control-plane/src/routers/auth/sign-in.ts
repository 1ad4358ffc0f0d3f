import { signIn } from "@mcp/core";
import { z } from "zod";
import { publicProcedure } from "../../trpc/init.ts";
import { limit, limitOf } from "../../trpc/limit.ts";
import { orThrow } from "../../trpc/result.ts";
import { ZUserOutput } from "./schemas.ts";

// Sign-in does not enforce the length rule: an old, shorter password must still get the same answer.
export const ZSignInInput = z.object({ email: z.email().max(254), password: z.string().min(1).max(256) });
export const ZSignInOutput = ZUserOutput;

export const signInProcedure = publicProcedure
  .input(ZSignInInput)
  .output(ZSignInOutput)
  .mutation(async ({ ctx, input }) => {
    await limit(ctx, `signin:ip:${ctx.clientIp}`, limitOf(ctx, "signInPerIp"));
    await limit(ctx, `signin:${input.email.trim().toLowerCase()}`, limitOf(ctx, "signInPerEmail"));
    const user = orThrow(await signIn(ctx.deps, input));
    const { cookie } = await ctx.deps.sessions.create(user.id);
    ctx.setCookie(cookie);
    return user;
  });
