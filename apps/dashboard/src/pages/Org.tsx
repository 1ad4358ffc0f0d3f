import {
  type InfiniteData,
  useInfiniteQuery,
  useQuery,
  useQueryClient,
  useMutation as useQueryMutation,
} from "@tanstack/react-query";
import { type FormEvent, useId, useRef, useState } from "react";
import { serviceNames } from "../components/services.ts";
import { formatAgo, formatWhen } from "../format.ts";
import { useMutation } from "../mutation.ts";
import { setActiveOrg, useActiveOrg } from "../org.ts";
import { type Org as OrgSummary, type Outputs, useTRPC, useTRPCClient } from "../trpc.ts";
import { CopyButton } from "../ui/CopyButton.tsx";
import { ConfirmDialog, Dialog, DialogClose } from "../ui/Dialog.tsx";
import { SelectField, TextField } from "../ui/Field.tsx";
import { focusSoon, PageHeader } from "../ui/Page.tsx";
import { ActionError, Empty, ErrorState, FetchMore, Loading, type NextPage } from "../ui/states.tsx";

/** How many members / instances the page asks `orgs.members` / `orgs.memberInstances` for at a time. */
const LIST_PAGE = 100;

/** Where the next page starts: after the last item shown, by its id and its time (both lists page so). */
type After = { after: string; afterAt: string } | undefined;

/** The next page's start, or none when the last page was short (nothing more to ask for). */
function nextAfter<T>(last: T[], key: (item: T) => { after: string; afterAt: string }): After {
  const item = last.at(-1);
  return last.length < LIST_PAGE || item === undefined ? undefined : key(item);
}

const allOf = <T,>(data: InfiniteData<T[], unknown> | undefined): T[] | undefined => data?.pages.flat();

const INVITED_ROLES = [
  ["member", "member"],
  ["admin", "admin"],
] as const;
const LINK_VALIDITY = [
  ["24", "1 day"],
  ["168", "7 days"],
  ["720", "30 days"],
] as const;

type Pending =
  | { kind: "remove"; userId: string; email: string }
  | { kind: "revokeInvite"; invitationId: string }
  | { kind: "revokeInstance"; instanceId: string; label: string }
  | { kind: "leave" };

export function Org() {
  const trpc = useTRPC();
  const current = useActiveOrg();
  const orgs = useQuery(trpc.orgs.list.queryOptions());
  const org = orgs.data?.find((o) => o.orgId === current) ?? orgs.data?.find((o) => o.personal);
  return (
    <>
      <PageHeader title="Organisation">Share a workspace: members, invitations and roles.</PageHeader>
      {orgs.isPending && <Loading what="organisations" />}
      {orgs.isError && <ErrorState error={orgs.error} retry={() => void orgs.refetch()} />}
      <div className="grid gap-4 lg:grid-cols-[minmax(0,1fr)_18rem]">
        {org && <OrgDetail key={org.orgId} org={org} />}
        <aside className="space-y-4 min-w-0">
          {orgs.data && <OrgList orgs={orgs.data} active={org?.orgId} />}
          <CreateOrg />
        </aside>
      </div>
    </>
  );
}

