import { useQuery } from "@tanstack/react-query";
import { Link, useLocation } from "react-router";
import { accountLabel, type InstanceState, instanceState, StatusBadge } from "../components/badges.tsx";
import { serviceNames } from "../components/services.ts";
import { useWindow } from "../components/useRange.ts";
import { formatAgo, formatNumber, formatWhen } from "../format.ts";
import { type Instance, useTRPC } from "../trpc.ts";
import { PageHeader } from "../ui/Page.tsx";
import { Empty, ErrorState, Loading } from "../ui/states.tsx";

interface Row {
  instance: Instance;
  name: string;
  state: InstanceState;
  calls: number | undefined;
}

export function Instances() {
  const trpc = useTRPC();
  // What the previous page did (e.g. a deletion), said once here under the heading.
  const notice = (useLocation().state as { notice?: string } | null)?.notice;
  const instances = useQuery(trpc.instances.list.queryOptions(undefined, { refetchInterval: 10_000 }));
  const services = useQuery(trpc.services.list.queryOptions());
  const day = useWindow(24);
  const usage = useQuery(trpc.usage.summary.queryOptions({ ...day, groupBy: "instance" }));
  const names = serviceNames(services.data);
  const calls = new Map(usage.data?.groups.map((g) => [g.key, g.calls]));
  const rows: Row[] | undefined = instances.data?.map((instance) => ({
    instance,
    name: instance.displayName ?? names.get(instance.serviceType) ?? instance.serviceType,
    state: instanceState(
      instance,
      services.data?.find((s) => s.type === instance.serviceType),
    ),
    calls: usage.data ? (calls.get(instance.instanceId) ?? 0) : undefined,
  }));

  return (
    <>
      <PageHeader title="Instances">Your personal MCP endpoints, one per connected service.</PageHeader>
      {notice && (
        <p role="status" className="card mb-4" data-testid="notice">
          {notice}
        </p>
      )}
      {instances.isPending && <Loading what="instances" />}
      {instances.isError && (
        <ErrorState
          title="Could not load your instances"
          error={instances.error}
          retry={() => void instances.refetch()}
        />
      )}
      {usage.isError && <ErrorState title="Calls in the last 24 hours are unavailable" error={usage.error} />}
      {rows?.length === 0 && (
        <Empty>
          No instances yet. <Link to="/catalog">Connect a service</Link> to get your first MCP URL.
        </Empty>
      )}
      {rows && rows.length > 0 && (
        <>
          <table className="data hidden sm:table card p-0" aria-label="Instances">
            <thead>
              <tr>
                <th scope="col">Service</th>
                <th scope="col">Status</th>
                <th scope="col">Connected as</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">Calls (24 h)</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.instance.instanceId}>
                  <th scope="row" className="font-medium text-left wrap-anywhere">
                    <Link to={`/instances/${r.instance.serviceType}`}>{r.name}</Link>
                  </th>
                  <td>
                    <StatusBadge state={r.state} />
                  </td>
                  <td className="break-all">
                    {accountLabel(r.instance.account) ?? <span className="muted">—</span>}
                  </td>
                  <td title={formatWhen(r.instance.createdAt)}>{formatAgo(r.instance.createdAt)}</td>
                  <td title={formatWhen(r.instance.lastUsedAt)}>{formatAgo(r.instance.lastUsedAt)}</td>
                  <td data-testid="calls-24h">{r.calls === undefined ? "…" : formatNumber(r.calls)}</td>
                  <td>
                    <Actions row={r} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <ul className="sm:hidden space-y-3" aria-label="Instances">
            {rows.map((r) => (
              <li key={r.instance.instanceId} className="card">
                <div className="flex flex-wrap items-center justify-between gap-2">
                  <Link
                    to={`/instances/${r.instance.serviceType}`}
                    className="font-semibold min-w-0 wrap-anywhere"
                  >
                    {r.name}
                  </Link>
                  <StatusBadge state={r.state} />
                </div>
                <dl className="grid grid-cols-[auto_minmax(0,1fr)] gap-x-3 gap-y-1 text-sm mt-2">
                  <dt className="muted">Connected as</dt>
                  <dd className="break-all">{accountLabel(r.instance.account) ?? "—"}</dd>
                  <dt className="muted">Created</dt>
                  <dd>{formatAgo(r.instance.createdAt)}</dd>
                  <dt className="muted">Last used</dt>
                  <dd>{formatAgo(r.instance.lastUsedAt)}</dd>
                  <dt className="muted">Calls (24 h)</dt>
                  <dd>{r.calls === undefined ? "…" : formatNumber(r.calls)}</dd>
                </dl>
                <div className="mt-3">
                  <Actions row={r} />
                </div>
              </li>
            ))}
          </ul>
        </>
      )}
    </>
  );
}

function Actions({ row }: { row: Row }) {
  const type = row.instance.serviceType;
  return (
    <span className="flex flex-wrap gap-2">
      {row.state === "needs_reauth" && (
        <Link to={`/connect/${type}?reconnect=1`} className="btn btn-primary">
          Reconnect <span className="sr-only">{row.name}</span>
        </Link>
      )}
      {row.state === "revoked" ? (
        <Link to={`/connect/${type}`} className="btn">
          Connect again <span className="sr-only">{row.name}</span>
        </Link>
      ) : (
        <Link to={`/instances/${type}`} className="btn">
          Manage <span className="sr-only">{row.name}</span>
        </Link>
      )}
    </span>
  );
}
