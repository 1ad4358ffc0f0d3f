import { changePassword } from "@mcp/core";
import { z } from "zod";
import { sessionProcedure } from "../../trpc/init.ts";
import { orThrow } from "../../trpc/result.ts";
import { passwordGuard } from "./guard.ts";
import { request } from "./request.ts";
import { ZOk, zNewPassword, zPassword } from "./schemas.ts";

export const ZChangePasswordInput = z
  .strictObject({ currentPassword: zPassword, newPassword: zNewPassword })
  .refine((i) => i.currentPassword !== i.newPassword, {
    message: "newPassword must differ from currentPassword",
    path: ["newPassword"],
  });
export const ZChangePasswordOutput = ZOk;

/**
 * Wrong current password → 401 UNAUTHORIZED. On success every session of the user ends, this one included,
 * and the answer sets a fresh session cookie for this browser.
 */
export const changePasswordProcedure = sessionProcedure
  .input(ZChangePasswordInput)
  .output(ZChangePasswordOutput)
  .mutation(async ({ ctx, input }) => {
    const guard = passwordGuard(ctx, ctx.actor.userId);
    await guard.before();
    const { cookie } = orThrow(await changePassword(ctx.deps, ctx.actor, input, request(ctx)));
    await guard.succeeded();
    ctx.setCookie(cookie);
    return { ok: true as const };
  });
