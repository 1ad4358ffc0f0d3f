import { API_KEY_SCOPES } from "@mcp/core";
import { z } from "zod";
import { zTimestamp } from "../../trpc/schemas.ts";

/** How far ahead an expiry may be set: a key meant to live longer should be made without one, and rotated. */
export const MAX_API_KEY_LIFETIME_MS = 2 * 366 * 24 * 60 * 60 * 1000;

export const zApiKeyScope = z.enum(API_KEY_SCOPES);
export const zApiKeyScopes = z
  .array(zApiKeyScope)
  .min(1, "scopes must name at least one scope")
  .max(API_KEY_SCOPES.length, `scopes has at most ${API_KEY_SCOPES.length} entries`)
  .refine((s) => new Set(s).size === s.length, "scopes must not repeat a scope");

/** An ISO-8601 date-time with a zone (`Z` or an offset), in the future and at most about two years out. */
export const zApiKeyExpiry = z.iso
  .datetime({ offset: true, error: "expiresAt must be an ISO-8601 date-time with a time zone" })
  .max(64)
  .transform((s) => new Date(s))
  .refine((d) => d.getTime() > Date.now(), "expiresAt must be in the future")
  .refine(
    (d) => d.getTime() <= Date.now() + MAX_API_KEY_LIFETIME_MS,
    "expiresAt must be at most two years from now",
  );

/** What a key looks like once made: never the key itself nor its hash. */
export const ZApiKeySummary = z.object({
  id: z.string(),
  name: z.string(),
  prefix: z.string(),
  scopes: z.array(zApiKeyScope),
  expiresAt: zTimestamp.nullable(),
  createdAt: zTimestamp,
});
