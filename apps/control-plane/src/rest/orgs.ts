import { z } from "zod";
import {
  ZMemberInstancesOutput,
  ZRevokeMemberInstanceInput,
  ZRevokeMemberInstanceOutput,
} from "../routers/orgs/instances.ts";
import {
  ZAcceptInvitationInput,
  ZListInvitationsOutput,
  ZRevokeInvitationInput,
  ZRevokeInvitationOutput,
} from "../routers/orgs/invitations.ts";
import {
  ZListMembersOutput,
  ZRemoveMemberInput,
  ZRemoveMemberOutput,
  ZSetRoleInput,
} from "../routers/orgs/members.ts";
import { ZCreateOrgInput, ZCreateOrgOutput, ZListOrgsOutput } from "../routers/orgs/organizations.ts";
import {
  ZInviteInput,
  ZIssuedInvitation,
  ZOrgInput,
  ZOrgMember,
  ZPageFields,
} from "../routers/orgs/schemas.ts";
import { defined, defineRoute, type In, type RestRoute } from "./define.ts";

const ZPageQuery = ZPageFields.extend({ afterAt: ZPageFields.shape.afterAt.unwrap().in.optional() });
const PAGED =
  "In the order they were added, at most `limit` (default and most 1,000) per call: for the next page pass the " +
  "last one's id as `after` and its time (`joinedAt` / `createdAt`) as `afterAt` (a page shorter than `limit` " +
  "is the last; that item may have gone meanwhile).";

const ORG_ADMIN = { tag: "orgs", access: "any", scope: "org:admin" } as const;
const SESSION = { tag: "orgs", access: "session" } as const;

