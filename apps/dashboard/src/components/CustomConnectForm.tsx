import { useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useId, useRef, useState } from "react";
import { useMutation } from "../mutation.ts";
import { errorInfo, type IssuedInstance, useTRPC } from "../trpc.ts";
import { TextField } from "../ui/Field.tsx";
import { ActionError } from "../ui/states.tsx";
import { CUSTOM_NAME } from "./services.ts";

/** The server's limit (`instances.connectCustom`), the Authorization row included. */
const MAX_HEADERS = 16;
/** What the server takes as a header name (RFC 9110 token, at most 64) and as a value (printable ASCII). */
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/;
const HEADER_VALUE = /^[\t\x20-\x7e]*$/;

/** Which input a problem is about: `label`, `url`, `auth`, a header row's `h<row>-name` / `h<row>-value`. */
type Problem = { input: string; message: string } | undefined;

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
  const [localError, setLocalError] = useState<Problem>();
  /** The server's refusal, on the input it concerns (when it names one), as read when it came. */
  const [serverIssue, setServerIssue] = useState<Problem>();
  const nextId = useRef(1);
  const focusId = useRef<number>(undefined);
  const addButton = useRef<HTMLButtonElement>(null);
  const errorBox = useRef<HTMLDivElement>(null);
  const canAdd = extra.length + 1 < MAX_HEADERS;
  const connect = useMutation(
    trpc.instances.connectCustom.mutationOptions({
      onError: (err) => {
        const problem = serverProblem(err);
        setServerIssue(problem);
        focusProblem(problem);
      },
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

  /** The inputs of the row that sends header `headerName` (the Authorization field for that one). */
  function inputsOf(headerName: string): { name: string; value: string } | undefined {
    const lower = headerName.toLowerCase();
    if (lower === "authorization") return { name: "auth", value: "auth" };
    const row = extra.find((r) => r.name.trim().toLowerCase() === lower);
    return row && { name: `h${row.id}-name`, value: `h${row.id}-value` };
  }

  /**
   * A refusal on the field it concerns, in words that name the header: the validator says only "Invalid key in
   * record" for a header name it refuses, which does not say which one, nor why.
   */
  function serverProblem(err: unknown): Problem {
    const info = errorInfo(err);
    const field = info.field ?? "";
    if (field === "name") return { input: "label", message: info.message };
    if (field === "url") return { input: "url", message: info.message };
    const header = /^headers\.(.+)$/s.exec(field)?.[1];
    const inputs = header === undefined ? undefined : inputsOf(header);
    if (header === undefined || !inputs) return undefined;
    if (/key in record/i.test(info.message)) {
      return {
        input: inputs.name,
        message: HEADER_NAME.test(header)
          ? `The ${header} header is set by the platform itself: remove it.`
          : headerNameProblem(header),
      };
    }
    return { input: inputs.value, message: `The ${header} header's value: ${info.message}` };
  }

  function focusProblem(problem: Problem) {
    requestAnimationFrame(() =>
      (problem ? document.getElementById(`${id}-${problem.input}`) : errorBox.current)?.focus(),
    );
  }

  /** The headers to send, or what is wrong with one of them (named twice, a name or a value not allowed). */
  function collectHeaders(): { headers: Record<string, string> } | { problem: NonNullable<Problem> } {
    const headers: Record<string, string> = {};
    const seen = new Set<string>();
    const rows = [
      { name: "Authorization", value: authorization, input: "auth", valueInput: "auth" },
      ...extra.map((r) => ({ ...r, input: `h${r.id}-name`, valueInput: `h${r.id}-value` })),
    ];
    for (const row of rows) {
      const headerName = row.name.trim();
      const value = row.value.trim();
      if (headerName === "" || value === "") continue;
      if (!HEADER_NAME.test(headerName)) {
        return { problem: { input: row.input, message: headerNameProblem(headerName) } };
      }
      if (!HEADER_VALUE.test(value)) {
        const message = `The ${headerName} header's value: header values must be printable ASCII.`;
        return { problem: { input: row.valueInput, message } };
      }
      if (seen.has(headerName.toLowerCase())) {
        return { problem: { input: row.input, message: `The ${headerName} header is listed twice.` } };
      }
      seen.add(headerName.toLowerCase());
      headers[headerName] = value;
    }
    return { headers };
  }

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const collected = collectHeaders();
    if ("problem" in collected) {
      setLocalError(collected.problem);
      focusProblem(collected.problem);
      return;
    }
    const { headers } = collected;
    setLocalError(undefined);
    setServerIssue(undefined);
    connect.mutate({
      name: name.trim(),
      url: url.trim(),
      ...(Object.keys(headers).length > 0 && { headers }),
    });
  }

  const problem = localError ?? (connect.isError ? serverIssue : undefined);
  // The input a problem names; a refusal that names none (the server answered 401, or could not be reached) is
  // the address's or the credential's.
  const invalid = (input: string) =>
    problem ? problem.input === input : connect.isError && (input === "url" || input === "auth");
  const marks = (input: string) => ({
    "aria-invalid": invalid(input) ? true : undefined,
    "aria-describedby": invalid(input) ? `${id}-error` : undefined,
  });
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
        invalid={invalid("label")}
        errorId={invalid("label") ? `${id}-error` : undefined}
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
        invalid={invalid("url")}
        errorId={invalid("url") ? `${id}-error` : undefined}
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
            {...marks("auth")}
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
                {...marks(`h${row.id}-name`)}
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
                {...marks(`h${row.id}-value`)}
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
            {localError.message}
          </p>
        )}
        {!localError && connect.isError && (
          <ActionError error={connect.error} id={`${id}-error`} message={serverIssue?.message} />
        )}
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

/** Why a header name cannot be sent, naming it. */
function headerNameProblem(name: string): string {
  return `“${name}” is not a header name: letters, digits and ! # $ % & ' * + . ^ _ \` | ~ - only, at most 64.`;
}
