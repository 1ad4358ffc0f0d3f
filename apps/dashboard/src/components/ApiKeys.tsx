import { type FormEvent, useState } from "react";
import { formatWhen } from "../format.ts";
import { type Outputs, trpc } from "../trpc.ts";
import { useAction } from "../useAction.ts";
import { useAsync } from "../useAsync.ts";
import { Alert } from "./Alert.tsx";
import { SecretPanel } from "./SecretPanel.tsx";

type CreatedKey = Outputs["apiKeys"]["create"];

export function ApiKeys() {
  const keys = useAsync(() => trpc.apiKeys.list.query());
  const [name, setName] = useState("");
  // One error slot for both actions; creating uses `pending`, revoking tracks the key's id.
  const { pending, error, run } = useAction();
  const [created, setCreated] = useState<CreatedKey>();
  const [revoking, setRevoking] = useState<string>();

  async function create(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    await run(async () => {
      setCreated(await trpc.apiKeys.create.mutate({ name: name.trim() }));
      setName("");
      await keys.reload();
    });
  }

  async function revoke(id: string, keyName: string) {
    if (!window.confirm(`Revoke the API key "${keyName}"? Anything using it stops working.`)) return;
    await run(
      async () => {
        await trpc.apiKeys.revoke.mutate({ id });
        if (created?.id === id) setCreated(undefined);
        await keys.reload();
      },
      (busy) => setRevoking(busy ? id : undefined),
    );
  }

  return (
    <section aria-labelledby="keys-title">
      <h2 id="keys-title">API keys</h2>
      <p className="muted">
        For scripts and the TypeScript SDK: send one as <code>Authorization: Bearer &lt;key&gt;</code>.
      </p>
      <form className="inline-form" onSubmit={create} aria-busy={pending}>
        <label htmlFor="api-key-name">Key name</label>
        <div className="inline">
          <input
            id="api-key-name"
            type="text"
            required
            maxLength={100}
            placeholder="e.g. CI deploys"
            value={name}
            onChange={(e) => setName(e.target.value)}
          />
          <button type="submit" className="primary" disabled={pending}>
            {pending ? "Creating…" : "Create API key"}
          </button>
        </div>
      </form>
      {error && <Alert>{error}</Alert>}
      {created && (
        <SecretPanel
          key={created.id}
          title={`API key "${created.name}" created`}
          label="API key"
          value={created.key}
          onDismiss={() => setCreated(undefined)}
        />
      )}
      {keys.error && <Alert>{keys.error}</Alert>}
      {keys.data?.length === 0 && <p className="muted empty">No API keys yet.</p>}
      {keys.data && keys.data.length > 0 && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Key</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {keys.data.map((key) => (
                <tr key={key.id}>
                  <th scope="row">{key.name}</th>
                  <td>
                    <code>{key.prefix}…</code>
                  </td>
                  <td>{formatWhen(key.createdAt)}</td>
                  <td>{formatWhen(key.lastUsedAt)}</td>
                  <td className="actions">
                    <button
                      type="button"
                      className="danger"
                      disabled={revoking === key.id}
                      onClick={() => revoke(key.id, key.name)}
                    >
                      Revoke<span className="sr-only"> API key {key.name}</span>
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