/** Organisations: the path names the organisation; the procedures check membership, role and the key's binding. */
export const orgRoutes: RestRoute[] = [
  defineRoute({
    ...ORG_ADMIN,
    method: "get",
    path: "/orgs",
    operationId: "listOrgs",
    summary: "Your organisations and your role in each, the personal one first",
    procedure: "orgs.list",
    response: z.object({ orgs: ZListOrgsOutput }),
    errors: [],
    handle: async ({ call }) => ({ orgs: await call.orgs.list() }),
  }),
  defineRoute({
    ...SESSION,
    method: "post",
    path: "/orgs",
    operationId: "createOrg",
    summary: "Create an organisation; you are its owner",
    procedure: "orgs.create",
    body: ZCreateOrgInput,
    status: 201,
    response: ZCreateOrgOutput,
    errors: [],
    handle: ({ call, body }) => call.orgs.create(body as In<"orgs", "create">),
  }),
  defineRoute({
    ...ORG_ADMIN,
    method: "get",
    path: "/orgs/:orgId/members",
    operationId: "listOrgMembers",
    summary: "The organisation's members and their roles",
    description: `Any member may list them; an organisation you are not in answers 404. ${PAGED}`,
    procedure: "orgs.members",
    params: ZOrgInput,
    query: ZPageQuery,
    response: z.object({ members: ZListMembersOutput }),
    errors: ["NOT_FOUND"],
    handle: async ({ call, params, query }) => ({
      members: await call.orgs.members({ ...params, ...defined(query) } as In<"orgs", "members">),
    }),
  }),
  defineRoute({
    ...ORG_ADMIN,
    method: "put",
    path: "/orgs/:orgId/members/:userId",
    operationId: "setOrgMemberRole",
    summary: "Change a member's role",
    description:
      "Owners change any role; admins switch non-owners between member and admin (else 403). Demoting the last owner answers 409.",
    procedure: "orgs.setRole",
    params: ZSetRoleInput.pick({ orgId: true, userId: true }),
    body: ZSetRoleInput.pick({ role: true }),
    response: ZOrgMember,
    errors: ["NOT_FOUND", "CONFLICT"],
    handle: ({ call, params, body }) => call.orgs.setRole({ ...body, ...params } as In<"orgs", "setRole">),
  }),
  defineRoute({
    ...ORG_ADMIN,
    method: "delete",
    path: "/orgs/:orgId/members/:userId",
    operationId: "removeOrgMember",
    summary: "Remove a member: their instances in the organisation are revoked, their keys bound to it too",
    description:
      "Owners and admins, on themselves too; only owners remove owners; removing the last owner answers 409. A member naming themselves answers 403: members leave with `POST /orgs/:orgId/leave`.",
    procedure: "orgs.removeMember",
    params: ZRemoveMemberInput,
    response: ZRemoveMemberOutput,
    errors: ["NOT_FOUND", "CONFLICT"],
    handle: ({ call, params }) => call.orgs.removeMember(params as In<"orgs", "removeMember">),
  }),
  defineRoute({
    ...SESSION,
    method: "post",
    path: "/orgs/:orgId/leave",
    operationId: "leaveOrg",
    summary: "Leave an organisation (your instances there are revoked)",
    description: "The last owner cannot leave (409); a personal organisation cannot be left (400).",
    procedure: "orgs.leave",
    params: ZOrgInput,
    response: ZRemoveMemberOutput,
    errors: ["NOT_FOUND", "CONFLICT"],
    handle: ({ call, params }) => call.orgs.leave(params as In<"orgs", "leave">),
  }),
  defineRoute({
    ...ORG_ADMIN,
    method: "post",
    path: "/orgs/:orgId/invitations",
    operationId: "inviteOrgMember",
    summary: "Make a single-use invitation link (shown once), valid for a week unless told otherwise",
    procedure: "orgs.invite",
    params: ZOrgInput,
    body: ZInviteInput.omit({ orgId: true }),
    status: 201,
    response: ZIssuedInvitation,
    errors: ["NOT_FOUND"],
    handle: ({ call, params, body }) => call.orgs.invite({ ...body, ...params } as In<"orgs", "invite">),
  }),
  defineRoute({
    ...ORG_ADMIN,
    method: "get",
    path: "/orgs/:orgId/invitations",
    operationId: "listOrgInvitations",
    summary: "Pending invitations (not used, revoked or expired)",
    procedure: "orgs.invitations",
    params: ZOrgInput,
    response: z.object({ invitations: ZListInvitationsOutput }),
    errors: ["NOT_FOUND"],
    handle: async ({ call, params }) => ({
      invitations: await call.orgs.invitations(params as In<"orgs", "invitations">),
    }),
  }),
  defineRoute({
    ...ORG_ADMIN,
    method: "delete",
    path: "/orgs/:orgId/invitations/:invitationId",
    operationId: "revokeOrgInvitation",
    summary: "Revoke a pending invitation",
    description: "A used, revoked or expired invitation answers 404.",
    procedure: "orgs.revokeInvitation",
    params: ZRevokeInvitationInput,
    response: ZRevokeInvitationOutput,
    errors: ["NOT_FOUND"],
    handle: ({ call, params }) => call.orgs.revokeInvitation(params as In<"orgs", "revokeInvitation">),
  }),
  defineRoute({
    ...SESSION,
    method: "post",
    path: "/orgs/:orgId/join",
    operationId: "acceptOrgInvitation",
    summary: "Join with an invitation's token",
    description:
      "Once (a second use answers 409), before it expires (400), for the organisation it was made for (any other, or an unknown or revoked token: 404).",
    procedure: "orgs.acceptInvitation",
    params: ZOrgInput,
    body: ZAcceptInvitationInput.omit({ orgId: true }),
    response: ZCreateOrgOutput,
    errors: ["NOT_FOUND", "CONFLICT"],
    handle: ({ call, params, body }) =>
      call.orgs.acceptInvitation({ ...body, ...params } as In<"orgs", "acceptInvitation">),
  }),
  defineRoute({
    ...ORG_ADMIN,
    method: "get",
    path: "/orgs/:orgId/instances",
    operationId: "listOrgMemberInstances",
    summary: "Every member's instances in the organisation: status and use, never a credential or URL",
    description: PAGED,
    procedure: "orgs.memberInstances",
    params: ZOrgInput,
    query: ZPageQuery,
    response: z.object({ instances: ZMemberInstancesOutput }),
    errors: ["NOT_FOUND"],
    handle: async ({ call, params, query }) => ({
      instances: await call.orgs.memberInstances({ ...params, ...defined(query) } as In<
        "orgs",
        "memberInstances"
      >),
    }),
  }),
  defineRoute({
    ...ORG_ADMIN,
    method: "delete",
    path: "/orgs/:orgId/instances/:instanceId",
    operationId: "revokeOrgMemberInstance",
    summary: "Revoke a member's instance: its URL stops at once, everywhere",
    procedure: "orgs.revokeMemberInstance",
    params: ZRevokeMemberInstanceInput,
    response: ZRevokeMemberInstanceOutput,
    errors: ["NOT_FOUND"],
    handle: ({ call, params }) =>
      call.orgs.revokeMemberInstance(params as In<"orgs", "revokeMemberInstance">),
  }),
];
