import { useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useId, useRef, useState } from "react";
import { useMutation } from "../mutation.ts";
import { type Instance, type Service, useTRPC } from "../trpc.ts";
import { TextField } from "../ui/Field.tsx";
import { focusSoon } from "../ui/Page.tsx";
import { ActionError } from "../ui/states.tsx";

/**
 * A live instance's settings (`instances.updateSettings`): display name, which tools it offers, read-only
 * mode and a rate-limit override. The URL does not change; every edge applies them to its next request.
 */
export function Settings({ instance, service }: { instance: Instance; service: Service | undefined }) {
  const trpc = useTRPC();
  const id = useId();
  const queryClient = useQueryClient();
  const tools = service?.tools.map((t) => t.name) ?? [];
  const [displayName, setDisplayName] = useState(instance.displayName ?? "");
  const [limitAll, setLimitAll] = useState(instance.toolAllowlist === null);
  const [allowed, setAllowed] = useState<Set<string>>(new Set(instance.toolAllowlist ?? tools));
  const [allowText, setAllowText] = useState((instance.toolAllowlist ?? []).join("\n"));
  const [readOnly, setReadOnly] = useState(instance.readOnly);
  const [rate, setRate] = useState(
    instance.rateLimitPerMinute === null ? "" : String(instance.rateLimitPerMinute),
  );
  const result = useRef<HTMLDivElement>(null);
  const save = useMutation(
    trpc.instances.updateSettings.mutationOptions({
      onSettled: () => focusSoon(() => result.current),
      onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.instances.pathKey() }),
    }),
  );

  function submit(e: FormEvent) {
    e.preventDefault();
    // A service without a fixed tool list (custom, relayed servers) takes tool names one per line.
    const list = tools.length > 0 ? [...allowed] : allowText.split(/\s+/).filter(Boolean);
    save.mutate({
      serviceType: instance.serviceType,
      displayName: displayName.trim() === "" ? null : displayName.trim(),
      toolAllowlist: limitAll ? null : [...new Set(list)],
      readOnly,
      rateLimitPerMinute: rate.trim() === "" ? null : Number(rate),
    });
  }

  return (
    <form className="card space-y-3" onSubmit={submit} aria-labelledby={`${id}-t`}>
      <h2 id={`${id}-t`} className="font-semibold">
        Settings
      </h2>
      <TextField
        id={`${id}-name`}
        label="Display name"
        maxLength={80}
        placeholder={service?.name ?? instance.serviceType}
        value={displayName}
        onValue={setDisplayName}
      />
      <fieldset className="min-w-0">
        <legend className="label">Tools offered</legend>
        <label className="flex items-center gap-2 text-sm">
          <input type="checkbox" checked={limitAll} onChange={(e) => setLimitAll(e.target.checked)} />
          All tools
        </label>
        {!limitAll && tools.length > 0 && (
          <ul className="mt-1 space-y-0.5 text-sm" aria-label="Allowed tools">
            {tools.map((t) => (
              <li key={t}>
                <label className="flex items-center gap-2 break-all">
                  <input
                    type="checkbox"
                    checked={allowed.has(t)}
                    onChange={(e) => {
                      const next = new Set(allowed);
                      if (e.target.checked) next.add(t);
                      else next.delete(t);
                      setAllowed(next);
                    }}
                  />
                  <code>{t}</code>
                </label>
              </li>
            ))}
          </ul>
        )}
        {!limitAll && tools.length === 0 && (
          <>
            <label className="sr-only" htmlFor={`${id}-allow`}>
              Allowed tool names, one per line
            </label>
            <textarea
              id={`${id}-allow`}
              className="input mt-1 font-mono"
              rows={4}
              value={allowText}
              onChange={(e) => setAllowText(e.target.value)}
            />
          </>
        )}
      </fieldset>
      <label className="flex items-start gap-2 text-sm">
        <input
          type="checkbox"
          className="mt-1"
          checked={readOnly}
          onChange={(e) => setReadOnly(e.target.checked)}
        />
        <span>
          Read-only mode <span className="muted block">Only tools marked read-only can be called.</span>
        </span>
      </label>
      <TextField
        id={`${id}-rate`}
        label="Rate limit (calls per minute)"
        type="number"
        inputMode="numeric"
        min={1}
        max={10000}
        placeholder="Platform default"
        value={rate}
        invalid={save.isError}
        errorId={save.isError ? `${id}-err` : undefined}
        onValue={setRate}
      />
      <div ref={result} tabIndex={-1} className="outline-none">
        {save.isError && <ActionError error={save.error} id={`${id}-err`} />}
        {save.isSuccess && (
          <p role="status" className="text-sm">
            Settings saved. They apply to the next request.
          </p>
        )}
      </div>
      <button type="submit" className="btn btn-primary" disabled={save.isPending}>
        {save.isPending ? "Saving…" : "Save settings"}
      </button>
    </form>
  );
}
