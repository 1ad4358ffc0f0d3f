import { summarizeUsage, USAGE_GROUP_BY, USAGE_SCOPES } from "@mcp/core";
import { z } from "zod";
import { requireOrgAdmin, scopedProcedure } from "../../trpc/init.ts";
import { orThrow } from "../../trpc/result.ts";
import { zInstant, zTimestamp } from "../../trpc/schemas.ts";

export const ZUsageSummaryInput = z
  .object({
    /** ISO-8601; the range is [from, to), widened to whole hours, at most 366 days. */
    from: zInstant,
    to: zInstant,
    groupBy: z.enum(USAGE_GROUP_BY),
    /** `mine` (default): your calls in the organisation you act in; `org`: every member's (owners and admins). */
    scope: z.enum(USAGE_SCOPES).default("mine"),
  })
  .strict();

export const ZUsageSummaryOutput = z.object({
  from: zTimestamp,
  to: zTimestamp,
  groupBy: z.enum(USAGE_GROUP_BY),
  groups: z.array(
    z.object({
      key: z.string(),
      calls: z.number(),
      errors: z.record(z.string(), z.number()),
      p50Ms: z.number().nullable(),
      p95Ms: z.number().nullable(),
      upstreamMsAvg: z.number().optional(),
    }),
  ),
  truncated: z.boolean(),
});

/** Tool calls of the caller's instances in a range: calls, errors by code, p50/p95 latency, upstream time. */
export const usageSummaryProcedure = scopedProcedure("usage:read")
  .input(ZUsageSummaryInput)
  .output(ZUsageSummaryOutput)
  .query(async ({ ctx, input }) => {
    if (input.scope === "org") requireOrgAdmin(ctx.actor);
    return orThrow(await summarizeUsage(ctx.deps, ctx.actor, input));
  });
