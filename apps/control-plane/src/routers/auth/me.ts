import { getUser } from "@mcp/core";
import { publicProcedure } from "../../trpc/init.ts";
import { ZUserOutput } from "./schemas.ts";

export const ZMeOutput = ZUserOutput.nullable();

/** The signed-in user, or null (a query the dashboard asks before anything else). */
export const meProcedure = publicProcedure.output(ZMeOutput).query(async ({ ctx }) => {
  if (!ctx.actor) return null;
  return getUser(ctx.deps, ctx.actor.userId);
});
