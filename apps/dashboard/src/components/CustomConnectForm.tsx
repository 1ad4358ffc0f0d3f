import { useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useId, useRef, useState } from "react";
import { useMutation } from "../mutation.ts";
import { type IssuedInstance, useTRPC } from "../trpc.ts";
import { TextField } from "../ui/Field.tsx";
import { ActionError } from "../ui/states.tsx";
import { CUSTOM_NAME } from "./services.ts";

/** The server's limit (`instances.connectCustom`), the Authorization row included. */
const MAX_HEADERS = 16;

interface ExtraHeader {
  id: number;
  name: string;
  value: string;
}

/** The user's own remote MCP server (Streamable HTTP or legacy SSE) behind a personal instance URL. */
export function CustomConnectForm({
  onConnected,
}: {
  onConnected: (issued: IssuedInstance, name: string) => void;
}) {
  const trpc = useTRPC();
  const id = useId();
  const queryClient = useQueryClient();
  const [name, setName] = useState("");
  const [url, setUrl] = useState("");
  const [authorization, setAuthorization] = useState("");
  const [extra, setExtra] = useState<ExtraHeader[]>([]);
  const [localError, setLocalError] = useState<string>();
  const nextId = useRef(1);
  const focusId = useRef<number>(undefined);
  const addButton = useRef<HTMLButtonElement>(null);
  const errorBox = useRef<HTMLDivElement>(null);
  const canAdd = extra.length + 1 < MAX_HEADERS;
  const connect = useMutation(
    trpc.instances.connectCustom.mutationOptions({
      onError: () => requestAnimationFrame(() => errorBox.current?.focus()),
      onSuccess: (issued) => {
        // Header values (and a URL that may embed a token) are secrets: do not keep them around.
        setUrl("");
        setAuthorization("");
        setExtra((rows) => rows.map((r) => ({ ...r, value: "" })));
        void queryClient.invalidateQueries({ queryKey: trpc.instances.pathKey() });
        onConnected(issued, name.trim() || CUSTOM_NAME);
      },
    }),
  );

  function addHeader() {
    const row = { id: nextId.current++, name: "", value: "" };
    focusId.current = row.id;
    setExtra((rows) => [...rows, row]);
  }
  function removeHeader(rowId: number) {
    setExtra((rows) => rows.filter((r) => r.id !== rowId));
    addButton.current?.focus();
  }
  function updateHeader(rowId: number, patch: Partial<Omit<ExtraHeader, "id">>) {
    setExtra((rows) => rows.map((r) => (r.id === rowId ? { ...r, ...patch } : r)));
  }

  /** The headers to send, or a message when two rows name the same header. */
  function collectHeaders(): Record<string, string> | string {
    const headers: Record<string, string> = {};
    const seen = new Set<string>();
    for (const row of [{ name: "Authorization", value: authorization }, ...extra]) {
      const headerName = row.name.trim();
      const value = row.value.trim();
      if (headerName === "" || value === "") continue;
      if (seen.has(headerName.toLowerCase())) return `The ${headerName} header is listed twice.`;
      seen.add(headerName.toLowerCase());
      headers[headerName] = value;
    }
    return headers;
  }

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const headers = collectHeaders();
    if (typeof headers === "string") {
      setLocalError(headers);
      requestAnimationFrame(() => errorBox.current?.focus());
      return;
    }
    setLocalError(undefined);
    connect.mutate({
      name: name.trim(),
      url: url.trim(),
      ...(Object.keys(headers).length > 0 && { headers }),
    });
  }

  const failed = connect.isError || localError !== undefined;
  return (
    <form
      className="card space-y-4 max-w-2xl"
      onSubmit={submit}
      aria-busy={connect.isPending}
      aria-label={`Connect ${CUSTOM_NAME}`}
    >
      <TextField
        id={`${id}-label`}
        label="Name"
        type="text"
        required
        maxLength={64}
        placeholder="e.g. Internal tools"
        value={name}
        onValue={setName}
      />
      <TextField
        id={`${id}-url`}
        label="Server URL"
        type="url"
        inputMode="url"
        autoComplete="off"
        spellCheck={false}
        required
        maxLength={2048}
        placeholder="https://mcp.example.com/mcp"
        value={url}
        invalid={connect.isError}
        errorId={failed ? `${id}-error` : undefined}
        onValue={setUrl}
      />
      <fieldset className="space-y-2 min-w-0">
        <legend className="label">
          Headers{" "}
          <span className="muted font-normal">(optional, sent only to this server, stored sealed)</span>
        </legend>
        <div>
          <label className="text-sm" htmlFor={`${id}-auth`}>
            Authorization
          </label>
          <input
            id={`${id}-auth`}
            className="input"
            type="password"
            autoComplete="off"
            spellCheck={false}
            maxLength={4096}
            placeholder="Bearer …"
            value={authorization}
            aria-invalid={connect.isError ? true : undefined}
            aria-describedby={failed ? `${id}-error` : undefined}
            onChange={(e) => setAuthorization(e.target.value)}
          />
        </div>
        {extra.map((row, index) => {
          const n = index + 2;
          return (
            <div className="flex gap-2 items-center min-w-0" key={row.id}>
              <label htmlFor={`${id}-h${row.id}-name`} className="sr-only">
                Header {n} name
              </label>
              <input
                id={`${id}-h${row.id}-name`}
                ref={(el) => {
                  if (el && focusId.current === row.id) {
                    focusId.current = undefined;
                    el.focus();
                  }
                }}
                className="input"
                type="text"
                autoComplete="off"
                spellCheck={false}
                required={row.value !== ""}
                maxLength={64}
                placeholder="Header name"
                value={row.name}
                onChange={(e) => updateHeader(row.id, { name: e.target.value })}
              />
              <label htmlFor={`${id}-h${row.id}-value`} className="sr-only">
                Header {n} value
              </label>
              <input
                id={`${id}-h${row.id}-value`}
                className="input"
                type="password"
                autoComplete="off"
                spellCheck={false}
                required={row.name.trim() !== ""}
                maxLength={4096}
                placeholder="Value"
                value={row.value}
                onChange={(e) => updateHeader(row.id, { value: e.target.value })}
              />
              <button type="button" className="btn" onClick={() => removeHeader(row.id)}>
                <span aria-hidden="true">×</span>
                <span className="sr-only">Remove header {n}</span>
              </button>
            </div>
          );
        })}
        <div className="flex flex-wrap items-center gap-2">
          <button type="button" className="btn" ref={addButton} disabled={!canAdd} onClick={addHeader}>
            Add header
          </button>
          {!canAdd && <span className="muted text-xs">At most {MAX_HEADERS} headers.</span>}
        </div>
      </fieldset>
      <div ref={errorBox} tabIndex={-1} className="outline-none">
        {localError && (
          <p className="alert" role="alert" id={`${id}-error`}>
            {localError}
          </p>
        )}
        {!localError && connect.isError && <ActionError error={connect.error} id={`${id}-error`} />}
      </div>
      <button type="submit" className="btn btn-primary" disabled={connect.isPending}>
        {connect.isPending ? "Connecting…" : "Connect"}
        <span className="sr-only"> {CUSTOM_NAME}</span>
      </button>
      <p className="muted text-xs">
        Connecting again replaces your custom server; your instance URL stays the same.
      </p>
    </form>
  );
}
