import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useRef, useState } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";
import { accountLabel, instanceState, StatusBadge } from "../components/badges.tsx";
import { IssuedDialog } from "../components/IssuedDialog.tsx";
import { Settings } from "../components/Settings.tsx";
import { serviceNames } from "../components/services.ts";
import { formatAgo, formatWhen } from "../format.ts";
import { useMutation } from "../mutation.ts";
import { type IssuedInstance, useTRPC } from "../trpc.ts";
import { ConfirmDialog } from "../ui/Dialog.tsx";
import { focusSoon, PageHeader } from "../ui/Page.tsx";
import { ActionError, Empty, ErrorState, Loading } from "../ui/states.tsx";

export function InstanceDetail() {
  const { serviceType = "" } = useParams();
  const [params] = useSearchParams();
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const instances = useQuery(trpc.instances.list.queryOptions());
  const services = useQuery(trpc.services.list.queryOptions());
  const instance = instances.data?.find((i) => i.serviceType === serviceType);
  const service = services.data?.find((s) => s.type === serviceType);
  const name = instance?.displayName ?? serviceNames(services.data).get(serviceType) ?? serviceType;
  const [confirm, setConfirm] = useState<"rotate" | "revoke" | "delete">();
  const [issued, setIssued] = useState<IssuedInstance>();
  const [notice, setNotice] = useState<string | undefined>(
    params.has("reconnected")
      ? "Reconnected: the new key is saved and your instance URL is unchanged."
      : undefined,
  );
  const noticeRef = useRef<HTMLParagraphElement>(null);
  const navigate = useNavigate();
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.instances.pathKey() });
  const rotate = useMutation(
    trpc.instances.rotate.mutationOptions({
      onSuccess: (next) => {
        setConfirm(undefined);
        setIssued(next);
        void refresh();
      },
    }),
  );
  const revoke = useMutation(
    trpc.instances.revoke.mutationOptions({
      onSuccess: async () => {
        setConfirm(undefined);
        setNotice(`Revoked: the ${name} URL no longer works anywhere.`);
        await refresh();
      },
    }),
  );

  const remove = useMutation(
    trpc.instances.delete.mutationOptions({
      onSuccess: () => {
        // Gone from the cached list before /instances shows it (the list is asked again there).
        queryClient.setQueryData(trpc.instances.list.queryKey(), (list) =>
          list?.filter((i) => i.serviceType !== serviceType),
        );
        // The list's page heading takes focus when it opens (PageHeader); the notice goes with it.
        void navigate("/instances", {
          state: { notice: `Deleted ${name}: its stored key is erased and its URL no longer works.` },
        });
        void refresh();
      },
    }),
  );

  if (instances.isPending) return <Loading what="the instance" />;
  if (instances.isError) return <ErrorState error={instances.error} retry={() => void instances.refetch()} />;
  if (!instance) {
    return (
      <>
        <PageHeader title={name} />
        <Empty>
          You have no {name} instance. <Link to={`/connect/${serviceType}`}>Connect {name}</Link>.
        </Empty>
      </>
    );
  }
  const state = instanceState(instance, service);
  const live = state !== "revoked";

  return (
    <>
      <p className="text-sm mb-2">
        <Link to="/instances">← Instances</Link>
      </p>
      <PageHeader title={name}>
        <span className="inline-flex flex-wrap items-center gap-2">
          <StatusBadge state={state} />
          {accountLabel(instance.account) && (
            <span className="wrap-anywhere">connected as {accountLabel(instance.account)}</span>
          )}
        </span>
      </PageHeader>
      {notice && (
        <p
          ref={noticeRef}
          tabIndex={-1}
          role="status"
          className="card mb-4 outline-none"
          data-testid="notice"
        >
          {notice}
        </p>
      )}
      {state === "needs_reauth" && (
        <div className="card mb-4 border-amber-500">
          <p>
            {name} refused the stored key (it was revoked or expired upstream). Tool calls fail until you give
            it a new key; your URL stays the same.
          </p>
          <Link to={`/connect/${serviceType}?reconnect=1`} className="btn btn-primary mt-2">
            Reconnect <span className="sr-only">{name}</span>
          </Link>
        </div>
      )}
      <div className="grid gap-4 lg:grid-cols-[minmax(0,1fr)_20rem]">
        <section aria-labelledby="recent-calls" className="min-w-0">
          <h2 id="recent-calls" className="text-lg font-semibold mb-2">
            Recent tool calls
          </h2>
          <RecentCalls instanceId={instance.instanceId} />
        </section>
        <aside className="space-y-4 min-w-0">
          <dl className="card text-sm grid grid-cols-[auto_minmax(0,1fr)] gap-x-3 gap-y-1">
            <dt className="muted">Instance</dt>
            <dd className="break-all">
              <code>{instance.instanceId}</code>
            </dd>
            <dt className="muted">Created</dt>
            <dd>{formatWhen(instance.createdAt)}</dd>
            <dt className="muted">Last used</dt>
            <dd>{formatAgo(instance.lastUsedAt)}</dd>
          </dl>
          {live && (
            <section className="card space-y-3" aria-labelledby="manage">
              <h2 id="manage" className="font-semibold">
                URL
              </h2>
              <p className="text-sm muted">
                Rotate issues a new URL and stops the old one at once. Revoke stops it for good (connect again
                for a new one).
              </p>
              <div className="flex flex-wrap gap-2">
                <button type="button" className="btn" onClick={() => setConfirm("rotate")}>
                  Rotate URL
                </button>
                <button type="button" className="btn btn-danger" onClick={() => setConfirm("revoke")}>
                  Revoke
                </button>
              </div>
            </section>
          )}
          {live && <Settings key={instance.instanceId} instance={instance} service={service} />}
          <section className="card space-y-3" aria-labelledby="delete">
            <h2 id="delete" className="font-semibold">
              Delete
            </h2>
            <p className="text-sm muted">
              Erases the stored key and removes this instance; its URL stops working at once. Connecting again
              gives a new URL.
            </p>
            <button type="button" className="btn btn-danger" onClick={() => setConfirm("delete")}>
              Delete instance
            </button>
          </section>
        </aside>
      </div>
      <ConfirmDialog
        open={confirm === "rotate"}
        onOpenChange={(open) => {
          if (!open) setConfirm(undefined);
          rotate.reset();
        }}
        title={`Rotate the ${name} URL?`}
        description="You get a new URL, shown once. The current URL stops working at once in every client that uses it."
        confirmLabel="Rotate URL"
        pending={rotate.isPending}
        error={rotate.isError && <ActionError error={rotate.error} />}
        onConfirm={() => rotate.mutate({ serviceType })}
      />
      <ConfirmDialog
        open={confirm === "revoke"}
        danger
        onOpenChange={(open) => {
          if (!open) setConfirm(undefined);
          revoke.reset();
        }}
        title={`Revoke the ${name} instance?`}
        description="The URL stops working at once, everywhere. The stored key is kept sealed until you connect again."
        confirmLabel="Revoke"
        pending={revoke.isPending}
        error={revoke.isError && <ActionError error={revoke.error} />}
        onConfirm={() => revoke.mutate({ serviceType })}
        onClosed={() => focusSoon(() => noticeRef.current)}
      />
      <ConfirmDialog
        open={confirm === "delete"}
        danger
        onOpenChange={(open) => {
          if (!open) setConfirm(undefined);
          remove.reset();
        }}
        title={`Delete the ${name} instance?`}
        description="The stored key is erased and the URL stops working at once, everywhere. This cannot be undone: connecting again gives a new URL."
        confirmLabel="Delete"
        pending={remove.isPending}
        error={remove.isError && <ActionError error={remove.error} />}
        onConfirm={() => remove.mutate({ serviceType })}
        // After a delete the page is gone: the list's heading takes focus (Cancel returns it to the button).
        onClosed={() => {}}
      />
      <IssuedDialog
        issued={issued}
        serviceName={name}
        title={`New ${name} URL`}
        onDone={() => {
          setIssued(undefined);
          setNotice("Rotated: the old URL no longer works. Put the new one in your clients.");
          focusSoon(() => noticeRef.current);
        }}
      />
    </>
  );
}

