import { signIn } from "@mcp/core";
import { z } from "zod";
import { publicProcedure } from "../../trpc/init.ts";
import { failures, limit, limitOf } from "../../trpc/limit.ts";
import { orThrow } from "../../trpc/result.ts";
import { ZUserOutput } from "./schemas.ts";

// Sign-in does not enforce the length rule: an old, shorter password must still get the same answer.
export const ZSignInInput = z.object({ email: z.email().max(254), password: z.string().min(1).max(256) });
export const ZSignInOutput = ZUserOutput;

/**
 * Guessing is bounded without handing anyone a lock-out: an address gets few attempts overall, and wrong
 * passwords count against (email, address), so strangers elsewhere cannot make the owner's right password
 * answer 429. A looser per-email bound, out of reach of any one address, stops a spread-out attack.
 */
export const signInProcedure = publicProcedure
  .input(ZSignInInput)
  .output(ZSignInOutput)
  .mutation(async ({ ctx, input }) => {
    const email = input.email.trim().toLowerCase();
    await limit(ctx, `signin:ip:${ctx.clientIp}`, limitOf(ctx, "signInPerIp"));
    const buckets: [string, number][] = [
      [`signin:fail:${ctx.clientIp}:${email}`, limitOf(ctx, "signInFailuresPerEmailIp")],
      [`signin:fail:${email}`, limitOf(ctx, "signInFailuresPerEmail")],
    ];
    for (const [key, max] of buckets) await failures.check(ctx, key, max);
    const result = await signIn(ctx.deps, input);
    if (!result.ok) for (const [key, max] of buckets) await failures.fail(ctx, key, max);
    const user = orThrow(result);
    await failures.clear(ctx, `signin:fail:${ctx.clientIp}:${email}`);
    const { cookie } = await ctx.deps.sessions.create(user.id);
    ctx.setCookie(cookie);
    return user;
  });
