import type { ResolvedInstance } from "@mcp/core";
import type { EdgeDeps } from "../deps.ts";

export interface Unopened {
  /** For metrics and the audit trail. */
  status: "EXPIRED_CREDENTIALS" | "SERVICE_UNAVAILABLE";
  /** What the caller is told (no detail of the cause beyond what the owner can act on). */
  message: string;
}

/**
 * A stored credential that did not open, told apart by cause. Its master-key version missing from this
 * process's ring is an operator's mistake (a key rollout half done): the user's credential is fine, so
 * nothing is marked and the call is "unavailable". Any other failure — the tag does not verify, e.g. a
 * ciphertext moved to another row — means this credential can never be used: no upstream is called, the
 * instance is marked `needs_reauth` and the owner is told to reconnect.
 */
export async function unopenedCredential(
  deps: EdgeDeps,
  instance: ResolvedInstance,
  /** What the owner connected, as it reads in a sentence: "Figma", "your MCP server". */
  label: string,
): Promise<Unopened> {
  const version = instance.sealed.keyVersion;
  if (!deps.keyring.key(version)) {
    deps.log.error("credential sealed under a master key this process does not have", {
      instanceId: instance.instanceId,
      keyVersion: version,
    });
    return {
      status: "SERVICE_UNAVAILABLE",
      message: `${label} is unavailable right now (the platform cannot open stored credentials at the moment). Try again shortly.`,
    };
  }
  deps.log.error("credential could not be opened", { instanceId: instance.instanceId });
  await deps.resolver.markNeedsReauth(instance);
  return {
    status: "EXPIRED_CREDENTIALS",
    message: `The stored credentials for ${label} are unusable (they cannot be decrypted). Reconnect ${label} in the dashboard to store new ones.`,
  };
}

/** Thrown through a relay when the stored settings did not open, carrying what to answer. */
export class CredentialUnopened extends Error {
  constructor(readonly unopened: Unopened) {
    super(unopened.message);
  }
}