function RecentCalls({ instanceId }: { instanceId: string }) {
  const trpc = useTRPC();
  const calls = useQuery(
    trpc.audit.list.queryOptions(
      { limit: 20, filters: { instanceId, action: "tool.call" } },
      { refetchInterval: 5000 },
    ),
  );
  if (calls.isPending) return <Loading what="recent calls" />;
  if (calls.isError) return <ErrorState error={calls.error} retry={() => void calls.refetch()} />;
  if (calls.data.items.length === 0)
    return <Empty>No tool calls yet. They appear here a second after they happen.</Empty>;
  return (
    <div className="card p-0 overflow-x-auto">
      <table className="data" aria-label="Recent tool calls">
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Tool</th>
            <th scope="col">Result</th>
            <th scope="col">Latency</th>
          </tr>
        </thead>
        <tbody>
          {calls.data.items.map((e) => (
            <tr key={e.id}>
              <td title={formatWhen(e.createdAt)}>{formatAgo(e.createdAt)}</td>
              <td className="break-all">
                <code>{e.tool ?? "—"}</code>
              </td>
              <td>
                <span className={`badge ${e.status === "ok" ? "badge-green" : "badge-red"}`}>{e.status}</span>
              </td>
              <td>{e.latencyMs === null ? "—" : `${e.latencyMs} ms`}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
