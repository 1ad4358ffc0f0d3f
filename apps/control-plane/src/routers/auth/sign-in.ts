import { recordAudit, signIn } from "@mcp/core";
import { addressKey } from "@mcp/http";
import { z } from "zod";
import { publicProcedure } from "../../trpc/init.ts";
import { failures, limitAll, limitOf } from "../../trpc/limit.ts";
import { orThrow } from "../../trpc/result.ts";
import { auditRequest } from "../audit/request.ts";
import { ZUserOutput } from "./schemas.ts";

// Sign-in does not enforce the length rule: an old, shorter password must still get the same answer.
export const ZSignInInput = z.strictObject({
  email: z.email().max(254),
  password: z.string().min(1).max(256),
});
export const ZSignInOutput = ZUserOutput;

/**
 * Guessing is bounded without handing anyone a lock-out:
 * - an address (an IPv6 /64 counts as one) gets 60 attempts a minute in all;
 * - wrong passwords count against (email, address): each attempt takes a unit *before* the password is
 *   checked, so a burst sent at once cannot outrun the count, and a success gives the caller a clean slate —
 *   strangers elsewhere never make the owner's right password answer 429;
 * - a looser per-email bound, out of reach of any one address (only attempts its (email, address) budget let
 *   through are charged to it), stops a spread-out attack; also charged *before* the password is checked: a
 *   failure counted afterwards let a burst from many addresses at once through far past it.
 */
export const signInProcedure = publicProcedure
  .input(ZSignInInput)
  .output(ZSignInOutput)
  .mutation(async ({ ctx, input }) => {
    const email = input.email.trim().toLowerCase();
    const address = addressKey(ctx.clientIp);
    const caller = `signin:fail:${address}:${email}`;
    // In this order, each charged only when those before it allowed the attempt: the address's own budget
    // first, so that one address cannot spend the email's shared one.
    await limitAll(ctx, [
      [`signin:ip:${address}`, limitOf(ctx, "signInPerIp")],
      [caller, limitOf(ctx, "signInFailuresPerEmailIp")],
      [`signin:fail:${email}`, limitOf(ctx, "signInFailuresPerEmail")],
    ]);
    const user = orThrow(await signIn(ctx.deps, input));
    await failures.clear(ctx, caller);
    const { cookie } = await ctx.deps.sessions.create(user.id, {
      userAgent: ctx.userAgent,
      ip: ctx.clientIp,
    });
    ctx.setCookie(cookie);
    await recordAudit(ctx.deps, {
      ...auditRequest(ctx),
      actorKind: "session",
      userId: user.id,
      action: "auth.sign_in",
      status: "ok",
      target: user.id,
    });
    return user;
  });
