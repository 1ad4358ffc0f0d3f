import { z } from "zod";

/**
 * The input of a procedure that takes none: nothing, `null` or `{}` (what clients send for "no input"); any
 * field is a 400 naming it, as for every other procedure, rather than silently ignored.
 */
export const ZNoInput = z
  .union([z.undefined(), z.null(), z.strictObject({})], { error: "this procedure takes no input" })
  .transform(() => undefined);

/** Timestamps leave the API as ISO-8601 strings (no transformer). */
export const zTimestamp = z.date().transform((d) => d.toISOString());
/**
 * The instants PostgreSQL can be asked about: it has no year 0, and refuses what JavaScript writes for a year
 * past 9999. The last day is left out, so a bound rounded up to the next hour or day (usage) stays in range.
 */
const FIRST_INSTANT = new Date("0001-01-01T00:00:00Z");
const LAST_INSTANT = new Date("9999-12-31T00:00:00Z");

/**
 * An instant sent in: ISO-8601 with an offset (`2026-01-01T00:00:00Z`), bounded like every string, between
 * 0001-01-01 and 9999-12-31 in UTC (an offset can move a date written in range out of it).
 */
export const zInstant = z.iso
  .datetime({ offset: true })
  .max(64)
  .transform((s) => new Date(s))
  .pipe(
    z
      .date()
      .min(FIRST_INSTANT, "must not be before 0001-01-01T00:00:00Z")
      .max(LAST_INSTANT, "must not be after 9999-12-31T00:00:00Z"),
  );
export const zServiceType = z
  .string()
  .min(1)
  .max(32)
  .regex(/^[a-z][a-z0-9_-]*$/, "lower-case service type, e.g. figma");
/** Upstream API keys: non-empty, at most 4 KB. */
export const zApiKey = z
  .string()
  .trim()
  .min(1, "apiKey is required")
  .max(4096, "apiKey is longer than 4096 characters");
export const zAdditionalCredentials = z
  .record(z.string().min(1).max(64), z.string().max(4096))
  .refine((r) => Object.keys(r).length <= 16, "at most 16 additional credentials");
