// What the badges say, as pure functions (unit-tested in status.test.ts).
import { formatAgo } from "../format.ts";
import type { Instance, Service } from "../trpc.ts";

/** Above this, a healthy service is shown amber: it answers, slowly. */
const SLOW_MS = 2000;

export type Health = { tone: "green" | "amber" | "red"; label: string; detail: string };

/** Green: checked and answering; amber: slow or not checked yet; red: known to be down. */
export function serviceHealth(service: Service): Health {
  const h = service.health;
  const when = h
    ? `last check ${formatAgo(h.lastCheck)}, ${Math.round(h.responseTimeMs)} ms`
    : "not checked yet";
  if (!service.healthy) {
    const why = h?.error ?? h?.lastError;
    return { tone: "red", label: "Unavailable", detail: `${why ? `${why}; ` : ""}${when}` };
  }
  if (!h)
    return { tone: "amber", label: "Not checked yet", detail: "The health monitor has not checked it yet" };
  if (h.responseTimeMs > SLOW_MS) return { tone: "amber", label: "Slow", detail: when };
  return { tone: "green", label: "Operational", detail: when };
}

export type InstanceState = "working" | "needs_reauth" | "upstream_down" | "revoked";

export function instanceState(instance: Instance, service: Service | undefined): InstanceState {
  if (instance.status === "revoked" || !instance.isActive) {
    return instance.status === "needs_reauth" ? "needs_reauth" : "revoked";
  }
  if (instance.status === "needs_reauth") return "needs_reauth";
  if (service && !service.healthy) return "upstream_down";
  return "working";
}

export function accountLabel(account: Instance["account"]): string | undefined {
  if (!account) return undefined;
  if (account.name && account.email) return `${account.name} (${account.email})`;
  return account.name ?? account.email ?? account.id;
}
