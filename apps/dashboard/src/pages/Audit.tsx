import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { type FormEvent, useId, useState } from "react";
import { useSearchParams } from "react-router";
import { serviceNames } from "../components/services.ts";
import { formatWhen } from "../format.ts";
import { type AuditEvent, useTRPC, useTRPCClient } from "../trpc.ts";
import { Dialog, DialogClose } from "../ui/Dialog.tsx";
import { SelectField, TextField } from "../ui/Field.tsx";
import { PageHeader } from "../ui/Page.tsx";
import { Empty, ErrorState, FetchMore, Loading } from "../ui/states.tsx";

const ACTIONS = [
  "tool.call",
  "instance.connect",
  "credentials.update",
  "instance.rotate",
  "instance.revoke",
  "instance.settings",
  "instance.delete",
  "api_key.create",
  "api_key.revoke",
  "auth.sign_in",
  "org.create",
  "org.invite",
  "org.join",
  "org.role_change",
  "org.member_remove",
  "org.leave",
  "org.invitation_revoke",
  "account.password_change",
  "session.revoke",
  "session.revoke_all",
];
const FILTER_KEYS = ["action", "status", "instanceId", "from", "to"] as const;

/** A yyyy-mm-dd (what a date input gives) as the start of that day, local time; undefined for anything else. */
function dayOf(value: string): Date | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return undefined;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(year, month - 1, day);
  // 2025-02-30 would roll over into March: not a day.
  const same = date.getFullYear() === year && date.getMonth() === month - 1 && date.getDate() === day;
  return year >= 1 && same ? date : undefined;
}
/** The start of that day and of the next one, in ISO-8601. */
const dayStart = (day: Date) => day.toISOString();
const dayAfter = (day: Date) => new Date(day.getFullYear(), day.getMonth(), day.getDate() + 1).toISOString();

/** The address's filters as the page reads them: a date it cannot read is left out (and said so), not a crash. */
function readFilters(params: URLSearchParams) {
  const get = (k: string) => params.get(k) ?? "";
  const from = dayOf(get("from"));
  const to = dayOf(get("to"));
  const unreadable = (["from", "to"] as const).filter((k) => get(k) !== "" && !dayOf(get(k)));
  return {
    get,
    unreadable,
    filters: {
      ...(get("action") && { action: get("action") }),
      ...(get("status") && { status: get("status") }),
      ...(get("instanceId") && { instanceId: get("instanceId") }),
      ...(from && { from: dayStart(from) }),
      ...(to && { to: dayAfter(to) }),
    },
  };
}

