import { useState } from "react";
import { formatWhen } from "../format.ts";
import { errorMessage, type Instance, type IssuedInstance, trpc } from "../trpc.ts";
import { Alert } from "./Alert.tsx";

interface Props {
  instances: Instance[] | undefined;
  error: string | undefined;
  /** serviceType → display name */
  names: Map<string, string>;
  onRotated: (issued: IssuedInstance) => void;
  onChanged: () => Promise<void>;
}

export function InstanceTable({ instances, error, names, onRotated, onChanged }: Props) {
  const [busy, setBusy] = useState<string>();
  const [actionError, setActionError] = useState<string>();

  async function act(serviceType: string, action: "rotate" | "revoke") {
    const name = names.get(serviceType) ?? serviceType;
    const question =
      action === "rotate"
        ? `Rotate the ${name} URL? The current URL stops working at once.`
        : `Revoke the ${name} instance? Its URL stops working at once.`;
    if (!window.confirm(question)) return;
    setBusy(serviceType);
    setActionError(undefined);
    try {
      if (action === "rotate") onRotated(await trpc.instances.rotate.mutate({ serviceType }));
      else await trpc.instances.revoke.mutate({ serviceType });
      await onChanged();
    } catch (err) {
      setActionError(errorMessage(err));
    } finally {
      setBusy(undefined);
    }
  }

  if (error) return <Alert>{error}</Alert>;
  if (!instances) return <p className="muted">Loading instances…</p>;
  if (instances.length === 0)
    return <p className="muted empty">No instances yet. Connect a service above.</p>;

  return (
    <>
      {actionError && <Alert>{actionError}</Alert>}
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Service</th>
              <th scope="col">Status</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {instances.map((instance) => {
              const name = names.get(instance.serviceType) ?? instance.serviceType;
              const pending = busy === instance.serviceType;
              return (
                <tr key={instance.instanceId}>
                  <th scope="row">
                    {name}
                    {instance.account && (
                      <span className="muted account"> connected as {accountLabel(instance.account)}</span>
                    )}
                  </th>
                  <td>
                    <span className={`badge ${STATUS[instance.status].badge}`}>
                      {STATUS[instance.status].label}
                    </span>
                  </td>
                  <td>{formatWhen(instance.createdAt)}</td>
                  <td>{formatWhen(instance.lastUsedAt)}</td>
                  <td className="actions">
                    {instance.isActive && (
                      <>
                        <button
                          type="button"
                          disabled={pending}
                          onClick={() => act(instance.serviceType, "rotate")}
                        >
                          Rotate<span className="sr-only"> {name} URL</span>
                        </button>
                        <button
                          type="button"
                          className="danger"
                          disabled={pending}
                          onClick={() => act(instance.serviceType, "revoke")}
                        >
                          Revoke<span className="sr-only"> {name}</span>
                        </button>
                      </>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </>
  );
}

const STATUS = {
  active: { label: "Active", badge: "ok" },
  needs_reauth: { label: "Needs a new key", badge: "warn" },
  revoked: { label: "Revoked", badge: "off" },
} as const;

/** "Ada (ada@example.com)", "Ada", or the email alone. */
function accountLabel(account: { id?: string; name?: string; email?: string }): string {
  if (account.name && account.email && account.name !== account.email)
    return `${account.name} (${account.email})`;
  return account.name ?? account.email ?? account.id ?? "";
}
