import { router } from "../../trpc/init.ts";
import { changePasswordProcedure } from "./change-password.ts";
import { deleteAccountProcedure } from "./delete.ts";
import { revokeSessionProcedure } from "./revoke-session.ts";
import { sessionsProcedure } from "./sessions.ts";
import { signOutEverywhereProcedure } from "./sign-out-everywhere.ts";

/** Session cookie only: an API key gets 403 FORBIDDEN on every one of these. */
export const accountRouter = router({
  changePassword: changePasswordProcedure,
  sessions: sessionsProcedure,
  revokeSession: revokeSessionProcedure,
  signOutEverywhere: signOutEverywhereProcedure,
  delete: deleteAccountProcedure,
});
