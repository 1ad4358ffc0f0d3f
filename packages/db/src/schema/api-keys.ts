import { sql } from "drizzle-orm";
import { check, index, pgTable, text } from "drizzle-orm/pg-core";
import { timestamps, tz } from "./columns.ts";
import { orgId } from "./organizations.ts";
import { ownerId } from "./users.ts";

/**
 * What an integrator API key may be allowed to do (CONTRACT.md). Kept beside the column whose default it is;
 * `@mcp/core` re-exports it as the domain's list.
 */
export const API_KEY_SCOPES = [
  "instances:read",
  "instances:write",
  "usage:read",
  "audit:read",
  "org:admin",
] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

/** Control-plane API keys for integrators; only the SHA-256 of the key is kept. */
export const apiKeys = pgTable(
  "api_keys",
  {
    id: text().primaryKey(),
    userId: ownerId(),
    /** The organisation the key acts in: it sees and changes only what its user may there. */
    orgId: orgId(),
    name: text().notNull(),
    /** The first characters of the key, to tell keys apart in a list. */
    prefix: text().notNull(),
    keyHash: text().notNull().unique(),
    /**
     * What the key may do. Every insert names them; the default (every scope) is what keys made before
     * scopes existed could already do.
     */
    scopes: text()
      .array()
      .$type<ApiKeyScope[]>()
      .notNull()
      .default([...API_KEY_SCOPES]),
    /** After this instant the key answers 401 like a revoked one; null = never. */
    expiresAt: tz(),
    lastUsedAt: tz(),
    revokedAt: tz(),
    ...timestamps,
  },
  (t) => [index().on(t.userId), check("api_keys_scopes_not_empty", sql`cardinality(${t.scopes}) > 0`)],
);
