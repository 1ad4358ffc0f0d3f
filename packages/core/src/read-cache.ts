import { randomUUID } from "node:crypto";
import type { Kv } from "@mcp/kv";
import type { CoreDeps } from "./deps.ts";

const GENERATION_TTL_MS = 24 * 60 * 60_000;
/**
 * Per-user (and organisation) read caches are keyed by a generation; moving it on makes every cached answer of that user and
 * service unreachable at once (after their own writes, or a reconnect with another account's key). This is
 * where it is kept (its absence reads as INITIAL_READ_CACHE_GENERATION); the edge reads it together with the
 * entry (`kv.getThrough`, apps/edge/src/mcp/read-cache.ts).
 */
export const readCacheGenerationKey = (owner: CacheOwner, serviceType: string) =>
  `cachegen:${owner.orgId}:${owner.userId}:${serviceType}`;

/** Whose instance a cached answer belongs to: one user in one organisation (each with its own credential). */
export interface CacheOwner {
  userId: string;
  orgId: string;
}
export const INITIAL_READ_CACHE_GENERATION = "0";

/**
 * Moves a user's read generation on. While the kv is degraded (Redis down) the move is kept in this
 * process and made in Redis as soon as it answers again, so answers cached before the outage are not
 * served after a write made during it.
 */
export async function bumpReadCacheGeneration(
  deps: Pick<CoreDeps, "kv">,
  owner: CacheOwner,
  serviceType: string,
): Promise<void> {
  if (deps.kv.degraded?.()) {
    pendingBumps(deps.kv).add(readCacheGenerationKey(owner, serviceType));
    return;
  }
  await deps.kv.set(readCacheGenerationKey(owner, serviceType), randomUUID(), GENERATION_TTL_MS);
}

const pending = new WeakMap<Kv, Set<string>>();

function pendingBumps(kv: Kv): Set<string> {
  let keys = pending.get(kv);
  if (keys) return keys;
  const created = new Set<string>();
  pending.set(kv, created);
  kv.onDegradedChange?.((degraded) => {
    if (degraded) return;
    const due = [...created];
    created.clear();
    for (const key of due) void kv.set(key, randomUUID(), GENERATION_TTL_MS).catch(() => created.add(key));
  });
  keys = created;
  return keys;
}