export function Audit() {
  const trpc = useTRPC();
  const client = useTRPCClient();
  const id = useId();
  const [params, setParams] = useSearchParams();
  const [selected, setSelected] = useState<AuditEvent>();
  const instances = useQuery(trpc.instances.list.queryOptions());
  const services = useQuery(trpc.services.list.queryOptions());
  const names = serviceNames(services.data);
  const { get, filters, unreadable } = readFilters(params);
  const action = get("action");
  const instanceId = get("instanceId");
  const listed = instances.data?.some((i) => i.instanceId === instanceId) ?? false;
  const input = { limit: 25, ...(Object.keys(filters).length > 0 && { filters }) };
  // By hand rather than tRPC's infiniteQueryOptions: that one adds a `direction` field, which
  // audit.list's strict input schema refuses.
  const events = useInfiniteQuery({
    queryKey: [...trpc.audit.list.queryKey(input), "pages"],
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) =>
      client.audit.list.query({ ...input, ...(pageParam && { cursor: pageParam }) }),
    getNextPageParam: (last) => last.nextCursor ?? undefined,
  });
  const items = events.data?.pages.flatMap((p) => p.items);

  function apply(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const next = new URLSearchParams();
    for (const k of FILTER_KEYS) {
      const v = String(form.get(k) ?? "").trim();
      if (v) next.set(k, v);
    }
    setParams(next);
  }

  return (
    <>
      <PageHeader title="Audit log">
        Every change to your account and every tool call, newest first.
      </PageHeader>
      <form
        // Built again only when the applied filters change: never when the instances arrive, which would throw away
        // what the user chose meanwhile. The filtered instance has its option from the start (below), the same
        // element once the list names it (options are keyed by value), so it stays selected.
        key={params.toString()}
        className="card grid gap-3 sm:grid-cols-3 lg:grid-cols-6 items-end mb-4"
        onSubmit={apply}
        aria-label="Filters"
      >
        <SelectField
          id={`${id}-action`}
          label="Action"
          name="action"
          // An action from the address that the list does not name is still shown: it is what is filtered on.
          options={[
            ["", "Any"],
            ...ACTIONS.map((a) => [a, a] as const),
            ...(action && !ACTIONS.includes(action) ? [[action, action] as const] : []),
          ]}
          defaultValue={action}
        />
        <TextField
          id={`${id}-status`}
          label="Status"
          name="status"
          placeholder="ok, EXPIRED_CREDENTIALS…"
          maxLength={64}
          defaultValue={get("status")}
        />
        <SelectField
          id={`${id}-inst`}
          label="Instance"
          name="instanceId"
          options={[
            ["", "Any"],
            ...(instances.data ?? []).map(
              (i) =>
                [
                  i.instanceId,
                  `${names.get(i.serviceType) ?? i.serviceType}${i.status === "revoked" ? " (revoked)" : ""}`,
                ] as const,
            ),
            // One the list does not name (deleted, another organisation's, or still loading) is still shown: it
            // is what is filtered on.
            ...(instanceId && !listed
              ? [
                  [
                    instanceId,
                    instances.isPending ? instanceId : `${instanceId} (not among your instances)`,
                  ] as const,
                ]
              : []),
          ]}
          defaultValue={instanceId}
        />
        <TextField
          id={`${id}-from`}
          label="From"
          name="from"
          type="date"
          defaultValue={unreadable.includes("from") ? "" : get("from")}
        />
        <TextField
          id={`${id}-to`}
          label="To"
          name="to"
          type="date"
          defaultValue={unreadable.includes("to") ? "" : get("to")}
        />
        <div className="flex gap-2">
          <button type="submit" className="btn btn-primary">
            Apply
          </button>
          <button type="button" className="btn" onClick={() => setParams({})}>
            Clear
          </button>
        </div>
      </form>
      {unreadable.length > 0 && (
        <p className="card mb-4 text-sm" role="status" data-testid="ignored-filters">
          The address has {unreadable.length === 1 ? "a date" : "dates"} this page cannot read (
          {unreadable.map((k) => `${k === "from" ? "From" : "To"} “${get(k)}”`).join(", ")}): not applied.
          Dates are yyyy-mm-dd.
        </p>
      )}
      {events.isPending && <Loading what="events" />}
      {events.isError && <ErrorState error={events.error} retry={() => void events.refetch()} />}
      {items?.length === 0 && <Empty>No events match these filters.</Empty>}
      {items && items.length > 0 && (
        <div className="card p-0 overflow-x-auto">
          <table className="data" aria-label="Audit events">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Action</th>
                <th scope="col">Status</th>
                <th scope="col" className="hidden sm:table-cell">
                  On
                </th>
                <th scope="col">
                  <span className="sr-only">Details</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((e) => (
                <tr key={e.id} data-audit-row>
                  <td>{formatWhen(e.createdAt)}</td>
                  <td className="break-all">
                    <code>{e.action}</code>
                  </td>
                  <td>
                    <span className={`badge ${e.status === "ok" ? "badge-green" : "badge-red"}`}>
                      {e.status}
                    </span>
                  </td>
                  <td className="hidden sm:table-cell break-all">
                    {e.serviceType ? (names.get(e.serviceType) ?? e.serviceType) : ""}
                    {e.tool ? ` · ${e.tool}` : ""}
                  </td>
                  <td>
                    <button type="button" className="btn" onClick={() => setSelected(e)}>
                      Details{" "}
                      <span className="sr-only">
                        of {e.action} at {formatWhen(e.createdAt)}
                      </span>
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {events.hasNextPage && (
        <FetchMore
          list={events}
          label="Load more"
          className="btn mt-3"
          // The first event the page brought (its Details button), else the last one shown.
          firstNew={() => {
            const rows = document.querySelectorAll<HTMLElement>("[data-audit-row] button");
            return rows[items?.length ?? 0] ?? rows[rows.length - 1];
          }}
        />
      )}
      <Dialog
        open={selected !== undefined}
        onOpenChange={(open) => {
          if (!open) setSelected(undefined);
        }}
        title={selected ? `${selected.action} · ${selected.status}` : "Event"}
        description={selected ? formatWhen(selected.createdAt) : ""}
        testId="audit-detail"
      >
        {selected && <EventDetail event={selected} />}
        <div className="flex justify-end mt-3">
          <DialogClose asChild>
            <button type="button" className="btn">
              Close
            </button>
          </DialogClose>
        </div>
      </Dialog>
    </>
  );
}

type DetailValue = NonNullable<AuditEvent["detail"]>[string];

/** How each field of an event's `detail` reads, and what its null means there. */
const DETAIL_FIELDS: Record<string, { label: string; none: string; when?: true }> = {
  changed: { label: "Changed", none: "—" },
  displayName: { label: "Display name", none: "none (the service's name)" },
  readOnly: { label: "Read-only", none: "—" },
  rateLimitPerMinute: { label: "Calls per minute", none: "the platform's limit" },
  toolAllowlist: { label: "Allowed tools", none: "every tool" },
  role: { label: "Role", none: "—" },
  previousRole: { label: "Previous role", none: "—" },
  scopes: { label: "Scopes", none: "—" },
  expiresAt: { label: "Expires", none: "never", when: true },
};

function detailRow(key: string, value: DetailValue): [string, string] {
  const field = DETAIL_FIELDS[key] ?? { label: key, none: "none" };
  if (value === null) return [field.label, field.none];
  if (Array.isArray(value)) {
    // `changed` names settings: shown by their labels.
    const items = key === "changed" ? value.map((v) => DETAIL_FIELDS[v]?.label ?? v) : value;
    return [field.label, items.length === 0 ? "none" : items.join(", ")];
  }
  if (typeof value === "boolean") return [field.label, value ? "yes" : "no"];
  if (field.when && typeof value === "string") return [field.label, formatWhen(value)];
  return [field.label, String(value)];
}

function EventDetail({ event }: { event: AuditEvent }) {
  const rows: [string, string | number | null][] = [
    ["Event id", event.id],
    ["Actor", event.actor.kind === "api_key" ? `API key ${event.actor.keyId}` : event.actor.kind],
    ["Target", event.target],
    ["Instance", event.instanceId],
    ["Service", event.serviceType],
    ["Tool", event.tool],
    ["Latency", event.latencyMs === null ? null : `${event.latencyMs} ms`],
    ["Upstream time", event.upstreamMs === null ? null : `${event.upstreamMs} ms`],
    ["Request id", event.requestId],
    ["Address", event.ip],
    ["Browser / client", event.userAgent],
    ...Object.entries(event.detail ?? {}).map(([key, value]) => detailRow(key, value)),
  ];
  return (
    <dl className="grid grid-cols-[auto_minmax(0,1fr)] gap-x-3 gap-y-1 text-sm">
      {rows
        .filter(([, v]) => v !== null && v !== "")
        .map(([k, v]) => (
          <div key={k} className="contents">
            <dt className="muted">{k}</dt>
            <dd className="break-all">{v}</dd>
          </div>
        ))}
    </dl>
  );
}
