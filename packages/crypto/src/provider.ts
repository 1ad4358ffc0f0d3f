import { gcmOpen, gcmSeal } from "./gcm.ts";
import type { Keyring } from "./keyring.ts";

/**
 * Where master keys live: it wraps (encrypts) each value's random data key under its current master-key
 * version and unwraps it under any version it still holds. `seal`/`open` only ever hand it 32-byte data keys,
 * never a payload, so the master keys can stay in another system.
 *
 * Synchronous on purpose: the edge opens a credential inside a tool call without awaiting anything. An
 * external KMS or Vault transit (asynchronous, remote) plugs in through a key cache: at start-up the provider
 * asks the KMS to decrypt its versioned key-encryption keys (stored wrapped by the KMS, e.g. a KMS
 * `GenerateDataKey` result or a Vault transit `datakey`), keeps them in memory and wraps/unwraps locally
 * with them; the KMS holds the root of trust and sees one request per key version and process, not one per
 * call. No caller changes: they take a `KeyProvider`.
 */
export interface KeyProvider {
  /** The version `wrap` uses now. */
  readonly current: number;
  /** Every version `unwrap` can open, newest first. */
  versions(): number[];
  /** Wraps a data key under the current version; answers that version with it (it may change between calls). */
  wrap(dataKey: Uint8Array, aad: Uint8Array): { keyVersion: number; wrapped: Buffer };
  /** The data key; null when the version is unknown or the wrapped key or its AAD does not verify. */
  unwrap(keyVersion: number, wrapped: Uint8Array, aad: Uint8Array): Buffer | null;
  /**
   * Opens a value of the old (pre-envelope) format, sealed with AES-256-GCM directly under a master key.
   * Only a provider that holds those master keys (the local keyring) has it; `keys:rotate` converts such
   * values to envelopes, after which no provider needs it.
   */
  openLegacy?(keyVersion: number, sealed: Uint8Array, aad: Uint8Array): Buffer | null;
}

/** The default provider: the versioned master keys of `ENCRYPTION_KEYS` (or the dev key file), in memory. */
export class LocalKeyProvider implements KeyProvider {
  constructor(private readonly keyring: Keyring) {}

  get current(): number {
    return this.keyring.current;
  }

  versions(): number[] {
    return this.keyring.versions();
  }

  wrap(dataKey: Uint8Array, aad: Uint8Array): { keyVersion: number; wrapped: Buffer } {
    const keyVersion = this.keyring.current;
    const key = this.keyring.key(keyVersion);
    if (!key) throw new Error("keyring has no current key");
    return { keyVersion, wrapped: gcmSeal(key, dataKey, aad) };
  }

  unwrap(keyVersion: number, wrapped: Uint8Array, aad: Uint8Array): Buffer | null {
    const key = this.keyring.key(keyVersion);
    return key ? gcmOpen(key, wrapped, aad) : null;
  }

  openLegacy(keyVersion: number, sealed: Uint8Array, aad: Uint8Array): Buffer | null {
    return this.unwrap(keyVersion, sealed, aad);
  }
}

/** What `seal`/`open` accept: a provider, or a keyring (served by a `LocalKeyProvider` over it). */
export type Keys = KeyProvider | Keyring;

const adapted = new WeakMap<Keyring, KeyProvider>();

export function keyProvider(keys: Keys): KeyProvider {
  if ("wrap" in keys) return keys;
  let provider = adapted.get(keys);
  if (!provider) {
    provider = new LocalKeyProvider(keys);
    adapted.set(keys, provider);
  }
  return provider;
}
