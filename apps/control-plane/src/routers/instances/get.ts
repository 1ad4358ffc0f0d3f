import { getInstance } from "@mcp/core";
import { scopedProcedure } from "../../trpc/init.ts";
import { orThrow } from "../../trpc/result.ts";
import { ZInstanceSummary, ZServiceTypeInput } from "./schemas.ts";

export const ZGetInstanceInput = ZServiceTypeInput;
export const ZGetInstanceOutput = ZInstanceSummary;

export const getInstanceProcedure = scopedProcedure("instances:read")
  .input(ZGetInstanceInput)
  .output(ZGetInstanceOutput)
  .query(async ({ ctx, input }) => orThrow(await getInstance(ctx.deps, ctx.actor, input)));
