import { sha256 } from "@mcp/crypto";
import { lru } from "@mcp/kv/lru";
import type { LRUCache } from "lru-cache";

export const OPEN_AFTER_FAILURES = 5;
export const HALF_OPEN_AFTER_MS = 10_000;
/** Per-credential breakers kept per service; the least recently used is dropped (and so closed) beyond it. */
export const MAX_CREDENTIAL_BREAKERS = 10_000;

export type CircuitStateName = "closed" | "open" | "half-open";

/** Which breaker refused a call: the service's shared one, or the caller's own. */
export type BreakerScope = "service" | "credential";

function statusOf(result: unknown): number | undefined {
  if (typeof result !== "object" || result === null || !("kind" in result)) return undefined;
  if (result.kind !== "status" || !("status" in result) || typeof result.status !== "number")
    return undefined;
  return result.status;
}

const kindOf = (result: unknown): unknown =>
  typeof result === "object" && result !== null && "kind" in result ? result.kind : undefined;

/**
 * Failures no caller can provoke with its own input or key: the connection failed (refused, reset, DNS,
 * TLS) or a gateway in front of the upstream answered 502/503/504. These count towards the shared
 * per-service breaker, so a real outage pauses the service for everyone.
 */
export function isServiceOutage(result: unknown): boolean {
  if (kindOf(result) === "network") return true;
  const status = statusOf(result);
  return status === 502 || status === 503 || status === 504;
}

/**
 * Failures a caller can provoke (an oversized render answered 500, a request slow enough to time out):
 * they count only towards that caller's own breaker, so one tenant cannot pause the service for the rest.
 * 429 is left out on purpose: upstream rate limits are per key and say nothing about health.
 */
export function isCallerFailure(result: unknown): boolean {
  if (kindOf(result) === "timeout") return true;
  const status = statusOf(result);
  return status !== undefined && status >= 500 && !isServiceOutage(result);
}

/**
 * A call let through a circuit: an ordinary one while it was closed (the number of that closed spell), or the
 * one call let through an open circuit once HALF_OPEN_AFTER_MS have passed, whose outcome decides whether it
 * closes (`TRIAL`).
 */
export type Pass = number;
export const TRIAL: Pass = -1;

/**
 * A consecutive-failures circuit breaker: OPEN_AFTER_FAILURES failures in a row open it; while open, calls are
 * refused without reaching the upstream; HALF_OPEN_AFTER_MS after it opened, the next call is let through as a
 * trial (half-open; every other call is still refused meanwhile, none waits on it): a trial that does not fail
 * closes the circuit, one that fails opens it for another HALF_OPEN_AFTER_MS, and one that decides nothing (the
 * caller hung up, no pooled connection was free, the other breaker refused) leaves it open, so the next call is
 * the trial. A call let through before the circuit opened and answered after (a slow one: a tool may take 30 s)
 * counts for nothing, whatever happened since: it says nothing about the upstream since the circuit opened.
 *
 * Written here rather than taken from cockatiel (which the services used before, with these same settings):
 * every upstream call goes through two breakers, and cockatiel's `execute` wraps each in async functions,
 * promises and its event emitters even while closed (the edge's CPU per uncached call 116 → 114 µs with
 * this class, two edges alone alternating, PostgreSQL + Redis, 2026-12-03, see README → Speed). Here a closed
 * circuit costs a field read before the call and a counter after it, and nothing is awaited but the call. Unlike
 * cockatiel's half-open state, calls arriving during a trial are refused at once rather than queued behind it
 * (a trial may take the whole upstream timeout); a trial that decides nothing no longer closes the circuit, and
 * a call from before it opened no longer counts once it has closed again.
 */
export class Circuit {
  /** Failures in a row while closed. */
  private failures = 0;
  /** When it last opened (epoch ms); -1 while closed. */
  private openedAt = -1;
  private trialInFlight = false;
  /** The closed spell calls are let through in: moved on each time the circuit opens. */
  private spell = 0;

  constructor(private readonly isFailure: (result: unknown) => boolean) {}

  get state(): CircuitStateName {
    if (this.openedAt < 0) return "closed";
    return this.trialInFlight ? "half-open" : "open";
  }

  /** Whether a call may go through now, and as what; undefined when the circuit refuses it. */
  enter(): Pass | undefined {
    if (this.openedAt < 0) return this.spell;
    if (this.trialInFlight || Date.now() - this.openedAt < HALF_OPEN_AFTER_MS) return undefined;
    this.trialInFlight = true;
    return TRIAL;
  }

