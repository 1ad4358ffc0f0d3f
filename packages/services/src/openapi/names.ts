/** Names the importer derives: tool names, input names, the token prefix and the edge port. */

const TOOL_NAME_MAX = 64;

/** `getPetById` → `get_pet_by_id`, `List-Users v2` → `list_users_v2`; "" when nothing usable is left. */
export function snakeCase(text: string): string {
  return text
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1_$2")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "");
}

/** A tool name (`^[a-z][a-z0-9_]{0,63}$`) from an operationId, or from the method and path without one. */
export function toolName(operationId: string | undefined, method: string, path: string): string {
  let name = operationId ? snakeCase(operationId) : "";
  if (name === "") name = snakeCase(`${method} ${path.replace(/[{}]/g, " ")}`);
  if (!/^[a-z]/.test(name)) name = `op_${name}`;
  return name.slice(0, TOOL_NAME_MAX).replace(/_+$/, "");
}

/** `name`, else `name_2`, `name_3`, ... within `max` characters, not in `taken` (which it joins). */
export function unique(name: string, taken: Set<string>, max = TOOL_NAME_MAX): string {
  let candidate = name;
  for (let i = 2; taken.has(candidate); i++) {
    const suffix = `_${i}`;
    candidate = `${name.slice(0, max - suffix.length)}${suffix}`;
  }
  taken.add(candidate);
  return candidate;
}

/** An input property name (`^[a-zA-Z_][a-zA-Z0-9_]{0,63}$`): `X-Request-ID` → `X_Request_ID`, `filter[a]` → `filter_a`. */
export function inputName(name: string): string {
  let out = name.replace(/[^a-zA-Z0-9_]+/g, "_");
  if (out !== name) out = out.replace(/_+$/, "");
  if (out === "") out = "value";
  if (/^[0-9]/.test(out)) out = `_${out}`;
  return out.slice(0, 64);
}

/** A human title from an operationId: `getPetById` → `Get pet by id`. */
export function humanize(operationId: string): string {
  const words = snakeCase(operationId).replace(/_/g, " ").trim();
  return words === "" ? operationId : words.charAt(0).toUpperCase() + words.slice(1);
}

/**
 * The instance-token prefix (`^[a-z]{2,8}$`): the type's letters (at most 8), else shorter cuts of them,
 * else those letters with a letter added, whichever no other service uses.
 */
export function pickPrefix(type: string, taken: ReadonlySet<string>): string {
  let letters = type.replace(/[^a-z]/g, "");
  if (letters.length < 2) letters = `${letters}x`.padEnd(2, "x");
  const candidates: string[] = [];
  for (let n = Math.min(8, letters.length); n >= 2; n--) candidates.push(letters.slice(0, n));
  const stem = letters.slice(0, 7);
  for (const c of "abcdefghijklmnopqrstuvwxyz") candidates.push(`${stem}${c}`);
  const free = candidates.find((c) => !taken.has(c));
  if (free === undefined) throw new Error(`no free token prefix for "${type}"`);
  return free;
}

export const FIRST_PORT = 3200;

/** The first port from 3200 up that no other service uses. */
export function pickPort(taken: ReadonlySet<number>): number {
  let port = FIRST_PORT;
  while (taken.has(port)) port++;
  return port;
}
