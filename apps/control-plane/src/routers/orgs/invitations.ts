import { acceptInvitation, inviteMember, listInvitations, revokeInvitation } from "@mcp/core";
import { z } from "zod";
import { scopedProcedure, sessionProcedure } from "../../trpc/init.ts";
import { orThrow } from "../../trpc/result.ts";
import { auditRequest } from "../audit/request.ts";
import { inKeysOrg } from "./guard.ts";
import {
  ZInvitationSummary,
  ZInviteInput,
  ZIssuedInvitation,
  ZOrgInput,
  ZOrgSummary,
  zOrgId,
} from "./schemas.ts";

export const ZListInvitationsOutput = z.array(ZInvitationSummary);
export const ZRevokeInvitationInput = ZOrgInput.extend({ invitationId: z.string().min(1).max(64) });
export const ZRevokeInvitationOutput = z.object({ invitationId: z.string() });
export const ZAcceptInvitationInput = z.strictObject({
  orgId: zOrgId,
  // Bounded here; a token of the wrong shape answers like an unknown one (404).
  token: z.string().min(1).max(128),
});

/** A single-use invitation link, shown once to the inviter; only its hash is kept. */
export const inviteProcedure = scopedProcedure("org:admin")
  .input(ZInviteInput)
  .output(ZIssuedInvitation)
  .mutation(async ({ ctx, input }) =>
    orThrow(await inviteMember(ctx.deps, inKeysOrg(ctx, input.orgId), input, auditRequest(ctx))),
  );

/** Pending invitations (not used, revoked or expired), oldest first. */
export const listInvitationsProcedure = scopedProcedure("org:admin")
  .input(ZOrgInput)
  .output(ZListInvitationsOutput)
  .query(async ({ ctx, input }) =>
    orThrow(await listInvitations(ctx.deps, inKeysOrg(ctx, input.orgId), input)),
  );

export const revokeInvitationProcedure = scopedProcedure("org:admin")
  .input(ZRevokeInvitationInput)
  .output(ZRevokeInvitationOutput)
  .mutation(async ({ ctx, input }) =>
    orThrow(await revokeInvitation(ctx.deps, inKeysOrg(ctx, input.orgId), input, auditRequest(ctx))),
  );

/** Joins with an invitation: once, before it expires, for the organisation it was made for (session only). */
export const acceptInvitationProcedure = sessionProcedure
  .input(ZAcceptInvitationInput)
  .output(ZOrgSummary)
  .mutation(async ({ ctx, input }) =>
    orThrow(await acceptInvitation(ctx.deps, ctx.actor, input, auditRequest(ctx))),
  );
