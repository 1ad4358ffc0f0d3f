import { sha256 } from "@mcp/crypto";
import { lru } from "@mcp/kv/lru";
import type { CircuitBreakerPolicy } from "cockatiel";
import { CircuitState, ConsecutiveBreaker, circuitBreaker, handleWhenResult } from "cockatiel";
import type { LRUCache } from "lru-cache";

const OPEN_AFTER_FAILURES = 5;
const HALF_OPEN_AFTER_MS = 10_000;
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

const newBreaker = (isFailure: (result: unknown) => boolean): CircuitBreakerPolicy =>
  circuitBreaker(handleWhenResult(isFailure), {
    halfOpenAfter: HALF_OPEN_AFTER_MS,
    breaker: new ConsecutiveBreaker(OPEN_AFTER_FAILURES),
  });

interface ServiceBreakers {
  shared: CircuitBreakerPolicy;
  /** Keyed by the SHA-256 of the credential; the credential itself is never kept. */
  perCredential: LRUCache<string, CircuitBreakerPolicy>;
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
      shared: newBreaker(isServiceOutage),
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

/** The service's shared breaker and the breaker of one credential on it. */
export function breakersFor(
  service: object,
  credential: CredentialRef,
): { shared: CircuitBreakerPolicy; own: CircuitBreakerPolicy } {
  const { shared, perCredential } = serviceBreakers(service);
  const id = credentialId(credential);
  let own = perCredential.get(id);
  if (!own) {
    own = newBreaker(isCallerFailure);
    perCredential.set(id, own);
  }
  return { shared, own };
}

function stateName(state: CircuitState): CircuitStateName {
  if (state === CircuitState.Closed) return "closed";
  return state === CircuitState.HalfOpen ? "half-open" : "open";
}

/** The shared circuit state of a service, for health reporting. */
export function circuitState(service: object): CircuitStateName {
  return stateName(breakers.get(service)?.shared.state ?? CircuitState.Closed);
}

/** The circuit state of one credential's own breaker on a service. */
export function credentialCircuitState(service: object, credential: CredentialRef): CircuitStateName {
  const own = breakers.get(service)?.perCredential.peek(credentialId(credential));
  return stateName(own?.state ?? CircuitState.Closed);
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
