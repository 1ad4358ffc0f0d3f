import { SETTINGS_FIELDS, updateInstanceSettings } from "@mcp/core";
import { z } from "zod";
import { scopedProcedure } from "../../trpc/init.ts";
import { orThrow } from "../../trpc/result.ts";
import { auditRequest } from "../audit/request.ts";
import { ZInstanceSummary, ZServiceTypeInput } from "./schemas.ts";

/** The settings themselves (the REST twin's body): each omitted = unchanged, null = back to the default. */
export const ZInstanceSettings = z.object({
  displayName: z.string().trim().min(1).max(80).nullable().optional(),
  toolAllowlist: z
    .array(z.string().min(1).max(128))
    .max(200)
    .refine((names) => new Set(names).size === names.length, "tool names must be unique")
    .nullable()
    .optional(),
  readOnly: z.boolean().nullable().optional(),
  rateLimitPerMinute: z.number().int().min(1).max(10_000).nullable().optional(),
});

export const ZUpdateSettingsInput = ZServiceTypeInput.extend(ZInstanceSettings.shape).refine(
  (input) => SETTINGS_FIELDS.some((field) => input[field] !== undefined),
  `give at least one of ${SETTINGS_FIELDS.join(", ")}`,
);
export const ZUpdateSettingsOutput = ZInstanceSummary;

/**
 * Display name, tool allowlist, read-only mode and rate-limit override of a live instance; the URL stays the
 * same and every edge applies the change to its next request.
 */
export const updateSettingsProcedure = scopedProcedure("instances:write")
  .input(ZUpdateSettingsInput)
  .output(ZUpdateSettingsOutput)
  .mutation(async ({ ctx, input }) =>
    orThrow(await updateInstanceSettings(ctx.deps, ctx.actor, input, auditRequest(ctx))),
  );