  /** The result of a call `enter` let through. */
  settle(pass: Pass, result: unknown): void {
    if (pass === TRIAL) {
      // Released first: the trial's slot can never stay taken.
      this.trialInFlight = false;
      if (this.isFailure(result)) this.open();
      else this.close();
      return;
    }
    // Let through before the circuit (last) opened: it counts for nothing (see the class).
    if (pass !== this.spell) return;
    if (!this.isFailure(result)) this.failures = 0;
    else if (++this.failures >= OPEN_AFTER_FAILURES) this.open();
  }

  /** A call `enter` let through decided nothing about the upstream's health (see the class). */
  abandon(pass: Pass): void {
    if (pass === TRIAL) this.trialInFlight = false;
  }

  private open(): void {
    this.openedAt = Date.now();
    this.spell++;
  }

  private close(): void {
    this.openedAt = -1;
    this.failures = 0;
  }
}

interface ServiceBreakers {
  shared: Circuit;
  /** Keyed by the SHA-256 of the credential; the credential itself is never kept. */
  perCredential: LRUCache<string, Circuit>;
  /** Until when (epoch ms) a credential the upstream answered 429 must wait, by the same key. */
  backoff: LRUCache<string, number>;
}

// Keyed by the loaded service object, which the registry builds once per type: every call for a type
// shares these breakers, while each registry (and so each test) starts with closed circuits.
const breakers = new WeakMap<object, ServiceBreakers>();

function serviceBreakers(service: object): ServiceBreakers {
  let entry = breakers.get(service);
  if (!entry) {
    entry = {
      shared: new Circuit(isServiceOutage),
      perCredential: lru(MAX_CREDENTIAL_BREAKERS),
      backoff: lru(MAX_CREDENTIAL_BREAKERS),
    };
    breakers.set(service, entry);
  }
  return entry;
}

/** A credential as the breakers take it: the key itself, or the executor's (frozen) parts of it. */
export type CredentialRef = string | { readonly apiKey: string };

/**
 * The SHA-256 of a credential's key, remembered on a frozen credential object (the edge keeps opened
 * credentials frozen while an instance is cached), so a call does not hash the key again; the memo goes
 * when the object does, and the key itself is never a key of any map here.
 */
const ids = new WeakMap<object, string>();
function credentialId(credential: CredentialRef): string {
  if (typeof credential === "string") return hashKey(credential);
  let id = ids.get(credential);
  if (id === undefined) {
    id = hashKey(credential.apiKey);
    if (Object.isFrozen(credential)) ids.set(credential, id);
  }
  return id;
}
const hashKey = (key: string) => sha256(key, "base64url");

/**
 * The service's shared breaker and the breaker of one credential on it, with the credential's id (what else
 * keys state by credential, such as the service's pool, takes it from here rather than working it out again).
 */
export function breakersFor(
  service: object,
  credential: CredentialRef,
): { shared: Circuit; own: Circuit; id: string } {
  const { shared, perCredential } = serviceBreakers(service);
  const id = credentialId(credential);
  let own = perCredential.get(id);
  if (!own) {
    own = new Circuit(isCallerFailure);
    perCredential.set(id, own);
  }
  return { shared, own, id };
}

/** The shared circuit state of a service, for health reporting. */
export function circuitState(service: object): CircuitStateName {
  return breakers.get(service)?.shared.state ?? "closed";
}

/** The circuit state of one credential's own breaker on a service. */
export function credentialCircuitState(service: object, credential: CredentialRef): CircuitStateName {
  return breakers.get(service)?.perCredential.peek(credentialId(credential))?.state ?? "closed";
}

/** How many per-credential breakers a service currently holds (bounded by MAX_CREDENTIAL_BREAKERS). */
export function credentialBreakerCount(service: object): number {
  return breakers.get(service)?.perCredential.size ?? 0;
}

/** The longest wait an upstream's Retry-After may impose on a credential. */
export const MAX_BACKOFF_MS = 60 * 60_000;

/** Records that the upstream asked this credential to wait `ms` (bounded by MAX_BACKOFF_MS). */
export function backOff(service: object, credential: CredentialRef, ms: number): void {
  const wait = Math.min(Math.max(ms, 0), MAX_BACKOFF_MS);
  if (wait > 0) serviceBreakers(service).backoff.set(credentialId(credential), Date.now() + wait);
}

/** How long this credential must still wait before calling the service again; 0 when it need not. */
export function backoffRemaining(service: object, credential: CredentialRef): number {
  const entry = breakers.get(service)?.backoff;
  // Nobody on this service is backing off (the usual case): no need to work out which credential this is.
  if (!entry || entry.size === 0) return 0;
  const id = credentialId(credential);
  const until = entry?.get(id);
  if (until === undefined) return 0;
  const left = until - Date.now();
  if (left <= 0) entry?.delete(id);
  return Math.max(0, left);
}
