import { useQuery, useQueryClient, useMutation as useQueryMutation } from "@tanstack/react-query";
import { type FormEvent, useId, useRef, useState } from "react";
import { useNavigate } from "react-router";
import { formatAgo, formatWhen } from "../format.ts";
import { useMutation } from "../mutation.ts";
import { setActiveOrg } from "../org.ts";
import { errorInfo, useTRPC } from "../trpc.ts";
import { ConfirmDialog } from "../ui/Dialog.tsx";
import { TextField } from "../ui/Field.tsx";
import { focusSoon, PageHeader } from "../ui/Page.tsx";
import { ActionError, ErrorState, Loading } from "../ui/states.tsx";

export function Account() {
  return (
    <>
      <PageHeader title="Account">
        Your password, where you are signed in, and your account itself.
      </PageHeader>
      <div className="grid gap-4 lg:grid-cols-2">
        <ChangePassword />
        <Sessions />
        <DeleteAccount />
      </div>
    </>
  );
}

/** The fields of this form as the validator names them, in words. */
const PASSWORD_FIELDS: Record<string, string> = {
  currentPassword: "the current password",
  newPassword: "the new password",
};

/** The validator's message with the form's words for its field names: "The new password must differ …". */
function inWords(message: string): string {
  const said = message.replace(/\b(currentPassword|newPassword)\b/g, (name) => PASSWORD_FIELDS[name] ?? name);
  return said.charAt(0).toUpperCase() + said.slice(1);
}

function ChangePassword() {
  const trpc = useTRPC();
  const id = useId();
  const queryClient = useQueryClient();
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const result = useRef<HTMLDivElement>(null);
  const change = useMutation(
    trpc.account.changePassword.mutationOptions({
      // The result: the field in error (it is described by the message), or the confirmation. The field is the
      // error's own (as `onNew` below picks it), not read off the page: the render marking it may come after the
      // next frame on a busy machine, and the box around the message would then take focus instead.
      onError: (error) =>
        focusSoon(() =>
          document.getElementById(errorInfo(error).field === "newPassword" ? `${id}-new` : `${id}-cur`),
        ),
      onSuccess: () => {
        setCurrent("");
        setNext("");
        focusSoon(() => result.current);
        // Every other session ended: the list beside the form shows it.
        void queryClient.invalidateQueries({ queryKey: trpc.account.sessions.queryKey() });
      },
    }),
  );
  const info = change.isError ? errorInfo(change.error) : undefined;
  // A refused new password (the same as the current one, too short) is the new field's; a wrong password the
  // current one's.
  const onNew = info?.field === "newPassword";
  function submit(e: FormEvent) {
    e.preventDefault();
    change.mutate({ currentPassword: current, newPassword: next });
  }
  return (
    <form className="card space-y-3" onSubmit={submit} aria-labelledby={`${id}-t`}>
      <h2 id={`${id}-t`} className="font-semibold">
        Change password
      </h2>
      <TextField
        id={`${id}-cur`}
        label="Current password"
        type="password"
        autoComplete="current-password"
        required
        maxLength={256}
        value={current}
        invalid={!!info && !onNew}
        errorId={info && !onNew ? `${id}-err` : undefined}
        onValue={setCurrent}
      />
      <TextField
        id={`${id}-new`}
        label="New password"
        hint="At least 10 characters. Every other session is signed out."
        type="password"
        autoComplete="new-password"
        required
        minLength={10}
        maxLength={256}
        value={next}
        invalid={onNew}
        errorId={onNew ? `${id}-err` : undefined}
        onValue={setNext}
      />
      <div ref={result} tabIndex={-1} className="outline-none">
        {info && (
          <ActionError
            error={change.error}
            id={`${id}-err`}
            message={info.field ? inWords(info.message) : undefined}
          />
        )}
        {change.isSuccess && (
          <p role="status" className="text-sm">
            Password changed. Your other sessions were signed out.
          </p>
        )}
      </div>
      <button type="submit" className="btn btn-primary" disabled={change.isPending}>
        Change password
      </button>
    </form>
  );
}

