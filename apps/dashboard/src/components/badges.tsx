import type { Service } from "../trpc.ts";
import { type InstanceState, serviceHealth } from "./status.ts";

export { accountLabel, type InstanceState, instanceState } from "./status.ts";

export function HealthBadge({ service }: { service: Service }) {
  const h = serviceHealth(service);
  return (
    <span className="inline-flex flex-wrap items-center gap-x-2 gap-y-0.5 text-xs">
      <span className={`badge badge-${h.tone}`} data-testid="health">
        <span aria-hidden="true">●</span> {h.label}
      </span>
      <span className="muted">{h.detail}</span>
    </span>
  );
}

const STATE: Record<InstanceState, { tone: string; label: string }> = {
  working: { tone: "green", label: "Working" },
  needs_reauth: { tone: "amber", label: "Needs re-auth" },
  upstream_down: { tone: "red", label: "Upstream unavailable" },
  revoked: { tone: "gray", label: "Revoked" },
};

export function StatusBadge({ state }: { state: InstanceState }) {
  const s = STATE[state];
  return (
    <span className={`badge badge-${s.tone}`} data-testid="status">
      {s.label}
    </span>
  );
}
