import { useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useId, useRef, useState } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";
import { HealthBadge } from "../components/badges.tsx";
import { CustomConnectForm } from "../components/CustomConnectForm.tsx";
import { connectError, type FieldError } from "../components/connect-errors.ts";
import { IssuedDialog } from "../components/IssuedDialog.tsx";
import { CUSTOM_NAME, CUSTOM_TYPE } from "../components/services.ts";
import { useMutation } from "../mutation.ts";
import { type IssuedInstance, type Service, useTRPC } from "../trpc.ts";
import { PageHeader } from "../ui/Page.tsx";
import { ErrorCode, ErrorState, Loading } from "../ui/states.tsx";

/**
 * A definition's pattern as the browser checks it: browsers compile `pattern` in the `v` (unicodeSets) mode,
 * stricter than the server's (an unescaped `-` or `(` in a class is an error there). One the browser cannot
 * compile is left out, rather than logged as invalid and never checked: the server checks every value anyway.
 */
function browserPattern(pattern: string | undefined): string | undefined {
  if (!pattern) return undefined;
  try {
    new RegExp(`^(?:${pattern})$`, "v");
    return pattern;
  } catch {
    return undefined;
  }
}

export function ConnectPage() {
  const { serviceType = "" } = useParams();
  const trpc = useTRPC();
  const navigate = useNavigate();
  const services = useQuery(trpc.services.list.queryOptions());
  const [issued, setIssued] = useState<IssuedInstance>();
  const [name, setName] = useState(CUSTOM_NAME);
  const service = services.data?.find((s) => s.type === serviceType);
  const done = () => {
    const type = issued?.serviceType ?? serviceType;
    setIssued(undefined);
    void navigate(`/instances/${type}`);
  };

  if (serviceType === CUSTOM_TYPE) {
    return (
      <>
        <PageHeader title="Connect a custom MCP server">
          Put your own remote MCP server behind a personal, revocable URL.
        </PageHeader>
        <CustomConnectForm
          onConnected={(next, label) => {
            setName(label);
            setIssued(next);
          }}
        />
        <IssuedDialog issued={issued} serviceName={name} title={`${name} is connected`} onDone={done} />
      </>
    );
  }
  if (services.isPending) return <Loading what="the service" />;
  if (services.isError) return <ErrorState error={services.error} retry={() => void services.refetch()} />;
  if (!service) {
    return (
      <>
        <PageHeader title="Unknown service" />
        <p>
          There is no service “{serviceType}”. <Link to="/catalog">See the catalog</Link>.
        </p>
      </>
    );
  }
  return (
    <>
      <ServiceConnect service={service} onIssued={setIssued} />
      <IssuedDialog
        issued={issued}
        serviceName={service.name}
        title={`${service.name} is connected`}
        onDone={done}
      />
    </>
  );
}

