import { randomSecret } from "@mcp/crypto";

export type IdPrefix = "usr" | "key" | "cred" | "ins" | "evt" | "org" | "inv";

/** Prefixed, random ids (`ins_…`): readable in logs, unguessable, and never derived from a secret. */
export function newId(prefix: IdPrefix): string {
  return `${prefix}_${randomSecret(12)}`;
}
