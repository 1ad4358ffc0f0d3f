import { router } from "../../trpc/init.ts";
import { memberInstancesProcedure, revokeMemberInstanceProcedure } from "./instances.ts";
import {
  acceptInvitationProcedure,
  inviteProcedure,
  listInvitationsProcedure,
  revokeInvitationProcedure,
} from "./invitations.ts";
import {
  leaveOrgProcedure,
  listMembersProcedure,
  removeMemberProcedure,
  setRoleProcedure,
} from "./members.ts";
import { createOrgProcedure, listOrgsProcedure } from "./organizations.ts";

export const orgsRouter = router({
  list: listOrgsProcedure,
  create: createOrgProcedure,
  members: listMembersProcedure,
  invite: inviteProcedure,
  invitations: listInvitationsProcedure,
  revokeInvitation: revokeInvitationProcedure,
  acceptInvitation: acceptInvitationProcedure,
  setRole: setRoleProcedure,
  removeMember: removeMemberProcedure,
  leave: leaveOrgProcedure,
  memberInstances: memberInstancesProcedure,
  revokeMemberInstance: revokeMemberInstanceProcedure,
});
