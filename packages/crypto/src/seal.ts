import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import type { Keyring } from "./keyring.ts";

/** Ciphertext with the master-key version that sealed it; both are stored, neither is secret. */
export interface Sealed {
  keyVersion: number;
  /** base64url(nonce ‖ ciphertext ‖ tag) */
  ciphertext: string;
}

const NONCE = 12;
const TAG = 16;

/** The AAD binds a ciphertext to its row, so a sealed value copied to another row fails to open. */
export function aadFor(...parts: string[]): Buffer {
  return Buffer.from(parts.map((p) => `${p.length}:${p}`).join("|"), "utf8");
}

/** AES-256-GCM with a fresh 96-bit nonce under the keyring's current key. */
export function seal(keyring: Keyring, plaintext: string, aad: Buffer): Sealed {
  const key = keyring.key(keyring.current);
  if (!key) throw new Error("keyring has no current key");
  const nonce = randomBytes(NONCE);
  const cipher = createCipheriv("aes-256-gcm", key, nonce, { authTagLength: TAG });
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return {
    keyVersion: keyring.current,
    ciphertext: Buffer.concat([nonce, body, cipher.getAuthTag()]).toString("base64url"),
  };
}

/** Opens a sealed value; `null` when the key version is unknown or anything was tampered with. */
export function open(keyring: Keyring, sealed: Sealed, aad: Buffer): string | null {
  const key = keyring.key(sealed.keyVersion);
  if (!key) return null;
  const raw = Buffer.from(sealed.ciphertext, "base64url");
  if (raw.length < NONCE + TAG) return null;
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, NONCE), { authTagLength: TAG });
    decipher.setAAD(aad);
    decipher.setAuthTag(raw.subarray(raw.length - TAG));
    return Buffer.concat([decipher.update(raw.subarray(NONCE, raw.length - TAG)), decipher.final()]).toString(
      "utf8",
    );
  } catch {
    return null;
  }
}

/** True when the value should be re-sealed under the current key (key rotation). */
export function needsReseal(keyring: Keyring, sealed: Sealed): boolean {
  return sealed.keyVersion !== keyring.current;
}
