import type { ResolvedInstance } from "@mcp/core";

/** What deciding on a tool needs: its name and, for read-only mode, its annotations as listed. */
export interface ListedTool {
  name: string;
  annotations?: { readOnlyHint?: boolean } | undefined;
}

/** The instance limits its tools (an allowlist, or read-only mode); most do not, and keep the shared lists. */
export const restrictsTools = (instance: ResolvedInstance): boolean =>
  instance.readOnly === true || (instance.toolAllowlist !== null && instance.toolAllowlist !== undefined);

// Built once per cached instance entry (a settings change replaces the entry everywhere, and with it this).
const allowlists = new WeakMap<ResolvedInstance, ReadonlySet<string>>();

/**
 * Whether the instance's settings let it list and call this tool: in its allowlist (when it has one) and, in
 * read-only mode, annotated `readOnlyHint: true`.
 */
export function toolAllowed(instance: ResolvedInstance, tool: ListedTool): boolean {
  if (instance.readOnly === true && tool.annotations?.readOnlyHint !== true) return false;
  const names = instance.toolAllowlist;
  if (names === null || names === undefined) return true;
  let set = allowlists.get(instance);
  if (!set) {
    set = new Set(names);
    allowlists.set(instance, set);
  }
  return set.has(tool.name);
}

/** The tools of a list this instance may see: the very same list when its settings restrict nothing. */
export function allowedTools<T extends ListedTool>(
  instance: ResolvedInstance,
  tools: readonly T[],
): readonly T[] {
  return restrictsTools(instance) ? tools.filter((tool) => toolAllowed(instance, tool)) : tools;
}

/**
 * `allowedTools` of one fixed list (a REST service's), computed once per cached instance entry and kept
 * beside it, with whatever `derive` makes of it (e.g. the serialized answer).
 */
export function perInstance<T extends ListedTool, D>(
  tools: readonly T[],
  derive: (allowed: readonly T[]) => D,
): (instance: ResolvedInstance) => D | undefined {
  const cache = new WeakMap<ResolvedInstance, D>();
  return (instance) => {
    if (!restrictsTools(instance)) return undefined;
    let derived = cache.get(instance);
    if (derived === undefined) {
      derived = derive(allowedTools(instance, tools));
      cache.set(instance, derived);
    }
    return derived;
  };
}
