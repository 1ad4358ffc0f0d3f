import type { Keyring } from "@mcp/crypto";
import type { Db } from "@mcp/db";
import type { Kv } from "@mcp/kv";
import type { ServiceRegistry } from "@mcp/services";
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
  /** Custom MCP servers may live on private/loopback addresses (self-hosted installs, tests). */
  allowPrivateUpstreams: boolean;
}

/** Who is acting: always a user; every query of user data is scoped by it. */
export interface Actor {
  userId: string;
}
