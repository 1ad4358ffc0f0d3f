import { z } from "zod";
import { ZListAuditInput, ZListAuditOutput } from "../routers/audit/list.ts";
import { ZUsageSummaryInput, ZUsageSummaryOutput } from "../routers/usage/summary.ts";
import type { RouterInputs } from "../trpc/router.ts";
import { defined, defineRoute, type RestRoute } from "./define.ts";

// The query is flat: the procedures' fields, the instants as the ISO-8601 strings the procedures parse.
const audit = ZListAuditInput.unwrap().shape;
const filters = audit.filters.unwrap().shape;
const ZAuditQuery = z.object({
  cursor: audit.cursor,
  limit: audit.limit.unwrap().optional(),
  scope: audit.scope.unwrap().optional(),
  action: filters.action,
  status: filters.status,
  instanceId: filters.instanceId,
  from: filters.from.unwrap().in.optional(),
  to: filters.to.unwrap().in.optional(),
});
const usage = ZUsageSummaryInput.shape;
const ZUsageQuery = z.object({
  from: usage.from.in,
  to: usage.to.in,
  groupBy: usage.groupBy,
  scope: usage.scope.unwrap().optional(),
});

/** The caller's audit trail and usage: reads, for dashboards and billing scripts. */
export const activityRoutes: RestRoute[] = [
  defineRoute({
    method: "get",
    path: "/audit",
    operationId: "listAudit",
    summary: "Your audit trail, newest first, a page at a time",
    description:
      "Pass `nextCursor` as `cursor` for the next page, with the same scope and filters; a cursor not handed out here, to you with them, answers 400.",
    tag: "activity",
    access: "any",
    scope: "audit:read",
    procedure: "audit.list",
    query: ZAuditQuery,
    response: ZListAuditOutput,
    errors: [],
    handle: ({ call, query }) => {
      const { cursor, limit, scope, ...rest } = query;
      const chosen = defined(rest);
      // The procedure validates the values (types included): the cast only hands them over.
      return call.audit.list({
        ...defined({ cursor, limit, scope }),
        ...(Object.keys(chosen).length > 0 && { filters: chosen }),
      } as RouterInputs["audit"]["list"]);
    },
  }),
  defineRoute({
    method: "get",
    path: "/usage",
    operationId: "getUsage",
    summary: "Tool calls of your instances in a range: calls, errors by code, p50/p95 latency",
    description: "The range [from, to) is widened to whole hours, at most 366 days.",
    tag: "activity",
    access: "any",
    scope: "usage:read",
    procedure: "usage.summary",
    query: ZUsageQuery,
    response: ZUsageSummaryOutput,
    errors: [],
    handle: ({ call, query }) => call.usage.summary(defined(query) as RouterInputs["usage"]["summary"]),
  }),
];
