import { type FormEvent, useId, useRef, useState } from "react";
import { type IssuedInstance, trpc } from "../trpc.ts";
import { useAction } from "../useAction.ts";
import { Alert } from "./Alert.tsx";

export const CUSTOM_SERVICE_TYPE = "custom";
export const CUSTOM_SERVICE_NAME = "Custom MCP server";
/** The server's limit (`instances.connectCustom`), the Authorization row included. */
const MAX_HEADERS = 16;

interface ExtraHeader {
  id: number;
  name: string;
  value: string;
}

interface Props {
  connected: boolean;
  onConnected: (issued: IssuedInstance) => void;
}

/** The user's own remote MCP server (Streamable HTTP or legacy SSE) behind a personal instance URL. */
export function CustomServerCard({ connected, onConnected }: Props) {
  const id = useId();
  const [name, setName] = useState("");
  const [url, setUrl] = useState("");
  const [authorization, setAuthorization] = useState("");
  const [extra, setExtra] = useState<ExtraHeader[]>([]);
  const { pending, error, setError, run } = useAction();
  const nextId = useRef(1);
  const focusId = useRef<number>(undefined);
  const addButton = useRef<HTMLButtonElement>(null);
  const canAdd = extra.length + 1 < MAX_HEADERS;

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
    const rows = [{ name: "Authorization", value: authorization }, ...extra];
    for (const row of rows) {
      const headerName = row.name.trim();
      const value = row.value.trim();
      if (headerName === "" || value === "") continue;
      if (seen.has(headerName.toLowerCase())) return `The ${headerName} header is listed twice.`;
      seen.add(headerName.toLowerCase());
      headers[headerName] = value;
    }
    return headers;
  }

  async function connect(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const headers = collectHeaders();
    if (typeof headers === "string") {
      setError(headers);
      return;
    }
    await run(async () => {
      const issued = await trpc.instances.connectCustom.mutate({
        name: name.trim(),
        url: url.trim(),
        ...(Object.keys(headers).length > 0 && { headers }),
      });
      // Header values (and a URL that may embed a token) are secrets: do not keep them around.
      setUrl("");
      setAuthorization("");
      setExtra((rows) => rows.map((r) => ({ ...r, value: "" })));
      onConnected(issued);
    });
  }

  return (
    <article className="card service" aria-labelledby={`${id}-name`}>
      <div className="service-head">
        <h3 id={`${id}-name`}>{CUSTOM_SERVICE_NAME}</h3>
        {connected && <span className="badge info">Connected</span>}
      </div>
      <p className="muted">
        Your own remote MCP server (Streamable HTTP or SSE) behind a personal, revocable URL. Its tools are
        passed through.
      </p>
      <form className="stack" onSubmit={connect} aria-busy={pending}>
        <div className="field">
          <label htmlFor={`${id}-label`}>Name</label>
          <input
            id={`${id}-label`}
            type="text"
            required
            maxLength={64}
            placeholder="e.g. Internal tools"
            value={name}
            onChange={(e) => setName(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor={`${id}-url`}>Server URL</label>
          <input
            id={`${id}-url`}
            type="url"
            inputMode="url"
            autoComplete="off"
            spellCheck={false}
            required
            maxLength={2048}
            placeholder="https://mcp.example.com/mcp"
            value={url}
            onChange={(e) => setUrl(e.target.value)}
          />
        </div>
        <fieldset className="headers">
          <legend>
            Headers <span className="muted">(optional, sent only to this server)</span>
          </legend>
          <div className="header-row">
            <label htmlFor={`${id}-auth`}>Authorization</label>
            <input
              id={`${id}-auth`}
              type="password"
              autoComplete="off"
              spellCheck={false}
              maxLength={4096}
              placeholder="Bearer …"
              value={authorization}
              onChange={(e) => setAuthorization(e.target.value)}
            />
          </div>
          {extra.map((row, index) => {
            const n = index + 2;
            return (
              <div className="header-row" key={row.id}>
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
                  type="password"
                  autoComplete="off"
                  spellCheck={false}
                  required={row.name.trim() !== ""}
                  maxLength={4096}
                  placeholder="Value"
                  value={row.value}
                  onChange={(e) => updateHeader(row.id, { value: e.target.value })}
                />
                <button
                  type="button"
                  className="icon"
                  title={`Remove header ${n}`}
                  onClick={() => removeHeader(row.id)}
                >
                  <span aria-hidden="true">×</span>
                  <span className="sr-only">Remove header {n}</span>
                </button>
              </div>
            );
          })}
          <div className="header-actions">
            <button type="button" ref={addButton} disabled={!canAdd} onClick={addHeader}>
              Add header
            </button>
            {!canAdd && <span className="hint">At most {MAX_HEADERS} headers.</span>}
          </div>
        </fieldset>
        <div>
          <button
            type="submit"
            className="primary"
            disabled={pending}
            aria-describedby={connected ? `${id}-hint` : undefined}
          >
            {pending ? "Connecting…" : connected ? "Reconnect" : "Connect"}
            <span className="sr-only"> {CUSTOM_SERVICE_NAME}</span>
          </button>
          {connected && (
            <p id={`${id}-hint`} className="hint">
              Connecting again replaces your custom server; your instance URL stays the same.
            </p>
          )}
          {error && <Alert>{error}</Alert>}
        </div>
      </form>
    </article>
  );
}
