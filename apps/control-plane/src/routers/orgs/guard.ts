import { AppError } from "@mcp/core";
import type { TrpcContext } from "../../trpc/context.ts";
import { toTrpc } from "../../trpc/init.ts";

/**
 * An API key is bound to its organisation: naming any other answers 404, as an organisation the caller is
 * not in does (the domain functions check membership and role for sessions and keys alike).
 */
export function inKeysOrg(
  { actor }: { actor: NonNullable<TrpcContext["actor"]> },
  orgId: string,
): { userId: string } {
  if (actor.via === "api_key" && actor.orgId !== orgId) {
    throw toTrpc(new AppError("NOT_FOUND", "Organisation not found"));
  }
  return { userId: actor.userId };
}
