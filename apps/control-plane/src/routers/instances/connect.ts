import { connectInstance } from "@mcp/core";
import { z } from "zod";
import { authedProcedure } from "../../trpc/init.ts";
import { limit, limitOf } from "../../trpc/limit.ts";
import { orThrow } from "../../trpc/result.ts";
import { zAdditionalCredentials, zApiKey, zServiceType } from "../../trpc/schemas.ts";
import { ZIssuedInstance } from "./schemas.ts";

export const ZConnectInput = z.object({
  serviceType: zServiceType,
  apiKey: zApiKey,
  additionalCredentials: zAdditionalCredentials.optional(),
});
export const ZConnectOutput = ZIssuedInstance;

/** Validates the key with the upstream, seals it, returns the instance URL (shown once). */
export const connectProcedure = authedProcedure
  .input(ZConnectInput)
  .output(ZConnectOutput)
  .mutation(async ({ ctx, input }) => {
    await limit(ctx, `connect:${ctx.actor.userId}`, limitOf(ctx, "connectPerUser"));
    return orThrow(await connectInstance(ctx.deps, ctx.actor, input));
  });