function OrgList({ orgs, active }: { orgs: OrgSummary[]; active: string | undefined }) {
  const queryClient = useQueryClient();
  return (
    <section className="card" aria-labelledby="your-orgs">
      <h2 id="your-orgs" className="font-semibold mb-2">
        Your organisations
      </h2>
      <ul className="space-y-1 text-sm">
        {orgs.map((o) => (
          <li key={o.orgId} className="flex items-center justify-between gap-2">
            <span className="min-w-0 break-all">
              {o.personal ? "Personal" : o.name} <span className="muted">· {o.role}</span>
            </span>
            {o.orgId === active ? (
              <span className="badge badge-blue">Active</span>
            ) : (
              <button
                type="button"
                className="btn"
                onClick={() => {
                  setActiveOrg(o.personal ? null : o.orgId);
                  void queryClient.resetQueries();
                }}
              >
                Switch <span className="sr-only">to {o.personal ? "Personal" : o.name}</span>
              </button>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}

function CreateOrg() {
  const trpc = useTRPC();
  const id = useId();
  const queryClient = useQueryClient();
  const [name, setName] = useState("");
  const create = useMutation(
    trpc.orgs.create.mutationOptions({
      // A refusal: the name field, which the error describes (not <body>, where the disabled button left focus).
      onError: () => focusSoon(() => document.getElementById(`${id}-name`)),
      onSuccess: async (org) => {
        setName("");
        setActiveOrg(org.orgId);
        await queryClient.resetQueries();
        // The result: the new organisation, now the one shown (its heading).
        focusSoon(() => document.getElementById("org-name"));
      },
    }),
  );
  function submit(e: FormEvent) {
    e.preventDefault();
    create.mutate({ name: name.trim() });
  }
  return (
    <form className="card space-y-2" onSubmit={submit} aria-labelledby={`${id}-t`}>
      <h2 id={`${id}-t`} className="font-semibold">
        New organisation
      </h2>
      <TextField
        id={`${id}-name`}
        label="Organisation name"
        required
        maxLength={80}
        value={name}
        invalid={create.isError}
        errorId={create.isError ? `${id}-err` : undefined}
        onValue={setName}
      />
      {create.isError && <ActionError error={create.error} id={`${id}-err`} />}
      <button type="submit" className="btn btn-primary" disabled={create.isPending}>
        Create organisation
      </button>
    </form>
  );
}

function OrgDetail({ org }: { org: OrgSummary }) {
  const trpc = useTRPC();
  const client = useTRPCClient();
  const queryClient = useQueryClient();
  const admin = org.role === "owner" || org.role === "admin";
  const heading = useRef<HTMLHeadingElement>(null);
  const [pending, setPending] = useState<Pending>();
  const [notice, setNotice] = useState<string>();
  const input = { orgId: org.orgId };
  // Page by page, each after the last item shown; a refresh asks again for every page shown so far.
  const members = useInfiniteQuery({
    queryKey: [...trpc.orgs.members.queryKey(input), "pages"],
    initialPageParam: undefined as After,
    queryFn: ({ pageParam }) => client.orgs.members.query({ ...input, limit: LIST_PAGE, ...pageParam }),
    getNextPageParam: (last) => nextAfter(last, (m) => ({ after: m.userId, afterAt: m.joinedAt })),
    enabled: admin && !org.personal,
  });
  const invitations = useQuery(
    trpc.orgs.invitations.queryOptions(input, { enabled: admin && !org.personal }),
  );
  const memberInstances = useInfiniteQuery({
    queryKey: [...trpc.orgs.memberInstances.queryKey(input), "pages"],
    initialPageParam: undefined as After,
    queryFn: ({ pageParam }) =>
      client.orgs.memberInstances.query({ ...input, limit: LIST_PAGE, ...pageParam }),
    getNextPageParam: (last) => nextAfter(last, (i) => ({ after: i.instanceId, afterAt: i.createdAt })),
    enabled: admin,
  });
  const memberList = allOf(members.data);
  const instanceList = allOf(memberInstances.data);
  const services = useQuery(trpc.services.list.queryOptions());
  const names = serviceNames(services.data);
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.orgs.pathKey() });
  // The lists are refreshed first, so the notice never announces a change the page does not show yet.
  const done = (message: string) => async () => {
    await refresh();
    setPending(undefined);
    setNotice(message);
  };
  const remove = useMutation(trpc.orgs.removeMember.mutationOptions({ onSuccess: done("Member removed.") }));
  const revokeInvite = useMutation(
    trpc.orgs.revokeInvitation.mutationOptions({ onSuccess: done("Invitation revoked.") }),
  );
  const revokeInstance = useMutation(
    trpc.orgs.revokeMemberInstance.mutationOptions({
      onSuccess: done("Instance revoked: its URL no longer works."),
    }),
  );
  const leave = useMutation(
    trpc.orgs.leave.mutationOptions({
      onSuccess: async () => {
        setPending(undefined);
        setActiveOrg(null);
        await queryClient.resetQueries();
      },
    }),
  );
  // Each member's select sets its own role: one after the other, each goes (TanStack's own mutate).
  const setRole = useQueryMutation(trpc.orgs.setRole.mutationOptions({ onSuccess: done("Role changed.") }));
  const action = { remove, revokeInvite, revokeInstance, leave }[pending?.kind ?? "remove"];

  function confirm() {
    if (!pending) return;
    if (pending.kind === "remove") remove.mutate({ ...input, userId: pending.userId });
    if (pending.kind === "revokeInvite")
      revokeInvite.mutate({ ...input, invitationId: pending.invitationId });
    if (pending.kind === "revokeInstance")
      revokeInstance.mutate({ ...input, instanceId: pending.instanceId });
    if (pending.kind === "leave") leave.mutate(input);
  }

  return (
    <section className="space-y-4 min-w-0" aria-labelledby="org-name">
      <div className="card">
        <h2
          id="org-name"
          ref={heading}
          tabIndex={-1}
          className="text-lg font-semibold outline-none wrap-anywhere"
        >
          {org.personal ? "Personal" : org.name}
        </h2>
        <p className="muted text-sm">
          Your role: {org.role} · created {formatWhen(org.createdAt)}
        </p>
        {org.personal && (
          <p className="text-sm mt-2">
            Your personal organisation is yours alone. Create an organisation to invite others.
          </p>
        )}
        {!org.personal && (
          <button type="button" className="btn btn-danger mt-2" onClick={() => setPending({ kind: "leave" })}>
            Leave organisation
          </button>
        )}
      </div>
      {notice && (
        <p role="status" tabIndex={-1} className="card outline-none" data-testid="org-notice">
          {notice}
        </p>
      )}
      {setRole.isError && <ActionError error={setRole.error} />}
      {admin && !org.personal && (
        <section className="card min-w-0" aria-labelledby="members">
          <h3 id="members" className="font-semibold mb-2">
            Members
          </h3>
          {members.isPending && <Loading what="members" />}
          {members.isError && <ErrorState error={members.error} retry={() => void members.refetch()} />}
          <ul className="space-y-2" aria-label="Members">
            {memberList?.map((m) => (
              <li
                key={m.userId}
                data-member-row
                tabIndex={-1}
                className="flex flex-wrap items-center justify-between gap-2 text-sm outline-none"
              >
                <span className="min-w-0 break-all">
                  {m.email} <span className="muted">· joined {formatAgo(m.joinedAt)}</span>
                </span>
                <span className="flex flex-wrap items-center gap-2">
                  <label className="sr-only" htmlFor={`role-${m.userId}`}>
                    Role of {m.email}
                  </label>
                  <select
                    id={`role-${m.userId}`}
                    className="input w-auto"
                    // The role asked for while its change is in flight (kept enabled: a disabled select drops
                    // focus to <body>); the server's once it answers.
                    value={
                      setRole.isPending && setRole.variables?.userId === m.userId
                        ? setRole.variables.role
                        : m.role
                    }
                    onChange={(e) =>
                      setRole.mutate({ ...input, userId: m.userId, role: e.target.value as typeof m.role })
                    }
                  >
                    <option value="owner">owner</option>
                    <option value="admin">admin</option>
                    <option value="member">member</option>
                  </select>
                  <button
                    type="button"
                    className="btn btn-danger"
                    onClick={() => setPending({ kind: "remove", userId: m.userId, email: m.email })}
                  >
                    Remove <span className="sr-only">{m.email}</span>
                  </button>
                </span>
              </li>
            ))}
          </ul>
          <MoreButton
            list={members}
            shown={memberList?.length ?? 0}
            noun="members"
            rows="[data-member-row]"
          />
        </section>
      )}
      {admin && !org.personal && (
        <Invitations
          orgId={org.orgId}
          invitations={invitations.data}
          onRevoke={(invitationId) => setPending({ kind: "revokeInvite", invitationId })}
        />
      )}
      {admin && (
        <section className="card min-w-0" aria-labelledby="member-instances">
          <h3 id="member-instances" className="font-semibold mb-2">
            Instances in this organisation
          </h3>
          {memberInstances.isPending && <Loading what="instances" />}
          {memberInstances.isError && <ErrorState error={memberInstances.error} />}
          {instanceList?.length === 0 && <Empty>No instances yet.</Empty>}
          <ul className="space-y-2" aria-label="Member instances">
            {instanceList?.map((i) => {
              const label = `${i.displayName ?? names.get(i.serviceType) ?? i.serviceType} of ${i.email}`;
              return (
                <li
                  key={i.instanceId}
                  data-instance-row
                  tabIndex={-1}
                  className="flex flex-wrap items-center justify-between gap-2 text-sm outline-none"
                >
                  <span className="min-w-0 break-all">
                    {label} <span className="muted">· {i.status}</span>
                  </span>
                  {i.status !== "revoked" && (
                    <button
                      type="button"
                      className="btn btn-danger"
                      onClick={() => setPending({ kind: "revokeInstance", instanceId: i.instanceId, label })}
                    >
                      Revoke <span className="sr-only">{label}</span>
                    </button>
                  )}
                </li>
              );
            })}
          </ul>
          <MoreButton
            list={memberInstances}
            shown={instanceList?.length ?? 0}
            noun="instances"
            rows="[data-instance-row]"
          />
        </section>
      )}
      <ConfirmDialog
        open={pending !== undefined}
        danger
        onOpenChange={(open) => {
          if (!open) setPending(undefined);
          action.reset();
        }}
        title={
          pending?.kind === "remove"
            ? `Remove ${pending.email}?`
            : pending?.kind === "revokeInvite"
              ? "Revoke this invitation?"
              : pending?.kind === "revokeInstance"
                ? `Revoke ${pending.label}?`
                : `Leave ${org.name}?`
        }
        description={
          pending?.kind === "remove"
            ? "They lose access at once, and their instances in this organisation are revoked."
            : pending?.kind === "revokeInvite"
              ? "The link stops working."
              : pending?.kind === "revokeInstance"
                ? "Its URL stops working at once, everywhere."
                : "You lose access to it and its instances."
        }
        confirmLabel={pending?.kind === "leave" ? "Leave" : pending?.kind === "remove" ? "Remove" : "Revoke"}
        pending={action.isPending}
        error={action.isError && <ActionError error={action.error} />}
        onConfirm={confirm}
        // After leaving, this organisation's part of the page is gone: the page's heading.
        onClosed={() =>
          focusSoon(
            () =>
              document.querySelector<HTMLElement>("[data-testid=org-notice]") ??
              heading.current ??
              document.querySelector<HTMLElement>("main h1"),
          )
        }
      />
    </section>
  );
}

/**
 * "Show more" under a paged list while the last page was full, with how many are shown so far; once the next page
 * is in, focus goes to its first item (`rows` selects the list's items), else to the last one shown.
 */
function MoreButton({
  list,
  shown,
  noun,
  rows,
}: {
  list: NextPage & { hasNextPage: boolean };
  shown: number;
  noun: string;
  rows: string;
}) {
  if (!list.hasNextPage) return null;
  return (
    <div className="flex flex-wrap items-center gap-2 mt-3 text-sm">
      <span className="muted" role="status">
        Showing the first {shown.toLocaleString("en")} {noun}.
      </span>
      <FetchMore
        list={list}
        label={`Show more ${noun}`}
        firstNew={() => {
          const items = document.querySelectorAll<HTMLElement>(rows);
          return items[shown] ?? items[items.length - 1];
        }}
      />
    </div>
  );
}

function Invitations({
  orgId,
  invitations,
  onRevoke,
}: {
  orgId: string;
  invitations: Outputs["orgs"]["invitations"] | undefined;
  onRevoke: (id: string) => void;
}) {
  const trpc = useTRPC();
  const id = useId();
  const queryClient = useQueryClient();
  const [role, setRole] = useState<"admin" | "member">("member");
  const [hours, setHours] = useState("168");
  const [issued, setIssued] = useState<Outputs["orgs"]["invite"]>();
  const createButton = useRef<HTMLButtonElement>(null);
  const invite = useMutation(
    trpc.orgs.invite.mutationOptions({
      onSuccess: (inv) => {
        setIssued(inv);
        void queryClient.invalidateQueries({ queryKey: trpc.orgs.invitations.queryKey({ orgId }) });
      },
    }),
  );
  const link = issued ? `${window.location.origin}${issued.invitePath}` : "";
  return (
    <section className="card min-w-0 space-y-3" aria-labelledby={`${id}-t`}>
      <h3 id={`${id}-t`} className="font-semibold">
        Invitations
      </h3>
      <form
        className="flex flex-wrap items-end gap-2"
        onSubmit={(e) => {
          e.preventDefault();
          invite.mutate({ orgId, role, expiresInHours: Number(hours) });
        }}
      >
        <SelectField
          id={`${id}-role`}
          label="Role"
          options={INVITED_ROLES}
          value={role}
          onValue={(v) => setRole(v as "admin" | "member")}
        />
        <SelectField
          id={`${id}-exp`}
          label="Link valid for"
          options={LINK_VALIDITY}
          value={hours}
          onValue={setHours}
        />
        <button
          type="submit"
          ref={createButton}
          className="btn btn-primary"
          // Busy, not disabled: a refusal leaves focus here (a disabled button drops it to <body>).
          aria-disabled={invite.isPending ? true : undefined}
          aria-busy={invite.isPending ? true : undefined}
        >
          Create invitation link
        </button>
      </form>
      {invite.isError && <ActionError error={invite.error} />}
      {invitations?.length === 0 && <p className="muted text-sm">No pending invitations.</p>}
      <ul className="space-y-2" aria-label="Pending invitations">
        {invitations?.map((inv) => (
          <li key={inv.invitationId} className="flex flex-wrap items-center justify-between gap-2 text-sm">
            <span>
              {inv.role} · expires {formatWhen(inv.expiresAt)}
              {inv.invitedBy && <span className="muted"> · by {inv.invitedBy}</span>}
            </span>
            <button type="button" className="btn btn-danger" onClick={() => onRevoke(inv.invitationId)}>
              Revoke{" "}
              <span className="sr-only">
                invitation for {inv.role === "admin" ? "an" : "a"} {inv.role}
              </span>
            </button>
          </li>
        ))}
      </ul>
      <Dialog
        open={issued !== undefined}
        sticky
        onOpenChange={(open) => {
          if (!open) setIssued(undefined);
        }}
        title="Invitation link"
        description={`Send it to the person you invite as ${issued?.role ?? "member"}; it works once.`}
        // The button that made it (disabled while it worked, so not the element focused when the dialog opened).
        onClosed={() => focusSoon(() => createButton.current)}
      >
        <p className="alert font-semibold">Shown once: copy it now. It won't be shown again.</p>
        <code className="snippet mt-3" data-testid="invite-link">
          {link}
        </code>
        <div className="flex flex-wrap justify-between gap-2 mt-3">
          <CopyButton text={link} label="Copy invitation link" />
          <DialogClose asChild>
            <button type="button" className="btn btn-primary">
              Done
            </button>
          </DialogClose>
        </div>
      </Dialog>
    </section>
  );
}
