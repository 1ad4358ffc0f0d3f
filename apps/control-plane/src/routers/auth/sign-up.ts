import { signUp } from "@mcp/core";
import { addressKey } from "@mcp/http";
import { publicProcedure } from "../../trpc/init.ts";
import { limit, limitOf } from "../../trpc/limit.ts";
import { orThrow } from "../../trpc/result.ts";
import { ZCredentialsInput, ZUserOutput } from "./schemas.ts";

export const ZSignUpInput = ZCredentialsInput;
export const ZSignUpOutput = ZUserOutput;

export const signUpProcedure = publicProcedure
  .input(ZSignUpInput)
  .output(ZSignUpOutput)
  .mutation(async ({ ctx, input }) => {
    await limit(ctx, `signup:ip:${addressKey(ctx.clientIp)}`, limitOf(ctx, "signUpPerIp"));
    const user = orThrow(await signUp(ctx.deps, input));
    const { cookie } = await ctx.deps.sessions.create(user.id, {
      userAgent: ctx.userAgent,
      ip: ctx.clientIp,
    });
    ctx.setCookie(cookie);
    return user;
  });
