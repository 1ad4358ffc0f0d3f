import type { TrpcContext } from "../../trpc/context.ts";
import { failures, limit, limitOf } from "../../trpc/limit.ts";

/**
 * Password checks of account.* are bounded like sign-in's: each attempt takes a unit of the user's budget
 * (`signInFailuresPerEmailIp` a minute) *before* the password is checked, so a burst sent at once cannot outrun
 * the count, and the right password clears it. Keyed by user, not address: the caller already holds one of
 * the user's sessions, and only the user's own sessions can spend it.
 */
export function passwordGuard(ctx: TrpcContext, userId: string) {
  const key = `account:password:${userId}`;
  return {
    before: () => limit(ctx, key, limitOf(ctx, "signInFailuresPerEmailIp")),
    succeeded: () => failures.clear(ctx, key),
  };
}
