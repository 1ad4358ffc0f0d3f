import { API_KEY_SCOPES, getUser } from "@mcp/core";
import { z } from "zod";
import { publicProcedure } from "../../trpc/init.ts";
import { ZNoInput } from "../../trpc/schemas.ts";
import { zOrgRole } from "../orgs/schemas.ts";
import { ZUserOutput } from "./schemas.ts";

export const ZMeOutput = ZUserOutput.extend({
  /** How this call was authenticated: a dashboard session or an API key. */
  via: z.enum(["session", "api_key"]),
  /**
   * The organisation the call acts in (an API key's own; for a session the `X-Org-Id` one, else the personal
   * one) and the caller's role there: what an integrator's key is bound to, without `org:admin`.
   */
  orgId: z.string(),
  orgRole: zOrgRole,
  /** An API key's scopes; null for a session (which may do whatever its user may). */
  scopes: z.array(z.enum(API_KEY_SCOPES)).nullable(),
}).nullable();

/** The signed-in user and how they are acting, or null (a query the dashboard asks before anything else). */
export const meProcedure = publicProcedure
  .input(ZNoInput)
  .output(ZMeOutput)
  .query(async ({ ctx }) => {
    const { actor } = ctx;
    if (!actor) return null;
    const user = await getUser(ctx.deps, actor.userId);
    if (!user) return null;
    return {
      ...user,
      via: actor.via,
      orgId: actor.orgId,
      orgRole: actor.orgRole,
      scopes: actor.via === "api_key" ? [...(actor.scopes ?? [])] : null,
    };
  });
