import { randomBytes } from "node:crypto";

export type IdPrefix = "usr" | "key" | "cred" | "ins" | "evt" | "org" | "inv";

const ID_BYTES = 12;
/** Random bytes drawn 4 KB at a time: an edge makes an id per tool call (its audit event). */
const POOL_BYTES = ID_BYTES * 341;
let pool = randomBytes(POOL_BYTES);
let offset = 0;

function randomPart(): string {
  if (offset + ID_BYTES > POOL_BYTES) {
    pool = randomBytes(POOL_BYTES);
    offset = 0;
  }
  const id = pool.toString("base64url", offset, offset + ID_BYTES);
  offset += ID_BYTES;
  return id;
}

/**
 * Prefixed, random ids (`ins_…`): readable in logs, unguessable (96 bits from the CSPRNG, each byte used
 * once), and never derived from a secret.
 */
export function newId(prefix: IdPrefix): string {
  return `${prefix}_${randomPart()}`;
}

/**
 * A prefixed id that sorts as text (in any collation: fixed-width lower-case hex ahead of the random part) in
 * the order it was made, to the millisecond: `evt_<12 hex digits of Unix ms><16 random characters>`.
 * For the audit trail's events, a table that only ever grows: their primary key's B-tree then takes every new
 * row at its right edge, as an append, instead of on a random page of an index larger than memory (a random
 * id cost PostgreSQL about twice the CPU per event under load, and a full-page write per touched page after
 * each checkpoint). Still unguessable past its time: 96 random bits follow.
 */
export function newTimeOrderedId(prefix: IdPrefix, at: number = Date.now()): string {
  return `${prefix}_${Math.max(0, Math.floor(at)).toString(16).padStart(12, "0")}${randomPart()}`;
}
