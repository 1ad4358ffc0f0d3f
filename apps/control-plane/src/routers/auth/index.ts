import { router } from "../../trpc/init.ts";
import { meProcedure } from "./me.ts";
import { signInProcedure } from "./sign-in.ts";
import { signOutProcedure } from "./sign-out.ts";
import { signUpProcedure } from "./sign-up.ts";

export const authRouter = router({
  signUp: signUpProcedure,
  signIn: signInProcedure,
  signOut: signOutProcedure,
  me: meProcedure,
});
