import { type Db, type UsagePeriod, usageRollups } from "@mcp/db";
import { and, eq, gte, lt, or, type SQL, sql } from "drizzle-orm";
import type { Actor, CoreDeps } from "./deps.ts";
import { fail, ok, type Result } from "./errors.ts";

/**
 * Latency histogram: bucket 0 holds calls under 1 ms, bucket i ≥ 1 holds [2^((i-1)/4), 2^(i/4)) ms (four
 * buckets per doubling), the last one everything from 2^17.5 ms (about 185 s) up. A percentile is reported
 * as its bucket's geometric middle, so it is off by at most 2^(1/8) − 1 ≈ 9 % of the true value.
 */
export const LATENCY_BUCKETS = 72;
const PER_DOUBLING = 4;

export function latencyBucket(ms: number): number {
  if (!(ms >= 1)) return 0;
  return Math.min(LATENCY_BUCKETS - 1, 1 + Math.floor(PER_DOUBLING * Math.log2(ms)));
}

/** The value a bucket stands for: the geometric middle of its bounds (0 for the sub-millisecond bucket). */
export function bucketValue(bucket: number): number {
  return bucket <= 0 ? 0 : 2 ** ((bucket - 0.5) / PER_DOUBLING);
}

/** The `p`-quantile (0 < p ≤ 1) of a histogram, as its bucket's value; null when it holds no call. */
export function percentile(buckets: readonly number[], p: number): number | null {
  let total = 0;
  for (const n of buckets) total += n;
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(p * total));
  let seen = 0;
  for (let i = 0; i < buckets.length; i++) {
    seen += buckets[i] ?? 0;
    if (seen >= rank) return bucketValue(i);
  }
  return bucketValue(buckets.length - 1);
}

/** One tool call as the audit writer holds it. */
export interface CallSample {
  userId: string;
  orgId?: string;
  instanceId: string;
  serviceType?: string;
  tool: string;
  status: string;
  latencyMs: number;
  upstreamMs?: number;
  createdAt: Date;
}

/** A roll-up row as the writer sends it (snake_case: the JSON is read by `json_to_recordset`). */
export interface RollupRow {
  user_id: string;
  org_id: string | null;
  period: UsagePeriod;
  period_start: string;
  instance_id: string;
  service_type: string;
  tool: string;
  calls: number;
  errors: Record<string, number>;
  latency_buckets: number[];
  upstream_calls: number;
  upstream_ms_sum: number;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/**
 * A batch of tool calls folded into hour and day roll-up rows, sorted by key (writers in several processes
 * then lock the same rows in the same order and never deadlock each other).
 */
export function rollUp(calls: Iterable<CallSample>): RollupRow[] {
  const fold = new RollupFold();
  for (const call of calls) fold.add(call);
  return fold.rows();
}

/** `rollUp`, one call at a time: the audit writer folds each call as it is recorded. */
export class RollupFold {
  private readonly byKey = new Map<string, RollupRow>();

  get size(): number {
    return this.byKey.size;
  }

  add(call: CallSample): void {
    const rows = this.byKey;
    const at = call.createdAt.getTime();
    const serviceType = call.serviceType ?? "unknown";
    for (const [period, size] of PERIODS) {
      const start = Math.floor(at / size) * size;
      const key = `${call.userId}\u0000${period}\u0000${start}\u0000${call.instanceId}\u0000${serviceType}\u0000${call.tool}`;
      let row = rows.get(key);
      if (!row) {
        row = {
          user_id: call.userId,
          org_id: call.orgId ?? null,
          period,
          period_start: new Date(start).toISOString(),
          instance_id: call.instanceId,
          service_type: serviceType,
          tool: call.tool,
          calls: 0,
          errors: {},
          latency_buckets: new Array<number>(LATENCY_BUCKETS).fill(0),
          upstream_calls: 0,
          upstream_ms_sum: 0,
        };
        rows.set(key, row);
      }
      row.calls++;
      if (call.status !== "ok") row.errors[call.status] = (row.errors[call.status] ?? 0) + 1;
      const bucket = latencyBucket(call.latencyMs);
      row.latency_buckets[bucket] = (row.latency_buckets[bucket] ?? 0) + 1;
      if (call.upstreamMs !== undefined) {
        row.upstream_calls++;
        row.upstream_ms_sum += call.upstreamMs;
      }
    }
  }

