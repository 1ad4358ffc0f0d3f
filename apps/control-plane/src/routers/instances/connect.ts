import { connectInstance } from "@mcp/core";
import { z } from "zod";
import { scopedProcedure } from "../../trpc/init.ts";
import { limit, limitOf } from "../../trpc/limit.ts";
import { orThrow } from "../../trpc/result.ts";
import { zAdditionalCredentials, zApiKey, zServiceType } from "../../trpc/schemas.ts";
import { auditRequest } from "../audit/request.ts";
import { ZIssuedInstance } from "./schemas.ts";

export const ZConnectInput = z.strictObject({
  serviceType: zServiceType,
  apiKey: zApiKey,
  additionalCredentials: zAdditionalCredentials.optional(),
});
export const ZConnectOutput = ZIssuedInstance;

/**
 * Validates the key (and the service's additional fields) with the upstream, seals it, returns the instance
 * URL. Connecting again replaces the key in place and returns the same URL (see `updateCredentials`).
 */
export const connectProcedure = scopedProcedure("instances:write")
  .input(ZConnectInput)
  .output(ZConnectOutput)
  .mutation(async ({ ctx, input }) => {
    await limit(ctx, `connect:${ctx.actor.userId}`, limitOf(ctx, "connectPerUser"));
    return orThrow(await connectInstance(ctx.deps, ctx.actor, input, auditRequest(ctx)));
  });