function Sessions() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const sessions = useQuery(trpc.account.sessions.queryOptions());
  const [confirmAll, setConfirmAll] = useState(false);
  const heading = useRef<HTMLHeadingElement>(null);
  // Each row revokes its own session: one after the other, each goes (TanStack's own mutate).
  const revoke = useQueryMutation(
    trpc.account.revokeSession.mutationOptions({
      // Refused (the session ended elsewhere meanwhile): the list's heading, above the error, rather than <body>,
      // where the buttons disabled while the request ran left focus.
      onError: () => focusSoon(() => heading.current),
      onSuccess: async (_r, input) => {
        if (sessions.data?.find((s) => s.id === input.id)?.current) {
          setActiveOrg(null);
          queryClient.clear();
          await navigate("/signin");
          return;
        }
        await queryClient.invalidateQueries({ queryKey: trpc.account.sessions.queryKey() });
        focusSoon(() => heading.current);
      },
    }),
  );
  const everywhere = useMutation(
    trpc.account.signOutEverywhere.mutationOptions({
      onSuccess: async () => {
        setActiveOrg(null);
        queryClient.clear();
        await navigate("/signin");
      },
    }),
  );
  return (
    <section className="card space-y-3 min-w-0" aria-labelledby="sessions">
      <h2 id="sessions" ref={heading} tabIndex={-1} className="font-semibold outline-none">
        Sessions
      </h2>
      {sessions.isPending && <Loading what="sessions" />}
      {sessions.isError && <ErrorState error={sessions.error} retry={() => void sessions.refetch()} />}
      {revoke.isError && <ActionError error={revoke.error} />}
      <ul className="space-y-2" aria-label="Sessions">
        {sessions.data?.map((s) => (
          <li
            key={s.id}
            className="flex flex-wrap items-start justify-between gap-2 text-sm border-b border-[var(--border)] pb-2"
          >
            <div className="min-w-0">
              <p className="break-all">
                {s.userAgent ?? "Unknown browser"}{" "}
                {s.current && <span className="badge badge-blue">This browser</span>}
              </p>
              <p className="muted">
                {s.ip ?? "unknown address"} · signed in {formatAgo(s.createdAt)} · expires{" "}
                {formatWhen(s.expiresAt)}
              </p>
            </div>
            <button
              type="button"
              className="btn"
              disabled={revoke.isPending}
              onClick={() => revoke.mutate({ id: s.id })}
            >
              {s.current ? "Sign out" : "Revoke"}{" "}
              <span className="sr-only">session from {formatWhen(s.createdAt)}</span>
            </button>
          </li>
        ))}
      </ul>
      <button type="button" className="btn btn-danger" onClick={() => setConfirmAll(true)}>
        Sign out everywhere
      </button>
      <ConfirmDialog
        open={confirmAll}
        danger
        onOpenChange={(open) => {
          setConfirmAll(open);
          everywhere.reset();
        }}
        title="Sign out everywhere?"
        description="Every session ends, this one included. API keys and instance URLs keep working."
        confirmLabel="Sign out everywhere"
        pending={everywhere.isPending}
        error={everywhere.isError && <ActionError error={everywhere.error} />}
        onConfirm={() => everywhere.mutate()}
      />
    </section>
  );
}

function DeleteAccount() {
  const trpc = useTRPC();
  const id = useId();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const [open, setOpen] = useState(false);
  const [password, setPassword] = useState("");
  const del = useMutation(
    trpc.account.delete.mutationOptions({
      onSuccess: async () => {
        setActiveOrg(null);
        queryClient.clear();
        await navigate("/signup");
      },
    }),
  );
  return (
    <section className="card space-y-3" aria-labelledby={`${id}-t`}>
      <h2 id={`${id}-t`} className="font-semibold">
        Delete account
      </h2>
      <p className="text-sm muted">
        Deletes every instance (their URLs stop at once), sealed key, API key and session. This cannot be
        undone.
      </p>
      <button type="button" className="btn btn-danger" onClick={() => setOpen(true)}>
        Delete account…
      </button>
      <ConfirmDialog
        open={open}
        danger
        onOpenChange={(o) => {
          setOpen(o);
          setPassword("");
          del.reset();
        }}
        title="Delete your account?"
        description="Enter your password to confirm. Everything is deleted at once."
        confirmLabel="Delete account"
        pending={del.isPending}
        error={del.isError && <ActionError error={del.error} id={`${id}-err`} />}
        onConfirm={() => del.mutate({ password })}
      >
        <TextField
          id={`${id}-pw`}
          label="Password"
          type="password"
          autoComplete="current-password"
          value={password}
          invalid={del.isError}
          errorId={del.isError ? `${id}-err` : undefined}
          onValue={setPassword}
        />
      </ConfirmDialog>
    </section>
  );
}
