import {
  bumpReadCacheGeneration,
  INITIAL_READ_CACHE_GENERATION,
  type ResolvedInstance,
  readCacheGenerationKey,
} from "@mcp/core";
import { sha256 } from "@mcp/crypto";
import type { ToolDefinition, ToolOutcome } from "@mcp/services";
import type { EdgeDeps } from "../deps.ts";

const MAX_CACHED_BYTES = 256 * 1024;

/**
 * Serves read tools that declare `cacheTtlMs` from a per-user cache
 * (`cache3:<user>:<service>:<generation>:<tool>:<args hash>`), so one user's answers are never served to
 * another. A successful write by the same user moves the generation on, so they read their own writes.
 */
export async function cachedRead(
  deps: EdgeDeps,
  instance: ResolvedInstance,
  tool: ToolDefinition,
  args: unknown,
  run: () => Promise<ToolOutcome>,
): Promise<ToolOutcome> {
  const { userId, orgId, serviceType } = instance;
  // Anything that may change the upstream moves the user's read generation on (read-your-writes).
  if (!tool.annotations.readOnlyHint) {
    const outcome = await run();
    if (outcome.ok) await bumpReadCacheGeneration(deps, instance, serviceType);
    return outcome;
  }
  // Redis down: nothing is cached or served from a cache (see the kv's failure policy).
  if (!tool.cacheTtlMs || deps.kv.degraded?.()) return run();
  const argsHash = sha256(JSON.stringify(args ?? {}), "base64url");
  // `cache4` (per organisation and user): the model's text is cached (shaped and capped); older namespaces are never read back. The
  // user's generation and the entry under it are read in one kv step (one Redis round trip).
  const before = `cache4:${orgId}:${userId}:${serviceType}:`;
  const after = `:${tool.name}:${argsHash}`;
  const { pointer: generation, value: hit } = await deps.kv.getThrough(
    readCacheGenerationKey(instance, serviceType),
    INITIAL_READ_CACHE_GENERATION,
    before,
    after,
  );
  const key = `${before}${generation}${after}`;
  if (hit !== null) return { ok: true, status: 200, data: undefined, text: hit };
  const outcome = await run();
  // A cut answer is never cached: asking again (after the upstream shrank it) must get the whole one. The
  // write is not waited for (the answer does not depend on it); it is sent before the answer, so the same
  // client's next call, on the same kv connection, reads it.
  if (outcome.ok && !outcome.truncated && outcome.text.length <= MAX_CACHED_BYTES) {
    deps.kv
      .set(key, outcome.text, tool.cacheTtlMs)
      .catch((error: unknown) => deps.log.warn("read cache write failed", { error }));
  }
  return outcome;
}
