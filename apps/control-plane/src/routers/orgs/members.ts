import { listMembers, removeMember, setMemberRole } from "@mcp/core";
import { z } from "zod";
import { scopedProcedure, sessionProcedure } from "../../trpc/init.ts";
import { orThrow } from "../../trpc/result.ts";
import { auditRequest } from "../audit/request.ts";
import { inKeysOrg } from "./guard.ts";
import { pageOf, ZOrgInput, ZOrgMember, ZOrgPageInput, zOrgRole, zUserId } from "./schemas.ts";

export const ZListMembersOutput = z.array(ZOrgMember);
export const ZSetRoleInput = ZOrgInput.extend({ userId: zUserId, role: zOrgRole });
export const ZRemoveMemberInput = ZOrgInput.extend({ userId: zUserId });
export const ZRemoveMemberOutput = z.object({ userId: z.string(), revokedInstances: z.number().int() });

export const listMembersProcedure = scopedProcedure("org:admin")
  .input(ZOrgPageInput)
  .output(ZListMembersOutput)
  .query(async ({ ctx, input }) =>
    orThrow(await listMembers(ctx.deps, inKeysOrg(ctx, input.orgId), pageOf(input))),
  );

/** Owners change any role; admins switch non-owners between member and admin; the last owner stays (409). */
export const setRoleProcedure = scopedProcedure("org:admin")
  .input(ZSetRoleInput)
  .output(ZOrgMember)
  .mutation(async ({ ctx, input }) =>
    orThrow(await setMemberRole(ctx.deps, inKeysOrg(ctx, input.orgId), input, auditRequest(ctx))),
  );

/**
 * Takes a member out: their instances in the organisation are revoked, their keys bound to it too. Owners and
 * admins only, even on oneself (a member leaves with `orgs.leave`, from a session).
 */
export const removeMemberProcedure = scopedProcedure("org:admin")
  .input(ZRemoveMemberInput)
  .output(ZRemoveMemberOutput)
  .mutation(async ({ ctx, input }) =>
    orThrow(await removeMember(ctx.deps, inKeysOrg(ctx, input.orgId), input, auditRequest(ctx))),
  );

/** Leaves an organisation (the caller's instances there are revoked); the last owner cannot (409). */
export const leaveOrgProcedure = sessionProcedure
  .input(ZOrgInput)
  .output(ZRemoveMemberOutput)
  .mutation(async ({ ctx, input }) =>
    orThrow(
      await removeMember(
        ctx.deps,
        ctx.actor,
        { orgId: input.orgId, userId: ctx.actor.userId },
        auditRequest(ctx),
        "leave",
      ),
    ),
  );