  /** The rows so far, sorted by key. */
  rows(): RollupRow[] {
    return [...this.byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, row]) => row);
  }
}

const PERIODS = [
  ["hour", HOUR_MS],
  ["day", DAY_MS],
] as const;

/**
 * Adds roll-up rows (a JSON array of `RollupRow`) to the stored counters: the SQL fragment the audit writer
 * appends to its insert, so events and counters commit together; only when `when` holds, if given.
 */
export function upsertRollups(rowsJson: string, when?: SQL): SQL {
  return sql`
    insert into usage_rollups as u (user_id, org_id, period, period_start, instance_id, service_type, tool, calls, errors,
      latency_buckets, upstream_calls, upstream_ms_sum)
    select user_id, org_id, period, period_start, instance_id, service_type, tool, calls, errors, latency_buckets,
      upstream_calls, upstream_ms_sum
    from json_to_recordset(${rowsJson}::json) as r(
      user_id text, org_id text, period text, period_start timestamptz, instance_id text, service_type text, tool text,
      calls integer, errors jsonb, latency_buckets integer[], upstream_calls integer, upstream_ms_sum bigint
    )
    ${when ? sql`where ${when}` : sql``}
    on conflict (user_id, period, period_start, instance_id, service_type, tool) do update set
      calls = u.calls + excluded.calls,
      errors = (
        select coalesce(jsonb_object_agg(code, n), '{}'::jsonb)
        from (
          select code, sum(n::integer) as n
          from (select * from jsonb_each_text(u.errors) union all select * from jsonb_each_text(excluded.errors)) as e(code, n)
          group by code
        ) as merged
      ),
      latency_buckets = (
        select array_agg(coalesce(a, 0) + coalesce(b, 0) order by i)
        from unnest(u.latency_buckets, excluded.latency_buckets) with ordinality as h(a, b, i)
      ),
      upstream_calls = u.upstream_calls + excluded.upstream_calls,
      upstream_ms_sum = u.upstream_ms_sum + excluded.upstream_ms_sum`;
}

export const USAGE_GROUP_BY = ["day", "instance", "service", "tool"] as const;
export type UsageGroupBy = (typeof USAGE_GROUP_BY)[number];

/** A summary covers at most this many days; it answers at most MAX_GROUPS groups (the busiest). */
export const MAX_RANGE_DAYS = 366;
export const MAX_GROUPS = 1000;

export interface UsageGroup {
  key: string;
  calls: number;
  errors: Record<string, number>;
  p50Ms: number | null;
  p95Ms: number | null;
  /** Mean time on the upstream of the calls that reached it; absent when none did (e.g. all cached). */
  upstreamMsAvg?: number;
}

export interface UsageSummary {
  /** The range covered: the requested one widened to whole hours (the roll-ups' grain). */
  from: Date;
  to: Date;
  groupBy: UsageGroupBy;
  groups: UsageGroup[];
  /** More than MAX_GROUPS groups matched: only the busiest are listed. */
  truncated: boolean;
}

const GROUP_KEY: Record<UsageGroupBy, SQL> = {
  day: sql`to_char(${usageRollups.periodStart} at time zone 'UTC', 'YYYY-MM-DD')`,
  instance: sql`${usageRollups.instanceId}`,
  service: sql`${usageRollups.serviceType}`,
  tool: sql`${usageRollups.serviceType} || ':' || ${usageRollups.tool}`,
};

const BUCKET_SUMS = sql.raw(
  Array.from({ length: LATENCY_BUCKETS }, (_, i) => `sum(latency_buckets[${i + 1}])::float8`).join(", "),
);

/**
 * Whose usage a caller sees: their own in the organisation they act in (`mine`), or every member's there
 * (`org`: the caller checked the actor is one of its owners or admins).
 */
function scopeOf(actor: Actor, scope: UsageScope): SQL | undefined {
  if (scope === "org") return eq(usageRollups.orgId, actor.orgId);
  return and(eq(usageRollups.userId, actor.userId), eq(usageRollups.orgId, actor.orgId));
}

export const USAGE_SCOPES = ["mine", "org"] as const;
export type UsageScope = (typeof USAGE_SCOPES)[number];

