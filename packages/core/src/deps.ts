import type { Keyring } from "@mcp/crypto";
import type { Db } from "@mcp/db";
import type { Kv } from "@mcp/kv";
import type { ServiceRegistry } from "@mcp/services";
import type { PasswordHashing } from "./auth.ts";
import type { HealthView } from "./health.ts";
import type { Logger } from "./logger.ts";

/** Everything domain functions need, built once at start-up and passed in (no module singletons). */
export interface CoreDeps {
  db: Db;
  kv: Kv;
  keyring: Keyring;
  registry: ServiceRegistry;
  log: Logger;
  /** Base of every instance URL handed out, without a trailing slash. */
  publicEdgeUrl: string;
  /**
   * `SERVICE_<TYPE>_PUBLIC_URL` → base of that service's instance URLs (its own edge process), without a
   * trailing slash; a service not listed uses `publicEdgeUrl`.
   */
  servicePublicUrls?: Readonly<Record<string, string>>;
  /** Custom MCP servers may live on private/loopback addresses (self-hosted installs, tests). */
  allowPrivateUpstreams: boolean;
  /** argon2id's cost for new password hashes; absent → DEFAULT_PASSWORD_HASHING. */
  passwordHashing?: PasswordHashing;
  /** The health monitor's verdicts (`isServiceAvailable`); absent → every service counts as available. */
  health?: HealthView;
}

/**
 * Who is acting: always a user, within one organisation (their personal one unless the request chose another
 * they belong to, or the API key is bound to another); every query of user data is scoped by both.
 */
export interface Actor {
  userId: string;
  orgId: string;
}
