import { summarizeUsage, USAGE_GROUP_BY } from "@mcp/core";
import { z } from "zod";
import { scopedProcedure } from "../../trpc/init.ts";
import { orThrow } from "../../trpc/result.ts";
import { zTimestamp } from "../../trpc/schemas.ts";

const zInstant = z.iso.datetime({ offset: true }).transform((s) => new Date(s));

export const ZUsageSummaryInput = z
  .object({
    /** ISO-8601; the range is [from, to), widened to whole hours, at most 366 days. */
    from: zInstant,
    to: zInstant,
    groupBy: z.enum(USAGE_GROUP_BY),
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
  .query(async ({ ctx, input }) => orThrow(await summarizeUsage(ctx.deps, ctx.actor, input)));
