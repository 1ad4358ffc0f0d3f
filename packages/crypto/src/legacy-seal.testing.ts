// For tests only (not exported from the package): values in the format sealed before envelopes, built with
// node:crypto rather than our own sealing code, so the legacy path is checked against an independent writer.
import { createCipheriv, randomBytes } from "node:crypto";
import type { Keyring } from "./keyring.ts";
import { aadFor, type Sealed } from "./seal.ts";

/**
 * AES-256-GCM directly under master key `version`, with a credential row's AAD:
 * base64url(nonce ‖ ciphertext ‖ tag).
 */
export function legacySeal(
  keys: Keyring,
  version: number,
  row: { id: string; userId: string; serviceType: string },
  plaintext: string,
): Sealed {
  const key = keys.key(version);
  if (!key) throw new Error("no such key");
  const nonce = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, nonce, { authTagLength: 16 });
  cipher.setAAD(aadFor("credential", row.userId, row.serviceType, row.id));
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final(), cipher.getAuthTag()]);
  return { keyVersion: version, ciphertext: Buffer.concat([nonce, body]).toString("base64url") };
}
