import { randomBytes } from "node:crypto";
import { gcmOpen, gcmSeal } from "./gcm.ts";
import { type KeyProvider, type Keys, keyProvider } from "./provider.ts";

/** Ciphertext with the master-key version that protects it; both are stored, neither is secret. */
export interface Sealed {
  /** The master-key version the data key is wrapped under (legacy values: sealed under). */
  keyVersion: number;
  /**
   * Envelope: `e1.<wrapped data key>.<nonce ‖ ciphertext ‖ tag>` (base64url parts). Legacy (before
   * envelopes): base64url(nonce ‖ ciphertext ‖ tag) directly under the master key; it never holds a dot.
   */
  ciphertext: string;
}

/** Marks the envelope format (version 1); a legacy ciphertext is plain base64url and cannot start with it. */
export const ENVELOPE_PREFIX = "e1.";
const DATA_KEY_BYTES = 32;
const PART = /^[A-Za-z0-9_-]+$/;
/** Wrapped data keys are bound to the row too, under a label no row AAD starts with (`aadFor` starts with a digit). */
const DEK_LABEL = Buffer.from("dek|", "utf8");
const dekAad = (aad: Uint8Array) => Buffer.concat([DEK_LABEL, aad]);

/** The AAD binds a ciphertext to its row, so a sealed value copied to another row fails to open. */
export function aadFor(...parts: string[]): Buffer {
  return Buffer.from(parts.map((p) => `${p.length}:${p}`).join("|"), "utf8");
}

export function isEnvelope(ciphertext: string): boolean {
  return ciphertext.startsWith(ENVELOPE_PREFIX);
}

/**
 * Envelope encryption: a fresh random 256-bit data key seals the plaintext (AES-256-GCM, fresh 96-bit nonce,
 * `aad`); the provider wraps that data key under its current master-key version, which is `keyVersion`.
 */
export function seal(keys: Keys, plaintext: string, aad: Buffer): Sealed {
  const provider = keyProvider(keys);
  const dataKey = randomBytes(DATA_KEY_BYTES);
  try {
    const body = gcmSeal(dataKey, Buffer.from(plaintext, "utf8"), aad);
    const { keyVersion, wrapped } = provider.wrap(dataKey, dekAad(aad));
    return { keyVersion, ciphertext: envelope(wrapped.toString("base64url"), body.toString("base64url")) };
  } finally {
    dataKey.fill(0);
  }
}

/** Opens an envelope or a legacy value; `null` when its key version is unknown or anything was tampered with. */
export function open(keys: Keys, sealed: Sealed, aad: Buffer): string | null {
  const provider = keyProvider(keys);
  if (!isEnvelope(sealed.ciphertext)) {
    if (!PART.test(sealed.ciphertext)) return null;
    const raw = Buffer.from(sealed.ciphertext, "base64url");
    return provider.openLegacy?.(sealed.keyVersion, raw, aad)?.toString("utf8") ?? null;
  }
  const parts = splitEnvelope(sealed.ciphertext);
  const dataKey = parts && unwrapDataKey(provider, sealed.keyVersion, parts.wrapped, aad);
  if (!parts || !dataKey) return null;
  try {
    return gcmOpen(dataKey, Buffer.from(parts.body, "base64url"), aad)?.toString("utf8") ?? null;
  } finally {
    dataKey.fill(0);
  }
}

/**
 * The same value protected by the provider's current master-key version. An envelope keeps its payload
 * byte for byte: only its data key is unwrapped and wrapped again (an envelope already current comes back
 * as it is). A legacy value is opened and sealed afresh as an envelope. Null when it does not open (the
 * payload is checked too, so what comes back is known to open).
 */
export function rewrap(keys: Keys, sealed: Sealed, aad: Buffer): Sealed | null {
  const provider = keyProvider(keys);
  if (!isEnvelope(sealed.ciphertext)) {
    const plaintext = open(provider, sealed, aad);
    return plaintext === null ? null : seal(provider, plaintext, aad);
  }
  const parts = splitEnvelope(sealed.ciphertext);
  const dataKey = parts && unwrapDataKey(provider, sealed.keyVersion, parts.wrapped, aad);
  if (!parts || !dataKey) return null;
  try {
    const payload = gcmOpen(dataKey, Buffer.from(parts.body, "base64url"), aad);
    if (!payload) return null;
    payload.fill(0);
    if (sealed.keyVersion === provider.current) return sealed;
    const { keyVersion, wrapped } = provider.wrap(dataKey, dekAad(aad));
    return { keyVersion, ciphertext: envelope(wrapped.toString("base64url"), parts.body) };
  } finally {
    dataKey.fill(0);
  }
}

/** True when `keys:rotate` has work on the value: not an envelope, or wrapped under an older version. */
export function needsReseal(keys: Keys, sealed: Sealed): boolean {
  return !isEnvelope(sealed.ciphertext) || sealed.keyVersion !== keyProvider(keys).current;
}

const envelope = (wrapped: string, body: string) => `${ENVELOPE_PREFIX}${wrapped}.${body}`;

function splitEnvelope(ciphertext: string): { wrapped: string; body: string } | null {
  const [, wrapped, body, extra] = ciphertext.split(".");
  if (extra !== undefined || !wrapped || !body || !PART.test(wrapped) || !PART.test(body)) return null;
  return { wrapped, body };
}

function unwrapDataKey(
  provider: KeyProvider,
  keyVersion: number,
  wrapped: string,
  aad: Buffer,
): Buffer | null {
  const dataKey = provider.unwrap(keyVersion, Buffer.from(wrapped, "base64url"), dekAad(aad));
  if (dataKey && dataKey.length !== DATA_KEY_BYTES) {
    dataKey.fill(0);
    return null;
  }
  return dataKey;
}
