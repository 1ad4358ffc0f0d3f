import { rotateInstance } from "@mcp/core";
import { authedProcedure } from "../../trpc/init.ts";
import { orThrow } from "../../trpc/result.ts";
import { ZIssuedInstance, ZServiceTypeInput } from "./schemas.ts";

export const ZRotateInstanceInput = ZServiceTypeInput;
export const ZRotateInstanceOutput = ZIssuedInstance;

/** A new URL for the same instance; the old URL stops working at once. */
export const rotateInstanceProcedure = authedProcedure
  .input(ZRotateInstanceInput)
  .output(ZRotateInstanceOutput)
  .mutation(async ({ ctx, input }) => orThrow(await rotateInstance(ctx.deps, ctx.actor, input)));
