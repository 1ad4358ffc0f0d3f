import {
  bumpReadCacheGeneration,
  INITIAL_READ_CACHE_GENERATION,
  type ResolvedInstance,
  readCacheGenerationKey,
} from "@mcp/core";
import { sha256 } from "@mcp/crypto";
import type { ThroughRead, ThroughValue } from "@mcp/kv";
import type { ToolDefinition, ToolOutcome } from "@mcp/services";
import type { EdgeDeps } from "../deps.ts";

const MAX_CACHED_BYTES = 256 * 1024;

/**
 * Where a call's answer would be cached, as a read through the user's generation: undefined when the tool is not a
 * cached read (it may write, or declares no `cacheTtlMs`) or while the kv is degraded (Redis down: nothing is
 * cached or served from a cache, see the kv's failure policy). Per organisation, user, service, generation,
 * tool and arguments (`cache4:<org>:<user>:<service>:<generation>:<tool>:<args hash>`), so one user's answers
 * are never served to another; the model's text is cached (shaped and capped); older namespaces are never read
 * back.
 */
export function readCacheSlot(
  deps: EdgeDeps,
  instance: ResolvedInstance,
  tool: ToolDefinition,
  args: unknown,
): ThroughRead | undefined {
  if (!tool.annotations.readOnlyHint || !tool.cacheTtlMs || deps.kv.degraded?.()) return undefined;
  const { userId, orgId, serviceType } = instance;
  return {
    pointerKey: readCacheGenerationKey(instance, serviceType),
    fallback: INITIAL_READ_CACHE_GENERATION,
    before: `cache4:${orgId}:${userId}:${serviceType}:`,
    after: `:${tool.name}:${sha256(JSON.stringify(args ?? {}), "base64url")}`,
  };
}

/** A cache slot read ahead of the call, with the rate-limit charge (route/rate-limit.ts), and what it held. */
export interface ReadAhead {
  slot: ThroughRead;
  found: ThroughValue;
}

const sameSlot = (a: ThroughRead, b: ThroughRead) =>
  a.after === b.after && a.before === b.before && a.pointerKey === b.pointerKey && a.fallback === b.fallback;

/**
 * Serves read tools that declare `cacheTtlMs` from a per-user cache (see `readCacheSlot`). A successful write
 * by the same user moves the generation on, so they read their own writes. The user's generation and the entry
 * under it are read in one kv step (one Redis round trip), or were already read with the rate-limit charge
 * (`ahead`, used when it is this call's slot).
 */
export async function cachedRead(
  deps: EdgeDeps,
  instance: ResolvedInstance,
  tool: ToolDefinition,
  args: unknown,
  run: () => Promise<ToolOutcome>,
  ahead?: ReadAhead,
): Promise<ToolOutcome> {
  // Anything that may change the upstream moves the user's read generation on (read-your-writes).
  if (!tool.annotations.readOnlyHint) {
    const outcome = await run();
    if (outcome.ok) await bumpReadCacheGeneration(deps, instance, instance.serviceType);
    return outcome;
  }
  const slot = readCacheSlot(deps, instance, tool, args);
  const ttlMs = tool.cacheTtlMs;
  if (!slot || !ttlMs) return run();
  const { pointer: generation, value: hit } =
    ahead && sameSlot(ahead.slot, slot)
      ? ahead.found
      : await deps.kv.getThrough(slot.pointerKey, slot.fallback, slot.before, slot.after);
  if (hit !== null) return { ok: true, status: 200, data: undefined, text: hit };
  const outcome = await run();
  // A cut answer is never cached: asking again (after the upstream shrank it) must get the whole one. The
  // write is not waited for (the answer does not depend on it); it is queued before the answer, and the kv sends
  // its commands in the order they were queued, on one connection, so the same client's next call reads it.
  if (outcome.ok && !outcome.truncated && outcome.text.length <= MAX_CACHED_BYTES) {
    deps.kv
      .set(`${slot.before}${generation}${slot.after}`, outcome.text, ttlMs)
      .catch((error: unknown) => deps.log.warn("read cache write failed", { error }));
  }
  return outcome;
}
