import { createOrg, listOrgs } from "@mcp/core";
import { z } from "zod";
import { scopedProcedure, sessionProcedure } from "../../trpc/init.ts";
import { orThrow } from "../../trpc/result.ts";
import { ZNoInput } from "../../trpc/schemas.ts";
import { auditRequest } from "../audit/request.ts";
import { ZOrgSummary, zOrgName } from "./schemas.ts";

export const ZListOrgsOutput = z.array(ZOrgSummary);
export const ZCreateOrgInput = z.strictObject({ name: zOrgName });
export const ZCreateOrgOutput = ZOrgSummary;

/** The caller's organisations and their role in each, the personal one first (a key: only its own). */
export const listOrgsProcedure = scopedProcedure("org:admin")
  .input(ZNoInput)
  .output(ZListOrgsOutput)
  .query(async ({ ctx }) => {
    const orgs = await listOrgs(ctx.deps, ctx.actor);
    return ctx.actor.via === "api_key" ? orgs.filter((o) => o.orgId === ctx.actor.orgId) : orgs;
  });

/** A new organisation with the caller as its owner (a person's act: session only). */
export const createOrgProcedure = sessionProcedure
  .input(ZCreateOrgInput)
  .output(ZCreateOrgOutput)
  .mutation(async ({ ctx, input }) =>
    orThrow(await createOrg(ctx.deps, ctx.actor, input, auditRequest(ctx))),
  );
