import { revokeInstance } from "@mcp/core";
import { z } from "zod";
import { scopedProcedure } from "../../trpc/init.ts";
import { orThrow } from "../../trpc/result.ts";
import { auditRequest } from "../audit/request.ts";
import { ZServiceTypeInput } from "./schemas.ts";

export const ZRevokeInstanceInput = ZServiceTypeInput;
export const ZRevokeInstanceOutput = z.object({ instanceId: z.string() });

export const revokeInstanceProcedure = scopedProcedure("instances:write")
  .input(ZRevokeInstanceInput)
  .output(ZRevokeInstanceOutput)
  .mutation(async ({ ctx, input }) =>
    orThrow(await revokeInstance(ctx.deps, ctx.actor, input, auditRequest(ctx))),
  );
