import { deleteAccount } from "@mcp/core";
import { z } from "zod";
import { sessionProcedure } from "../../trpc/init.ts";
import { orThrow } from "../../trpc/result.ts";
import { passwordGuard } from "./guard.ts";
import { request } from "./request.ts";
import { zPassword } from "./schemas.ts";

export const ZDeleteAccountInput = z.strictObject({ password: zPassword });
export const ZDeleteAccountOutput = z.object({
  ok: z.literal(true),
  /** Instances deleted (their URLs answer 401 at every edge). */
  instancesDeleted: z.number().int().nonnegative(),
});

/** Wrong password → 401 UNAUTHORIZED, nothing changed. Otherwise the account is gone; the cookie is cleared. */
export const deleteAccountProcedure = sessionProcedure
  .input(ZDeleteAccountInput)
  .output(ZDeleteAccountOutput)
  .mutation(async ({ ctx, input }) => {
    const guard = passwordGuard(ctx, ctx.actor.userId);
    await guard.before();
    const { instancesDeleted, cookie } = orThrow(
      await deleteAccount(ctx.deps, ctx.actor, input, request(ctx)),
    );
    await guard.succeeded();
    ctx.setCookie(cookie);
    return { ok: true as const, instancesDeleted };
  });