function ServiceConnect({ service, onIssued }: { service: Service; onIssued: (i: IssuedInstance) => void }) {
  const trpc = useTRPC();
  const id = useId();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const instance = useQuery(trpc.instances.list.queryOptions()).data?.find(
    (i) => i.serviceType === service.type,
  );
  // A live instance keeps its URL: a new key goes through updateCredentials (reconnect after re-auth).
  const reconnect =
    instance !== undefined &&
    instance.status !== "revoked" &&
    (params.has("reconnect") || instance.status === "needs_reauth");
  const [apiKey, setApiKey] = useState("");
  const [show, setShow] = useState(false);
  const [extra, setExtra] = useState<Record<string, string>>({});
  const [error, setError] = useState<FieldError>();
  const refs = useRef(new Map<string, HTMLElement | null>());
  const fields = service.additionalCredentials;
  const fieldNames = fields.map((f) => f.name);

  const fail = (err: unknown) => {
    const e = connectError(err, service.name, fieldNames);
    setError(e);
    requestAnimationFrame(() => refs.current.get(e.field)?.focus());
  };
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.instances.pathKey() });
  const connect = useMutation(
    trpc.instances.connect.mutationOptions({
      onError: fail,
      onSuccess: (issued) => {
        setApiKey("");
        setExtra({});
        void refresh();
        onIssued(issued);
      },
    }),
  );
  const update = useMutation(
    trpc.instances.updateCredentials.mutationOptions({
      onError: fail,
      onSuccess: async () => {
        setApiKey("");
        setExtra({});
        await refresh();
        await navigate(`/instances/${service.type}?reconnected=1`);
      },
    }),
  );
  const pending = connect.isPending || update.isPending;

  function input() {
    const additional = Object.fromEntries(
      fields.map((f) => [f.name, extra[f.name]?.trim() ?? ""]).filter(([, v]) => v !== ""),
    );
    return {
      serviceType: service.type,
      apiKey: apiKey.trim(),
      ...(fields.length > 0 && Object.keys(additional).length > 0 && { additionalCredentials: additional }),
    };
  }

  function submit(e: FormEvent) {
    e.preventDefault();
    setError(undefined);
    if (reconnect) update.mutate(input());
    else connect.mutate(input());
  }

  // A new key of another upstream account cannot keep the URL (CONFLICT): what the message advises, one click.
  const switchAccount = reconnect && error?.field === "apiKey" && error.code === "CONFLICT" && (
    <button
      type="button"
      className="btn mt-2"
      onClick={() => {
        setError(undefined);
        connect.mutate(input());
      }}
    >
      Connect this account instead (new URL)
    </button>
  );

  const described = (field: string, hint?: string) =>
    [hint, error?.field === field ? `${id}-err-${field}` : undefined].filter(Boolean).join(" ") || undefined;
  const fieldError = (field: string) =>
    error?.field === field ? (
      <p id={`${id}-err-${field}`} className="field-error" role="alert">
        {error.message}
        <ErrorCode info={error} />
      </p>
    ) : null;

  return (
    <>
      <PageHeader title={reconnect ? `Reconnect ${service.name}` : `Connect ${service.name}`}>
        {reconnect
          ? "Paste a new key: it is checked, sealed in place, and your instance URL stays the same."
          : service.description}
      </PageHeader>
      <div className="grid gap-4 lg:grid-cols-[minmax(0,1fr)_18rem]">
        <form
          className="card space-y-4"
          onSubmit={submit}
          aria-busy={pending}
          aria-label={`Connect ${service.name}`}
        >
          {fields.map((f) => (
            <div key={f.name}>
              <label className="label" htmlFor={`${id}-${f.name}`}>
                {f.label}
                {!f.required && <span className="muted font-normal"> (optional)</span>}
              </label>
              <input
                id={`${id}-${f.name}`}
                ref={(el) => {
                  refs.current.set(f.name, el);
                }}
                className="input"
                type={f.secret ? "password" : "text"}
                autoComplete="off"
                spellCheck={false}
                required={f.required}
                pattern={browserPattern(f.pattern)}
                maxLength={512}
                value={extra[f.name] ?? ""}
                aria-invalid={error?.field === f.name ? true : undefined}
                aria-describedby={described(f.name, f.description ? `${id}-${f.name}-hint` : undefined)}
                onChange={(e) => setExtra({ ...extra, [f.name]: e.target.value })}
              />
              {f.description && (
                <p id={`${id}-${f.name}-hint`} className="muted text-xs mt-1">
                  {f.description}
                </p>
              )}
              {fieldError(f.name)}
            </div>
          ))}
          <div>
            <label className="label" htmlFor={`${id}-key`}>
              {service.name} API key
            </label>
            <div className="flex gap-2">
              <input
                id={`${id}-key`}
                ref={(el) => {
                  refs.current.set("apiKey", el);
                }}
                className="input font-mono"
                type={show ? "text" : "password"}
                autoComplete="off"
                spellCheck={false}
                required
                maxLength={4096}
                value={apiKey}
                aria-invalid={error?.field === "apiKey" ? true : undefined}
                aria-describedby={described("apiKey", `${id}-key-hint`)}
                onChange={(e) => setApiKey(e.target.value)}
              />
              <button
                type="button"
                className="btn"
                aria-pressed={show}
                aria-controls={`${id}-key`}
                onClick={() => setShow(!show)}
              >
                {show ? "Hide" : "Show"}
                <span className="sr-only"> key</span>
              </button>
            </div>
            <p id={`${id}-key-hint`} className="muted text-xs mt-1">
              <a href={service.keyUrl} target="_blank" rel="noopener noreferrer">
                Where do I get a key for {service.name}?
              </a>{" "}
              {service.keyHelp}
            </p>
            {fieldError("apiKey")}
            {switchAccount}
          </div>
          <div
            ref={(el) => {
              refs.current.set("form", el);
            }}
            tabIndex={-1}
            className="outline-none"
          >
            {fieldError("form")}
          </div>
          <div className="flex flex-wrap gap-2">
            <button type="submit" className="btn btn-primary" disabled={pending}>
              {pending ? "Checking the key…" : reconnect ? "Save the new key" : "Connect"}
              <span className="sr-only"> {service.name}</span>
            </button>
            <Link to="/catalog" className="btn">
              Cancel
            </Link>
          </div>
          {instance && instance.status === "active" && !reconnect && (
            <p className="muted text-xs">
              {service.name} is already connected. Connecting again replaces the stored key and keeps your URL
              (a key of another {service.name} account gets a new URL).
            </p>
          )}
        </form>
        <aside className="card text-sm space-y-2" aria-label={`About ${service.name}`}>
          <HealthBadge service={service} />
          <p>
            Your key is checked with {service.name} first, then sealed (AES-256-GCM). It is never shown again,
            and only your instance uses it.
          </p>
          <p>
            <a href={service.docsUrl} target="_blank" rel="noopener noreferrer">
              {service.name} API documentation
            </a>
          </p>
        </aside>
      </div>
    </>
  );
}
