import { listMemberInstances, revokeMemberInstance } from "@mcp/core";
import { z } from "zod";
import { scopedProcedure } from "../../trpc/init.ts";
import { orThrow } from "../../trpc/result.ts";
import { auditRequest } from "../audit/request.ts";
import { inKeysOrg } from "./guard.ts";
import { pageOf, ZMemberInstance, ZOrgInput, ZOrgPageInput } from "./schemas.ts";

export const ZMemberInstancesOutput = z.array(ZMemberInstance);
export const ZRevokeMemberInstanceInput = ZOrgInput.extend({ instanceId: z.string().min(1).max(64) });
export const ZRevokeMemberInstanceOutput = z.object({ instanceId: z.string() });

/** Every member's instances in the organisation (owners and admins): status and use, never a credential. */
export const memberInstancesProcedure = scopedProcedure("org:admin")
  .input(ZOrgPageInput)
  .output(ZMemberInstancesOutput)
  .query(async ({ ctx, input }) =>
    orThrow(await listMemberInstances(ctx.deps, inKeysOrg(ctx, input.orgId), pageOf(input))),
  );

/** An owner or admin revokes a member's instance: its URL stops at once, everywhere. */
export const revokeMemberInstanceProcedure = scopedProcedure("org:admin")
  .input(ZRevokeMemberInstanceInput)
  .output(ZRevokeMemberInstanceOutput)
  .mutation(async ({ ctx, input }) =>
    orThrow(await revokeMemberInstance(ctx.deps, inKeysOrg(ctx, input.orgId), input, auditRequest(ctx))),
  );