/** Rows of the range: day rows for its whole UTC days, hour rows for the hours before and after them. */
function rangeOf(from: Date, to: Date): SQL | undefined {
  const hours = (a: Date, b: Date) =>
    and(eq(usageRollups.period, "hour"), gte(usageRollups.periodStart, a), lt(usageRollups.periodStart, b));
  const firstDay = new Date(Math.ceil(from.getTime() / DAY_MS) * DAY_MS);
  const lastDay = new Date(Math.floor(to.getTime() / DAY_MS) * DAY_MS);
  if (firstDay >= lastDay) return hours(from, to);
  return or(
    and(
      eq(usageRollups.period, "day"),
      gte(usageRollups.periodStart, firstDay),
      lt(usageRollups.periodStart, lastDay),
    ),
    hours(from, firstDay),
    hours(lastDay, to),
  );
}

const round1 = (n: number) => Math.round(n * 10) / 10;

/**
 * Calls, errors by code, p50/p95 latency and mean upstream time of the caller's tool calls in [from, to),
 * grouped by UTC day, instance, service or `service:tool`; read from the roll-ups only. A range longer
 * than MAX_RANGE_DAYS or ending before it starts is a BAD_REQUEST.
 */
export async function summarizeUsage(
  deps: Pick<CoreDeps, "db">,
  actor: Actor,
  input: { from: Date; to: Date; groupBy: UsageGroupBy; scope?: UsageScope },
): Promise<Result<UsageSummary, "BAD_REQUEST">> {
  const { groupBy } = input;
  const span = input.to.getTime() - input.from.getTime();
  if (!(span >= 0)) return fail("BAD_REQUEST", "to must not be before from");
  if (span > MAX_RANGE_DAYS * DAY_MS)
    return fail("BAD_REQUEST", `The range is longer than ${MAX_RANGE_DAYS} days`);
  const from = new Date(Math.floor(input.from.getTime() / HOUR_MS) * HOUR_MS);
  const to = new Date(Math.ceil(input.to.getTime() / HOUR_MS) * HOUR_MS);
  const where = and(scopeOf(actor, input.scope ?? "mine"), rangeOf(from, to));
  const key = GROUP_KEY[groupBy];
  const order = groupBy === "day" ? sql`1` : sql`2 desc, 1`;
  const [totals, errors] = await Promise.all([
    rows<{ key: string; calls: number; upstream_calls: number; upstream_ms: number; buckets: number[] }>(
      deps.db,
      sql`select ${key} as key, sum(calls)::float8 as calls, sum(upstream_calls)::float8 as upstream_calls,
            sum(upstream_ms_sum)::float8 as upstream_ms, array[${BUCKET_SUMS}] as buckets
          from ${usageRollups} where ${where} group by 1 order by ${order} limit ${MAX_GROUPS + 1}`,
    ),
    rows<{ key: string; code: string; n: number }>(
      deps.db,
      sql`select ${key} as key, e.code, sum(e.n::integer)::float8 as n
          from ${usageRollups}, jsonb_each_text(${usageRollups.errors}) as e(code, n)
          where ${where} and ${usageRollups.errors} <> '{}'::jsonb group by 1, 2`,
    ),
  ]);
  const errorsOf = new Map<string, Record<string, number>>();
  for (const e of errors) {
    const byCode = errorsOf.get(e.key) ?? {};
    byCode[e.code] = Number(e.n);
    errorsOf.set(e.key, byCode);
  }
  const groups = totals.slice(0, MAX_GROUPS).map((t): UsageGroup => {
    const buckets = t.buckets.map(Number);
    const p50 = percentile(buckets, 0.5);
    const p95 = percentile(buckets, 0.95);
    const upstreamCalls = Number(t.upstream_calls);
    return {
      key: t.key,
      calls: Number(t.calls),
      errors: errorsOf.get(t.key) ?? {},
      p50Ms: p50 === null ? null : round1(p50),
      p95Ms: p95 === null ? null : round1(p95),
      ...(upstreamCalls > 0 && { upstreamMsAvg: round1(Number(t.upstream_ms) / upstreamCalls) }),
    };
  });
  return ok({ from, to, groupBy, groups, truncated: totals.length > MAX_GROUPS });
}

/** The rows of a raw statement, whichever driver ran it (postgres-js answers an array, PGlite `{ rows }`). */
export async function rows<T>(db: Pick<Db, "execute">, query: SQL): Promise<T[]> {
  const result = (await db.execute(query)) as unknown;
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
}
