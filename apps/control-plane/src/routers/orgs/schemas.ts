import { INVITATION_TTL_HOURS, MAX_LIST_PAGE, ORG_ID, ORG_ROLES } from "@mcp/core";
import { z } from "zod";
import { zTimestamp } from "../../trpc/schemas.ts";
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
 * A page of an organisation's list, in the order items were added: at most `limit` (default and most 1,000),
 * those after the item whose id is `after` (the last one of the page before; an id not in the list → 400).
 */
export const ZOrgPageInput = ZOrgInput.extend({
  limit: z.number().int().min(1).max(MAX_LIST_PAGE).optional(),
  after: z.string().min(1).max(68).optional(),
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
