import { deleteInstance } from "@mcp/core";
import { z } from "zod";
import { scopedProcedure } from "../../trpc/init.ts";
import { orThrow } from "../../trpc/result.ts";
import { auditRequest } from "../audit/request.ts";
import { ZServiceTypeInput } from "./schemas.ts";

export const ZDeleteInstanceInput = ZServiceTypeInput;
export const ZDeleteInstanceOutput = z.object({ instanceId: z.string() });

/** Erases the instance (live or revoked) and its sealed credential; its URL stops at once, everywhere. */
export const deleteInstanceProcedure = scopedProcedure("instances:write")
  .input(ZDeleteInstanceInput)
  .output(ZDeleteInstanceOutput)
  .mutation(async ({ ctx, input }) =>
    orThrow(await deleteInstance(ctx.deps, ctx.actor, input, auditRequest(ctx))),
  );
