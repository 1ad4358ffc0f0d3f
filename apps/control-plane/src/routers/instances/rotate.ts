import { rotateInstance } from "@mcp/core";
import { scopedProcedure } from "../../trpc/init.ts";
import { orThrow } from "../../trpc/result.ts";
import { auditRequest } from "../audit/request.ts";
import { ZIssuedInstance, ZServiceTypeInput } from "./schemas.ts";

export const ZRotateInstanceInput = ZServiceTypeInput;
export const ZRotateInstanceOutput = ZIssuedInstance;

/** A new URL for the same instance; the old URL stops working at once. */
export const rotateInstanceProcedure = scopedProcedure("instances:write")
  .input(ZRotateInstanceInput)
  .output(ZRotateInstanceOutput)
  .mutation(async ({ ctx, input }) =>
    orThrow(await rotateInstance(ctx.deps, ctx.actor, input, auditRequest(ctx))),
  );
