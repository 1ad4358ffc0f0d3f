import type { Instance, IssuedInstance, Service } from "../trpc.ts";
import { Alert } from "./Alert.tsx";
import { CUSTOM_SERVICE_TYPE, CustomServerCard } from "./CustomServerCard.tsx";
import { ServiceCard } from "./ServiceCard.tsx";

interface Props {
  services: Service[] | undefined;
  instances: Instance[] | undefined;
  error: string | undefined;
  onConnected: (issued: IssuedInstance) => void;
}

export function ServiceList({ services, instances, error, onConnected }: Props) {
  const active = new Set(instances?.filter((i) => i.isActive).map((i) => i.serviceType));
  return (
    <section aria-labelledby="services-title">
      <h2 id="services-title">Services</h2>
      <p className="muted">
        Connect an account with its API key, or your own MCP server, to get a personal MCP URL for it.
      </p>
      {error && <Alert>{error}</Alert>}
      {!services && !error && <p className="muted">Loading services…</p>}
      {services?.length === 0 && <p className="muted">No services are available yet.</p>}
      <div className="grid">
        {services?.map((service) => (
          <ServiceCard
            key={service.type}
            service={service}
            connected={active.has(service.type)}
            onConnected={onConnected}
          />
        ))}
        <CustomServerCard connected={active.has(CUSTOM_SERVICE_TYPE)} onConnected={onConnected} />
      </div>
    </section>
  );
}
