import { useState } from "react";
import { type IssuedInstance, type Me, trpc } from "../trpc.ts";
import { useAsync } from "../useAsync.ts";
import { ApiKeys } from "./ApiKeys.tsx";
import { CUSTOM_SERVICE_NAME, CUSTOM_SERVICE_TYPE } from "./CustomServerCard.tsx";
import { Header } from "./Header.tsx";
import { InstanceTable } from "./InstanceTable.tsx";
import { SecretPanel } from "./SecretPanel.tsx";
import { ServiceList } from "./ServiceList.tsx";

export function Dashboard({ me, onSignedOut }: { me: Me; onSignedOut: () => Promise<void> }) {
  const services = useAsync(() => trpc.services.list.query());
  const instances = useAsync(() => trpc.instances.list.query());
  const [issued, setIssued] = useState<IssuedInstance>();
  const names = new Map([
    [CUSTOM_SERVICE_TYPE, CUSTOM_SERVICE_NAME],
    ...(services.data?.map((s): [string, string] => [s.type, s.name]) ?? []),
  ]);

  function onIssued(next: IssuedInstance) {
    setIssued(next);
    void instances.reload();
  }

  return (
    <>
      <Header email={me.email} onSignedOut={onSignedOut} />
      <main className="content">
        <ServiceList
          services={services.data}
          instances={instances.data}
          error={services.error}
          onConnected={onIssued}
        />
        <section aria-labelledby="instances-title">
          <h2 id="instances-title">Your instances</h2>
          <p className="muted">Point any MCP client at an instance URL. Each one runs with your own key.</p>
          {issued && (
            <SecretPanel
              key={issued.instanceUrl}
              title={`Your ${names.get(issued.serviceType) ?? issued.serviceType} instance URL`}
              label="Instance URL"
              value={issued.instanceUrl}
              onDismiss={() => setIssued(undefined)}
            >
              <p className="muted">It carries its own secret: anyone holding it can use your connection.</p>
            </SecretPanel>
          )}
          <InstanceTable
            instances={instances.data}
            error={instances.error}
            names={names}
            onRotated={setIssued}
            onChanged={instances.reload}
          />
        </section>
        <ApiKeys />
      </main>
    </>
  );
}
