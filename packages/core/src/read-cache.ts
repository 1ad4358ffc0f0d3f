import { randomUUID } from "node:crypto";
import type { CoreDeps } from "./deps.ts";

const GENERATION_TTL_MS = 24 * 60 * 60_000;
const generationKey = (userId: string, serviceType: string) => `cachegen:${userId}:${serviceType}`;

/**
 * Per-user read caches are keyed by a generation; moving it on makes every cached answer of that user
 * and service unreachable at once (after their own writes, or a reconnect with another account's key).
 */
export async function readCacheGeneration(deps: Pick<CoreDeps, "kv">, userId: string, serviceType: string) {
  return (await deps.kv.get(generationKey(userId, serviceType))) ?? "0";
}

export async function bumpReadCacheGeneration(
  deps: Pick<CoreDeps, "kv">,
  userId: string,
  serviceType: string,
): Promise<void> {
  await deps.kv.set(generationKey(userId, serviceType), randomUUID(), GENERATION_TTL_MS);
}
