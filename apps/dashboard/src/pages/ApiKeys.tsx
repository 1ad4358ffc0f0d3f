import { useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useId, useRef, useState } from "react";
import { formatAgo, formatWhen } from "../format.ts";
import { useMutation } from "../mutation.ts";
import { type ApiKey, errorInfo, type Outputs, useTRPC } from "../trpc.ts";
import { CopyButton } from "../ui/CopyButton.tsx";
import { ConfirmDialog, Dialog, DialogClose } from "../ui/Dialog.tsx";
import { SelectField, TextField } from "../ui/Field.tsx";
import { focusSoon, PageHeader } from "../ui/Page.tsx";
import { ActionError, Empty, ErrorState, Loading } from "../ui/states.tsx";

const SCOPES = [
  ["instances:read", "List and read instances"],
  ["instances:write", "Connect, rotate and revoke instances"],
  ["usage:read", "Read usage"],
  ["audit:read", "Read the audit log"],
  ["org:admin", "Organisation management (reserved)"],
] as const;
type Scope = (typeof SCOPES)[number][0];

const EXPIRY = [
  ["never", "Never"],
  ["30", "In 30 days"],
  ["90", "In 90 days"],
  ["365", "In a year"],
] as const;

export function ApiKeys() {
  const trpc = useTRPC();
  const id = useId();
  const queryClient = useQueryClient();
  const keys = useQuery(trpc.apiKeys.list.queryOptions());
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<Set<Scope>>(new Set(SCOPES.map(([s]) => s)));
  const [expiry, setExpiry] = useState<string>("90");
  const [created, setCreated] = useState<Outputs["apiKeys"]["create"]>();
  const [revoking, setRevoking] = useState<ApiKey>();
  const [notice, setNotice] = useState<string>();
  const noticeRef = useRef<HTMLParagraphElement>(null);
  const listHeading = useRef<HTMLHeadingElement>(null);
  /** The key just created: focused in the list once its dialog closes (`created` is cleared by then). */
  const createdId = useRef<string>(undefined);
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.apiKeys.list.queryKey() });
  const create = useMutation(
    trpc.apiKeys.create.mutationOptions({
      // The result of a refusal: the name field, which the error describes (the button, disabled while the
      // request ran, would have left focus on <body>).
      onError: () => focusSoon(() => document.getElementById(`${id}-name`)),
      onSuccess: (key) => {
        setName("");
        createdId.current = key.id;
        // In the list at once (newest first; never the secret itself), so closing the dialog focuses it even
        // while the list reloads; the reload then brings the server's copy.
        const { key: _secret, ...listed } = key;
        queryClient.setQueryData(
          trpc.apiKeys.list.queryKey(),
          (old) => old && [{ ...listed, lastUsedAt: null }, ...old.filter((k) => k.id !== key.id)],
        );
        setCreated(key);
        void refresh();
      },
    }),
  );
  const revoke = useMutation(
    trpc.apiKeys.revoke.mutationOptions({
      onSuccess: async () => {
        setNotice(`Revoked “${revoking?.name}”: it stops working at once.`);
        setRevoking(undefined);
        await refresh();
      },
    }),
  );

  function submit(e: FormEvent) {
    e.preventDefault();
    const expiresAt =
      expiry === "never" ? null : new Date(Date.now() + Number(expiry) * 86_400_000).toISOString();
    create.mutate({ name: name.trim(), scopes: [...scopes], expiresAt });
  }

  return (
    <>
      <PageHeader title="API keys">
        Keys for integrators and scripts (the SDK, REST, tRPC). Each does only what its scopes allow.
      </PageHeader>
      {notice && (
        <p ref={noticeRef} tabIndex={-1} role="status" className="card mb-4 outline-none">
          {notice}
        </p>
      )}
      <div className="grid gap-4 lg:grid-cols-[20rem_minmax(0,1fr)]">
        <form className="card space-y-3" onSubmit={submit} aria-label="Create an API key">
          <h2 className="font-semibold">Create a key</h2>
          <TextField
            id={`${id}-name`}
            label="Key name"
            required
            maxLength={64}
            value={name}
            placeholder="e.g. CI deploys"
            invalid={create.isError}
            errorId={create.isError ? `${id}-err` : undefined}
            onValue={setName}
          />
          <fieldset>
            <legend className="label">Scopes</legend>
            {SCOPES.map(([scope, label]) => (
              <label key={scope} className="flex items-start gap-2 text-sm py-0.5">
                <input
                  type="checkbox"
                  className="mt-1"
                  checked={scopes.has(scope)}
                  onChange={(e) => {
                    const next = new Set(scopes);
                    if (e.target.checked) next.add(scope);
                    else next.delete(scope);
                    setScopes(next);
                  }}
                />
                <span>
                  <code>{scope}</code> <span className="muted">{label}</span>
                </span>
              </label>
            ))}
          </fieldset>
          <SelectField id={`${id}-exp`} label="Expires" options={EXPIRY} value={expiry} onValue={setExpiry} />
          {create.isError && (
            <ActionError
              error={create.error}
              id={`${id}-err`}
              // The validator's words ("Too small: expected string …") in the page's own.
              message={
                errorInfo(create.error).field === "name"
                  ? "Give the key a name: 1 to 64 characters, not only spaces."
                  : undefined
              }
            />
          )}
          <button type="submit" className="btn btn-primary" disabled={create.isPending || scopes.size === 0}>
            {create.isPending ? "Creating…" : "Create key"}
          </button>
          {scopes.size === 0 && <p className="muted text-xs">Pick at least one scope.</p>}
        </form>
        <section aria-labelledby="your-keys" className="min-w-0">
          <h2 id="your-keys" ref={listHeading} tabIndex={-1} className="font-semibold mb-2 outline-none">
            Your keys
          </h2>
          {keys.isPending && <Loading what="API keys" />}
          {keys.isError && <ErrorState error={keys.error} retry={() => void keys.refetch()} />}
          {keys.data?.length === 0 && <Empty>No API keys yet.</Empty>}
          {keys.data && keys.data.length > 0 && (
            <ul className="space-y-2" aria-label="API keys">
              {keys.data.map((k) => (
                <li
                  key={k.id}
                  data-key-id={k.id}
                  tabIndex={-1}
                  className="card flex flex-wrap items-start justify-between gap-2"
                >
                  <div className="min-w-0 text-sm">
                    <p className="font-medium break-all">{k.name}</p>
                    <p className="muted break-all">
                      <code>{k.prefix}…</code> · {k.scopes.join(", ")}
                    </p>
                    <p className="muted">
                      Created {formatAgo(k.createdAt)} · last used {formatAgo(k.lastUsedAt).toLowerCase()} ·{" "}
                      {k.expiresAt ? `expires ${formatWhen(k.expiresAt)}` : "never expires"}
                    </p>
                  </div>
                  <button type="button" className="btn btn-danger" onClick={() => setRevoking(k)}>
                    Revoke <span className="sr-only">{k.name}</span>
                  </button>
                </li>
              ))}
            </ul>
          )}
        </section>
      </div>
      <Dialog
        open={created !== undefined}
        sticky
        onOpenChange={(open) => {
          if (!open) setCreated(undefined);
        }}
        title={`API key “${created?.name ?? ""}” created`}
        description="Send it as Authorization: Bearer <key>."
        onClosed={() => {
          const made = createdId.current;
          createdId.current = undefined;
          // The result of the action: the new key in the list (or the list, while it is still loading).
          focusSoon(
            () =>
              (made && document.querySelector<HTMLElement>(`[data-key-id="${CSS.escape(made)}"]`)) ||
              listHeading.current,
          );
        }}
      >
        <p className="alert font-semibold">Shown once: copy it now. It won't be shown again.</p>
        <code className="snippet mt-3" data-testid="api-key-value">
          {created?.key}
        </code>
        <div className="flex flex-wrap justify-between gap-2 mt-3">
          <CopyButton text={created?.key ?? ""} label="Copy API key" />
          <DialogClose asChild>
            <button type="button" className="btn btn-primary">
              Done
            </button>
          </DialogClose>
        </div>
      </Dialog>
      <ConfirmDialog
        open={revoking !== undefined}
        danger
        onOpenChange={(open) => {
          if (!open) setRevoking(undefined);
          revoke.reset();
        }}
        title={`Revoke “${revoking?.name ?? ""}”?`}
        description="Anything using this key gets 401 from now on. Instance URLs it fetched keep working: rotate them if the key leaked."
        confirmLabel="Revoke key"
        pending={revoke.isPending}
        error={revoke.isError && <ActionError error={revoke.error} />}
        onConfirm={() => revoking && revoke.mutate({ id: revoking.id })}
        onClosed={() => focusSoon(() => noticeRef.current)}
      />
    </>
  );
}
