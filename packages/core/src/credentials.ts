import { aadFor, type Keys, open, rewrap, type Sealed, seal } from "@mcp/crypto";
import type { RemoteMcpConfig } from "@mcp/services";

/** What is sealed for one connection: the key plus any extra fields a service needs. */
export interface CredentialSecret {
  apiKey: string;
  additional?: Record<string, string>;
  /** A custom instance: the user's own MCP server and the headers sent to it. */
  custom?: RemoteMcpConfig;
  /**
   * The instance URL's token, sealed with the key it serves, so reconnecting with a new key can hand the
   * same URL back (the database otherwise holds only its SHA-256).
   */
  instanceToken?: string;
}

export interface CredentialRow {
  id: string;
  userId: string;
  serviceType: string;
}

const aad = (row: CredentialRow) => aadFor("credential", row.userId, row.serviceType, row.id);

/** Sealed for this row only (envelope: a fresh data key, wrapped under the provider's current master key). */
export function sealCredential(keys: Keys, row: CredentialRow, secret: CredentialSecret): Sealed {
  return seal(keys, JSON.stringify(secret), aad(row));
}

/** Null when the ciphertext was tampered with, moved to another row, or its key is gone. */
export function openCredential(keys: Keys, row: CredentialRow, sealed: Sealed): CredentialSecret | null {
  const plain = open(keys, sealed, aad(row));
  if (plain === null) return null;
  const parsed: unknown = JSON.parse(plain);
  if (
    typeof parsed !== "object" ||
    parsed === null ||
    typeof (parsed as CredentialSecret).apiKey !== "string"
  ) {
    return null;
  }
  return parsed as CredentialSecret;
}

/**
 * The row's credential under the current master key (see `rewrap`: an envelope keeps its payload, only its
 * data key is wrapped again; a legacy value becomes an envelope). Null when it does not open.
 */
export function rewrapCredential(keys: Keys, row: CredentialRow, sealed: Sealed): Sealed | null {
  return rewrap(keys, sealed, aad(row));
}
