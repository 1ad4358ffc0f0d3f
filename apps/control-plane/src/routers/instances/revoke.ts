import { revokeInstance } from "@mcp/core";
import { z } from "zod";
import { authedProcedure } from "../../trpc/init.ts";
import { orThrow } from "../../trpc/result.ts";
import { ZServiceTypeInput } from "./schemas.ts";

export const ZRevokeInstanceInput = ZServiceTypeInput;
export const ZRevokeInstanceOutput = z.object({ instanceId: z.string() });

export const revokeInstanceProcedure = authedProcedure
  .input(ZRevokeInstanceInput)
  .output(ZRevokeInstanceOutput)
  .mutation(async ({ ctx, input }) => orThrow(await revokeInstance(ctx.deps, ctx.actor, input)));
