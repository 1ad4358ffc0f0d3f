import type { CircuitBreakerPolicy } from "cockatiel";
import { CircuitState, ConsecutiveBreaker, circuitBreaker, handleWhenResult } from "cockatiel";

/** Results that say the upstream itself is unhealthy (not the caller's key or input). */
export type Outage = { kind: "network" } | { kind: "timeout" } | { kind: "status"; status: number };

const OPEN_AFTER_FAILURES = 5;
const HALF_OPEN_AFTER_MS = 10_000;

function isOutage(result: unknown): boolean {
  if (typeof result !== "object" || result === null || !("kind" in result)) return false;
  if (result.kind === "network" || result.kind === "timeout") return true;
  // 429 is left out on purpose: upstream rate limits are per key, so one busy user must not
  // open the circuit for everyone.
  return (
    result.kind === "status" &&
    "status" in result &&
    typeof result.status === "number" &&
    result.status >= 500
  );
}

// Keyed by the loaded service object, which the registry builds once per type: every call for a
// type shares one breaker, while each registry (and so each test) starts with a closed circuit.
const breakers = new WeakMap<object, CircuitBreakerPolicy>();

export function breakerFor(service: object): CircuitBreakerPolicy {
  let breaker = breakers.get(service);
  if (!breaker) {
    breaker = circuitBreaker(handleWhenResult(isOutage), {
      halfOpenAfter: HALF_OPEN_AFTER_MS,
      breaker: new ConsecutiveBreaker(OPEN_AFTER_FAILURES),
    });
    breakers.set(service, breaker);
  }
  return breaker;
}

/** The circuit state of a service, for health reporting. */
export function circuitState(service: object): "closed" | "open" | "half-open" {
  const state = breakers.get(service)?.state ?? CircuitState.Closed;
  if (state === CircuitState.Closed) return "closed";
  return state === CircuitState.HalfOpen ? "half-open" : "open";
}
