import { INVITATION_TTL_HOURS, MAX_LIST_PAGE, ORG_ID, ORG_ROLES, type PageInput } from "@mcp/core";
import { z } from "zod";
import { zInstant, zTimestamp } from "../../trpc/schemas.ts";
import { ZInstanceSummary } from "../instances/schemas.ts";

export const zOrgId = z.string().min(5).max(68).regex(ORG_ID, "orgId is an organisation id (org_…)");
export const zUserId = z
  .string()
  .min(5)
  .max(68)
  .regex(/^usr_[A-Za-z0-9_-]+$/, "userId is a user id (usr_…)");
export const zOrgRole = z.enum(ORG_ROLES);
/** What an invitation may grant: ownership is given by changing a member's role, never by a link. */
export const zInvitedRole = z.enum(["admin", "member"]);
export const zOrgName = z
  .string()
  .trim()
  .min(1, "name is required")
  .max(80, "name has at most 80 characters");

export const ZOrgInput = z.strictObject({ orgId: zOrgId });
/**
 * The fields of a page of an organisation's list, in the order items were added: at most `limit` (default and
 * most 1,000), those after the last item of the page before, named by its id (`after`) and its time
 * (`afterAt`: its `joinedAt` / `createdAt`), both or neither. That item may be gone meanwhile.
 */
export const ZPageFields = z.object({
  limit: z.number().int().min(1).max(MAX_LIST_PAGE).optional(),
  after: z
    .string()
    .min(1)
    .max(68)
    .regex(
      /^[a-z]{2,8}_[A-Za-z0-9_-]+$/,
      "after is the id of the last item of the page before (usr_…, ins_…)",
    )
    .optional(),
  afterAt: zInstant.optional(),
});
export const ZOrgPageInput = ZOrgInput.extend(ZPageFields.shape).refine(
  (i) => (i.after === undefined) === (i.afterAt === undefined),
  { message: "after and afterAt go together: the id and the time of the last item of the page before" },
);

/** The core's page of a validated input. */
export const pageOf = (input: z.output<typeof ZOrgPageInput>): { orgId: string } & PageInput => ({
  orgId: input.orgId,
  limit: input.limit,
  ...(input.after !== undefined && input.afterAt && { after: { id: input.after, at: input.afterAt } }),
});

export const ZOrgSummary = z.object({
  orgId: z.string(),
  name: z.string(),
  personal: z.boolean(),
  role: zOrgRole,
  createdAt: zTimestamp,
});

export const ZOrgMember = z.object({
  userId: z.string(),
  email: z.string(),
  role: zOrgRole,
  joinedAt: zTimestamp,
});

export const ZInvitationSummary = z.object({
  invitationId: z.string(),
  role: zOrgRole,
  expiresAt: zTimestamp,
  createdAt: zTimestamp,
  invitedBy: z.string().nullable(),
});

export const ZInviteInput = ZOrgInput.extend({
  role: zInvitedRole,
  expiresInHours: z.number().int().min(1).max(INVITATION_TTL_HOURS.max).optional(),
});
export const ZIssuedInvitation = ZInvitationSummary.extend({
  /** Shown once. */
  token: z.string(),
  invitePath: z.string(),
});

export const ZMemberInstance = ZInstanceSummary.extend({ userId: z.string(), email: z.string() });
