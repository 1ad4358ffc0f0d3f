import { createHash, randomUUID } from "node:crypto";
import type { ResolvedInstance } from "@mcp/core";
import type { ToolDefinition, ToolOutcome } from "@mcp/services";
import type { EdgeDeps } from "../deps.ts";

const MAX_CACHED_BYTES = 256 * 1024;
const GENERATION_TTL_MS = 24 * 60 * 60_000;

/**
 * Serves read tools that declare `cacheTtlMs` from a per-user cache
 * (`cache:<user>:<service>:<generation>:<tool>:<args hash>`), so one user's answers are never served to
 * another. A successful write by the same user moves the generation on, so they read their own writes.
 */
export async function cachedRead(
  deps: EdgeDeps,
  instance: ResolvedInstance,
  tool: ToolDefinition,
  args: unknown,
  run: () => Promise<ToolOutcome>,
): Promise<ToolOutcome> {
  const genKey = `cachegen:${instance.userId}:${instance.serviceType}`;
  if (tool.request.method !== "GET") {
    const outcome = await run();
    if (outcome.ok) await deps.kv.set(genKey, randomUUID(), GENERATION_TTL_MS);
    return outcome;
  }
  if (!tool.cacheTtlMs) return run();
  const generation = (await deps.kv.get(genKey)) ?? "0";
  const argsHash = createHash("sha256")
    .update(JSON.stringify(args ?? {}))
    .digest("base64url");
  const key = `cache:${instance.userId}:${instance.serviceType}:${generation}:${tool.name}:${argsHash}`;
  const hit = await deps.kv.get(key);
  if (hit) return { ok: true, status: 200, data: JSON.parse(hit) };
  const outcome = await run();
  if (outcome.ok) {
    const text = JSON.stringify(outcome.data);
    if (text.length <= MAX_CACHED_BYTES) await deps.kv.set(key, text, tool.cacheTtlMs);
  }
  return outcome;
}
