import { useQuery } from "@tanstack/react-query";
import { useId } from "react";
import { Link, useSearchParams } from "react-router";
import { HealthBadge } from "../components/badges.tsx";
import { CUSTOM_NAME, CUSTOM_TYPE } from "../components/services.ts";
import { type Service, useTRPC } from "../trpc.ts";
import { PageHeader } from "../ui/Page.tsx";
import { Empty, ErrorState, Loading } from "../ui/states.tsx";

function matches(service: Service, q: string): boolean {
  const text = [
    service.name,
    service.type,
    service.description,
    ...service.tools.map((t) => `${t.name} ${t.title}`),
  ]
    .join(" ")
    .toLowerCase();
  return q
    .toLowerCase()
    .split(/\s+/)
    .filter(Boolean)
    .every((word) => text.includes(word));
}

export function Catalog() {
  const trpc = useTRPC();
  const id = useId();
  const services = useQuery(trpc.services.list.queryOptions());
  const instances = useQuery(trpc.instances.list.queryOptions());
  const [params, setParams] = useSearchParams();
  const q = params.get("q") ?? "";
  const connected = new Set(instances.data?.filter((i) => i.status !== "revoked").map((i) => i.serviceType));
  const shown = services.data?.filter((s) => matches(s, q));
  const showCustom = matches(
    {
      name: CUSTOM_NAME,
      type: CUSTOM_TYPE,
      description: "your own remote MCP server",
      tools: [],
    } as unknown as Service,
    q,
  );

  return (
    <>
      <PageHeader title="Catalog">
        Every service you can connect, what it can do, and whether it is up right now.
      </PageHeader>
      <div className="mb-4 max-w-md">
        <label htmlFor={`${id}-q`} className="label">
          Search services and tools
        </label>
        <input
          id={`${id}-q`}
          className="input"
          type="search"
          placeholder="e.g. issues, comments, github"
          value={q}
          onChange={(e) => setParams(e.target.value ? { q: e.target.value } : {}, { replace: true })}
        />
      </div>
      {services.isPending && <Loading what="services" />}
      {services.isError && (
        <ErrorState
          title="Could not load the catalog"
          error={services.error}
          retry={() => void services.refetch()}
        />
      )}
      {shown && (
        <>
          <p className="sr-only" role="status">
            {shown.length + (showCustom ? 1 : 0)} services shown
          </p>
          {shown.length === 0 && !showCustom ? (
            <Empty>No service or tool matches “{q}”.</Empty>
          ) : (
            <ul className="grid gap-3 md:grid-cols-2">
              {shown.map((s) => (
                <li key={s.type}>
                  <ServiceCard service={s} connected={connected.has(s.type)} />
                </li>
              ))}
              {showCustom && (
                <li>
                  <article className="card h-full" aria-label={CUSTOM_NAME}>
                    <div className="flex flex-wrap items-center gap-2">
                      <h2 className="text-lg font-semibold">{CUSTOM_NAME}</h2>
                      {connected.has(CUSTOM_TYPE) && <span className="badge badge-blue">Connected</span>}
                    </div>
                    <p className="muted text-sm mt-1">
                      Your own remote MCP server (Streamable HTTP or SSE) behind a personal, revocable URL.
                      Its tools are passed through, with the headers you give it kept sealed.
                    </p>
                    <div className="mt-3">
                      <Link to={`/connect/${CUSTOM_TYPE}`} className="btn btn-primary">
                        Connect <span className="sr-only">{CUSTOM_NAME}</span>
                      </Link>
                    </div>
                  </article>
                </li>
              )}
            </ul>
          )}
        </>
      )}
    </>
  );
}

const HINTS: [keyof Service["tools"][number]["annotations"], string, string][] = [
  ["readOnlyHint", "read-only", "green"],
  ["destructiveHint", "changes data", "red"],
  ["idempotentHint", "idempotent", "gray"],
  ["openWorldHint", "open world", "gray"],
];

function ServiceCard({ service, connected }: { service: Service; connected: boolean }) {
  const id = useId();
  return (
    <article className="card h-full flex flex-col gap-2" aria-labelledby={`${id}-name`}>
      <div className="flex flex-wrap items-center gap-2">
        <h2 id={`${id}-name`} className="text-lg font-semibold">
          {service.name}
        </h2>
        {connected && <span className="badge badge-blue">Connected</span>}
      </div>
      <HealthBadge service={service} />
      <p className="muted text-sm">{service.description}</p>
      <p className="text-sm">
        <a href={service.keyUrl} target="_blank" rel="noopener noreferrer">
          Where do I get a key for {service.name}?
        </a>
        {service.keyHelp && <span className="muted"> {service.keyHelp}</span>}
      </p>
      <details className="text-sm">
        <summary className="cursor-pointer">
          {service.kind === "mcp"
            ? "Tools come from the vendor's MCP server"
            : `${service.tools.length} ${service.tools.length === 1 ? "tool" : "tools"}`}
        </summary>
        <ul className="mt-2 space-y-2">
          {service.tools.map((tool) => (
            <li key={tool.name} className="min-w-0">
              <code className="break-all">{tool.name}</code>{" "}
              {HINTS.filter(([k]) => tool.annotations[k]).map(([k, label, tone]) => (
                <span key={k} className={`badge badge-${tone} mr-1`}>
                  {label}
                </span>
              ))}
              <span className="muted block">{tool.description}</span>
            </li>
          ))}
        </ul>
      </details>
      <div className="mt-auto pt-2">
        <Link to={`/connect/${service.type}`} className="btn btn-primary">
          {connected ? "Reconnect" : "Connect"} <span className="sr-only">{service.name}</span>
        </Link>
      </div>
    </article>
  );
}
