import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { instanceState } from "../components/badges.tsx";
import { serviceNames } from "../components/services.ts";
import { useWindow } from "../components/useRange.ts";
import { formatNumber } from "../format.ts";
import { useTRPC } from "../trpc.ts";
import { PageHeader } from "../ui/Page.tsx";
import { ErrorState } from "../ui/states.tsx";

/** Onboarding, ticked off from what the server sees: an instance, a client using it, a tool call that worked. */
export function Overview() {
  const trpc = useTRPC();
  const instances = useQuery(trpc.instances.list.queryOptions(undefined, { refetchInterval: 10_000 }));
  const services = useQuery(trpc.services.list.queryOptions());
  const month = useWindow(24 * 30);
  const usage = useQuery(
    trpc.usage.summary.queryOptions({ ...month, groupBy: "service" }, { refetchInterval: 10_000 }),
  );
  const live = instances.data?.filter((i) => i.status !== "revoked") ?? [];
  const calls = usage.data?.groups.reduce((n, g) => n + g.calls, 0) ?? 0;
  const failed =
    usage.data?.groups.reduce((n, g) => n + Object.values(g.errors).reduce((a, b) => a + b, 0), 0) ?? 0;
  const steps = [
    {
      done: live.length > 0,
      title: "Connect a service",
      body: (
        <>
          Pick one in the <Link to="/catalog">catalog</Link> and paste your API key.
        </>
      ),
    },
    {
      done: live.some((i) => i.lastUsedAt !== null),
      title: "Put the URL in a client",
      body: "Copy the instance URL into Claude, Cursor, VS Code or any MCP client; this ticks when a client reaches it.",
    },
    {
      done: calls - failed > 0,
      title: "Make a first successful tool call",
      body: "Ask your assistant to use one of the service's tools.",
    },
  ];
  const needsAttention = instances.data?.filter((i) => {
    const s = instanceState(
      i,
      services.data?.find((x) => x.type === i.serviceType),
    );
    return s === "needs_reauth" || s === "upstream_down";
  });
  const allDone = steps.every((s) => s.done);

  return (
    <>
      <PageHeader title="Overview">Connect a service once, then use it from any MCP client.</PageHeader>
      {instances.isError && <ErrorState error={instances.error} retry={() => void instances.refetch()} />}
      <div className="grid gap-4 md:grid-cols-[minmax(0,1fr)_18rem]">
        <section className="card" aria-labelledby="getting-started">
          <h2 id="getting-started" className="text-lg font-semibold">
            {allDone ? "You are all set" : "Getting started"}
          </h2>
          <ol className="mt-3 space-y-3" aria-label="Onboarding checklist">
            {steps.map((s, i) => (
              <li key={s.title} className="flex gap-3" data-testid={`step-${i + 1}`} data-done={s.done}>
                <span
                  className={`badge ${s.done ? "badge-green" : "badge-gray"} shrink-0 h-6`}
                  aria-hidden="true"
                >
                  {s.done ? "✓" : i + 1}
                </span>
                <div className="min-w-0">
                  <p className="font-medium">
                    {s.title}
                    <span className="sr-only">{s.done ? " (done)" : " (to do)"}</span>
                  </p>
                  <p className="muted text-sm">{s.body}</p>
                </div>
              </li>
            ))}
          </ol>
        </section>
        <section className="card space-y-2 text-sm" aria-label="At a glance">
          <p>
            <span className="text-2xl font-semibold">{live.length}</span> live{" "}
            {live.length === 1 ? "instance" : "instances"}
          </p>
          <p>
            <span className="text-2xl font-semibold">{formatNumber(calls)}</span> tool calls in 30 days
          </p>
          <p className="flex flex-wrap gap-2 pt-2">
            <Link to="/catalog" className="btn btn-primary">
              Connect a service
            </Link>
            <Link to="/usage" className="btn">
              Usage
            </Link>
          </p>
        </section>
      </div>
      {needsAttention && needsAttention.length > 0 && (
        <section className="card mt-4" aria-labelledby="attention">
          <h2 id="attention" className="font-semibold">
            Needs your attention
          </h2>
          <ul className="mt-2 list-disc pl-5 text-sm">
            {needsAttention.map((i) => (
              <li key={i.instanceId}>
                <Link to={`/instances/${i.serviceType}`}>
                  {i.displayName ?? serviceNames(services.data).get(i.serviceType) ?? i.serviceType}
                </Link>
                : {i.status === "needs_reauth" ? "needs a new key" : "the upstream service is unavailable"}
              </li>
            ))}
          </ul>
        </section>
      )}
    </>
  );
}
