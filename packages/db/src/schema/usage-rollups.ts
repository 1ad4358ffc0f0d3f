import { bigint, index, integer, jsonb, pgTable, primaryKey, text } from "drizzle-orm/pg-core";
import { tz } from "./columns.ts";

export const USAGE_PERIODS = ["hour", "day"] as const;
export type UsagePeriod = (typeof USAGE_PERIODS)[number];

/**
 * Tool-call counters per (user, instance, service, tool) and UTC hour, and again per UTC day, kept by the
 * batched audit writer in the same statement that inserts the events. `usage.summary` reads only these: day
 * rows for the whole days of a range, hour rows for its ragged ends.
 */
export const usageRollups = pgTable(
  "usage_rollups",
  {
    userId: text().notNull(),
    /** The instance's organisation (determined by the instance; kept here so its admins' summary needs no join). */
    orgId: text(),
    period: text({ enum: USAGE_PERIODS }).notNull(),
    /** Start of the hour or the UTC day. */
    periodStart: tz().notNull(),
    instanceId: text().notNull(),
    serviceType: text().notNull(),
    tool: text().notNull(),
    calls: integer().notNull(),
    /** Failed calls per error code, e.g. `{ "UPSTREAM_ERROR": 3 }`. */
    errors: jsonb().$type<Record<string, number>>().notNull().default({}),
    /** Calls per latency bucket: a fixed log scale of 4 buckets per doubling (see `latencyBucket` in core). */
    latencyBuckets: integer().array().notNull(),
    /** Calls that reached the upstream, and the milliseconds they spent there. */
    upstreamCalls: integer().notNull().default(0),
    upstreamMsSum: bigint({ mode: "number" }).notNull().default(0),
  },
  // The key leads with what a summary filters on: the user, the period kind, the time range.
  (t) => [
    // Organisation admins' summary: every member's calls in the organisation.
    index("usage_rollups_org_idx").on(t.orgId, t.period, t.periodStart),
    primaryKey({
      name: "usage_rollups_pk",
      columns: [t.userId, t.period, t.periodStart, t.instanceId, t.serviceType, t.tool],
    }),
  ],
);
