import type { Client } from "@modelcontextprotocol/client";
import type { StdioCredential, StdioServerConfig } from "./config.ts";
import type { StderrLimits, StdioLogger } from "./stderr.ts";

/** Why the pool could not hand out a client. */
export type StdioFailureCode =
  /** The per-user cap is reached and every one of the user's processes is busy. */
  | "USER_LIMIT"
  /** The total cap is reached and every process is busy. */
  | "POOL_FULL"
  /** The server crashed or failed to start too often; `retryAfterMs` says when it may be tried again. */
  | "COOLING_DOWN"
  /** The process exited (or could not be spawned) before it answered `initialize`. */
  | "EXITED"
  /** The process wrote something other than JSON-RPC on stdout, or a message over the size bound. */
  | "BAD_OUTPUT"
  /** The process never answered `initialize` within `startTimeoutMs`. */
  | "START_TIMEOUT"
  /** The credential does not fill the definition's env (a missing additional field). */
  | "BAD_CONFIG"
  /** The same credential id was asked for by another user. */
  | "FORBIDDEN"
  /** The pool is closed. */
  | "CLOSED";

export interface StdioFailure {
  code: StdioFailureCode;
  message: string;
  retryAfterMs?: number;
}

export type StdioResult<T> = { ok: true; value: T } | { ok: false; error: StdioFailure };

/** One process per (serviceType, credentialId); `userId` is the owner, for the per-user cap. */
export interface StdioRequest {
  userId: string;
  serviceType: string;
  credentialId: string;
  config: StdioServerConfig;
  /** Decrypted; kept in memory only while the credential has a process (for restarts). */
  credential: StdioCredential;
}

/** A connected client, counted as in flight until `release()` (idempotent). */
export interface StdioLease {
  client: Client;
  pid: number;
  release(): void;
}

export interface StdioProcessInfo {
  userId: string;
  serviceType: string;
  credentialId: string;
  pid: number;
  inFlight: number;
  startedAt: number;
  lastUsedAt: number;
}

export type StdioEvent =
  | { type: "started"; serviceType: string; credentialId: string; pid: number }
  | { type: "stopped"; serviceType: string; credentialId: string; pid: number; reason: StopReason }
  | { type: "crashed"; serviceType: string; credentialId: string; pid: number; reason: "exit" | "memory" }
  | { type: "restarting"; serviceType: string; credentialId: string; attempt: number; delayMs: number }
  | { type: "cooling"; serviceType: string; credentialId: string; untilMs: number }
  | { type: "failed"; serviceType: string; credentialId: string; error: StdioFailure };

export type StopReason = "idle" | "capacity" | "evicted" | "closed";

export interface RestartPolicy {
  /** Consecutive failures (crashes or failed starts) before the credential cools down. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  coolDownMs: number;
  /** A process up this long has its failure count reset. */
  stableMs: number;
}

export interface StdioPoolOptions {
  logger: StdioLogger;
  /** A process with no call in flight for this long is stopped. Default 5 min. */
  idleMs?: number;
  /** Processes in total. Default 64. */
  maxProcesses?: number;
  /** Processes per user. Default 4. */
  maxPerUser?: number;
  /** Resident memory per process; over it the child is killed. Default 256 MiB. */
  memoryLimitBytes?: number;
  /** How often the watchdog reads /proc/<pid>/status. Default 5 s. */
  memoryCheckMs?: number;
  /** Spawn to answered `initialize`. Default 15 s. */
  startTimeoutMs?: number;
  /** SIGTERM → SIGKILL. Default 2 s. */
  killGraceMs?: number;
  restart?: Partial<RestartPolicy>;
  stderr?: Partial<StderrLimits>;
  /** One JSON-RPC message on stdout. Default 16 MiB. */
  maxMessageBytes?: number;
  /** Non-JSON-RPC stdout lines tolerated per process. Default 20. */
  maxGarbageLines?: number;
  /**
   * `auto` probes `server/discover` once per service type (in place, on the child itself) and remembers the
   * era; `legacy` always runs the 2025 `initialize` handshake. Default `auto`.
   */
  negotiation?: "auto" | "legacy";
  /** Parent folder of the per-process home directories. Default the OS temp dir. */
  tmpDir?: string;
  onEvent?: (event: StdioEvent) => void;
}

export interface StdioPool {
  /** A connected client for the request's credential, starting its process if needed. */
  acquire(request: StdioRequest): Promise<StdioResult<StdioLease>>;
  /** Acquire, run `fn`, release. */
  use<T>(request: StdioRequest, fn: (client: Client) => Promise<T>): Promise<StdioResult<T>>;
  /** Stops the credential's process (a rotated or revoked key); the next acquire starts a fresh one. */
  evict(serviceType: string, credentialId: string): Promise<void>;
  processes(): StdioProcessInfo[];
  /** Kills every child (SIGTERM, then SIGKILL after the grace period) and waits for them. */
  close(): Promise<void>;
}
