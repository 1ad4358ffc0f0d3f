import { randomBytes } from "node:crypto";

export type IdPrefix = "usr" | "key" | "cred" | "ins" | "evt" | "org" | "inv";

const ID_BYTES = 12;
/** Random bytes drawn 4 KB at a time: an edge makes an id per tool call (its audit event). */
const POOL_BYTES = ID_BYTES * 341;
let pool = randomBytes(POOL_BYTES);
let offset = 0;

/**
 * Prefixed, random ids (`ins_…`): readable in logs, unguessable (96 bits from the CSPRNG, each byte used
 * once), and never derived from a secret.
 */
export function newId(prefix: IdPrefix): string {
  if (offset + ID_BYTES > POOL_BYTES) {
    pool = randomBytes(POOL_BYTES);
    offset = 0;
  }
  const id = pool.toString("base64url", offset, offset + ID_BYTES);
  offset += ID_BYTES;
  return `${prefix}_${id}`;
}
