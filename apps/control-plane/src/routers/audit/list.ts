import {
  AUDIT_CURSOR_MAX,
  AUDIT_PAGE_DEFAULT,
  AUDIT_PAGE_MAX,
  AUDIT_SCOPES,
  listAuditEvents,
} from "@mcp/core";
import { z } from "zod";
import { requireOrgAdmin, scopedProcedure } from "../../trpc/init.ts";
import { orThrow } from "../../trpc/result.ts";
import { zInstant, zTimestamp } from "../../trpc/schemas.ts";

const zName = z.string().trim().min(1).max(64);

export const ZListAuditInput = z
  .object({
    /**
     * `nextCursor` of the previous page (opaque: sealed, and bound to the caller, the scope and the filters it
     * was handed out with; pass it back unchanged, with the same scope and filters).
     */
    cursor: z.string().min(1).max(AUDIT_CURSOR_MAX).optional(),
    limit: z.number().int().min(1).max(AUDIT_PAGE_MAX).default(AUDIT_PAGE_DEFAULT),
    /** `mine` (default): your events in the organisation you act in; `org`: every member's (owners and admins). */
    scope: z.enum(AUDIT_SCOPES).default("mine"),
    /**
     * Sent by tRPC's infinite-query helpers (`useInfiniteQuery`); pages only go forward (newest first), so
     * "backward" → 400. Ignored otherwise; not part of the REST query.
     */
    direction: z.enum(["forward"]).optional(),
    filters: z
      .object({
        /** e.g. `tool.call`, `instance.connect`. */
        action: zName.optional(),
        /** `ok` or an error code. */
        status: zName.optional(),
        instanceId: zName.optional(),
        /** ISO-8601: events at or after it. */
        from: zInstant.optional(),
        /** ISO-8601: events before it. */
        to: zInstant.optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .default({ limit: AUDIT_PAGE_DEFAULT, scope: "mine" });

export const ZAuditItem = z.object({
  id: z.string(),
  action: z.string(),
  status: z.string(),
  createdAt: zTimestamp,
  actor: z.object({
    userId: z.string(),
    kind: z.enum(["session", "api_key", "instance"]).nullable(),
    keyId: z.string().nullable(),
  }),
  target: z.string().nullable(),
  instanceId: z.string().nullable(),
  serviceType: z.string().nullable(),
  tool: z.string().nullable(),
  latencyMs: z.number().nullable(),
  upstreamMs: z.number().nullable(),
  requestId: z.string().nullable(),
  ip: z.string().nullable(),
  userAgent: z.string().nullable(),
  /**
   * What the event changed, where its action alone does not say: `instance.settings` → `changed` (the settings
   * it changed) and the new values of `readOnly`, `rateLimitPerMinute`, `toolAllowlist` among them (never the
   * display name: free text); `org.role_change` → `role`, `previousRole`; `org.invite` → `role`, `expiresAt`;
   * `api_key.create` → `scopes`, `expiresAt`. Null otherwise.
   */
  detail: z
    .record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(z.string())]))
    .nullable(),
});

export const ZListAuditOutput = z.object({ items: z.array(ZAuditItem), nextCursor: z.string().nullable() });

/**
 * The caller's audit trail, newest first, a page at a time (a cursor not handed out here, to this caller with
 * this scope and these filters → 400).
 */
export const listAuditProcedure = scopedProcedure("audit:read")
  .input(ZListAuditInput)
  .output(ZListAuditOutput)
  .query(async ({ ctx, input }) => {
    if (input.scope === "org") requireOrgAdmin(ctx.actor);
    return orThrow(await listAuditEvents(ctx.deps, ctx.actor, input));
  });
