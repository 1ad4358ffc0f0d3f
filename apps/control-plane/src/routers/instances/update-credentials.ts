import { updateCredentials } from "@mcp/core";
import { z } from "zod";
import { scopedProcedure } from "../../trpc/init.ts";
import { limit, limitOf } from "../../trpc/limit.ts";
import { orThrow } from "../../trpc/result.ts";
import { auditRequest } from "../audit/request.ts";
import { ZConnectInput } from "./connect.ts";
import { ZConnectedAccount, ZInstanceStatus } from "./schemas.ts";

export const ZUpdateCredentialsInput = ZConnectInput;
export const ZUpdateCredentialsOutput = z.object({
  instanceId: z.string(),
  serviceType: z.string(),
  status: ZInstanceStatus,
  account: ZConnectedAccount.nullable(),
});

/**
 * Replaces an instance's key (an expired or rotated upstream key): validated upstream, sealed in place;
 * the instance URL stays the same and `needs_reauth` clears. Additional fields not given are kept.
 */
export const updateCredentialsProcedure = scopedProcedure("instances:write")
  .input(ZUpdateCredentialsInput)
  .output(ZUpdateCredentialsOutput)
  .mutation(async ({ ctx, input }) => {
    await limit(ctx, `connect:${ctx.actor.userId}`, limitOf(ctx, "connectPerUser"));
    return orThrow(await updateCredentials(ctx.deps, ctx.actor, input, auditRequest(ctx)));
  });
