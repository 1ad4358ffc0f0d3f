import { hashToken, mintApiKey } from "@mcp/crypto";
import { apiKeys } from "@mcp/db";
import { and, desc, eq, isNull, lt, or } from "drizzle-orm";
import type { Actor, CoreDeps } from "./deps.ts";
import { fail, ok, type Result } from "./errors.ts";
import { newId } from "./ids.ts";

/** What an integrator API key may be allowed to do (CONTRACT.md); a key without `scopes` gets them all. */
export const API_KEY_SCOPES = [
  "instances:read",
  "instances:write",
  "usage:read",
  "audit:read",
  "org:admin",
] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

export interface ApiKeySummary {
  id: string;
  name: string;
  prefix: string;
  createdAt: Date;
  lastUsedAt: Date | null;
}

const MAX_KEYS_PER_USER = 50;
const LAST_USED_RESOLUTION_MS = 60_000;

export async function createApiKey(
  deps: Pick<CoreDeps, "db">,
  actor: Actor,
  input: { name: string },
): Promise<Result<ApiKeySummary & { key: string }, "BAD_REQUEST">> {
  const existing = await listApiKeys(deps, actor);
  if (existing.length >= MAX_KEYS_PER_USER)
    return fail("BAD_REQUEST", `At most ${MAX_KEYS_PER_USER} API keys`);
  const key = mintApiKey();
  const [row] = await deps.db
    .insert(apiKeys)
    .values({
      id: newId("key"),
      userId: actor.userId,
      name: input.name,
      prefix: key.slice(0, 12),
      keyHash: hashToken(key),
    })
    .returning();
  if (!row) throw new Error("insert returned no row");
  return ok({
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    createdAt: row.createdAt,
    lastUsedAt: null,
    key,
  });
}

export async function listApiKeys(deps: Pick<CoreDeps, "db">, actor: Actor): Promise<ApiKeySummary[]> {
  return deps.db
    .select({
      id: apiKeys.id,
      name: apiKeys.name,
      prefix: apiKeys.prefix,
      createdAt: apiKeys.createdAt,
      lastUsedAt: apiKeys.lastUsedAt,
    })
    .from(apiKeys)
    .where(and(eq(apiKeys.userId, actor.userId), isNull(apiKeys.revokedAt)))
    .orderBy(desc(apiKeys.createdAt));
}

export async function revokeApiKey(
  deps: Pick<CoreDeps, "db">,
  actor: Actor,
  input: { id: string },
): Promise<Result<{ id: string }, "NOT_FOUND">> {
  const rows = await deps.db
    .update(apiKeys)
    .set({ revokedAt: new Date() })
    .where(and(eq(apiKeys.id, input.id), eq(apiKeys.userId, actor.userId), isNull(apiKeys.revokedAt)))
    .returning({ id: apiKeys.id });
  return rows[0] ? ok(rows[0]) : fail("NOT_FOUND", "API key not found");
}

/** The user behind an API key, or null. `lastUsedAt` is written at most once a minute per key. */
export async function verifyApiKey(deps: Pick<CoreDeps, "db">, key: string): Promise<Actor | null> {
  const keyHash = hashToken(key);
  const [row] = await deps.db
    .select({ id: apiKeys.id, userId: apiKeys.userId })
    .from(apiKeys)
    .where(and(eq(apiKeys.keyHash, keyHash), isNull(apiKeys.revokedAt)))
    .limit(1);
  if (!row) return null;
  const stale = new Date(Date.now() - LAST_USED_RESOLUTION_MS);
  void deps.db
    .update(apiKeys)
    .set({ lastUsedAt: new Date() })
    .where(and(eq(apiKeys.id, row.id), or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, stale))))
    .catch(() => {});
  return { userId: row.userId };
}
