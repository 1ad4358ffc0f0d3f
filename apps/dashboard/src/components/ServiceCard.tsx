import { type FormEvent, useId, useState } from "react";
import { type IssuedInstance, type Service, trpc } from "../trpc.ts";
import { useAction } from "../useAction.ts";
import { Alert } from "./Alert.tsx";

interface Props {
  service: Service;
  connected: boolean;
  onConnected: (issued: IssuedInstance) => void;
}

export function ServiceCard({ service, connected, onConnected }: Props) {
  const id = useId();
  const [apiKey, setApiKey] = useState("");
  const [extra, setExtra] = useState<Record<string, string>>({});
  const { pending, error, run } = useAction();
  const fields = service.additionalCredentials;

  async function connect(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    await run(async () => {
      const additionalCredentials = Object.fromEntries(
        fields.map((f) => [f.name, extra[f.name]?.trim() ?? ""]).filter(([, value]) => value !== ""),
      );
      const issued = await trpc.instances.connect.mutate({
        serviceType: service.type,
        apiKey,
        ...(fields.length > 0 && { additionalCredentials }),
      });
      setApiKey("");
      onConnected(issued);
    });
  }

  return (
    <article className="card service" aria-labelledby={`${id}-name`}>
      <div className="service-head">
        <h3 id={`${id}-name`}>{service.name}</h3>
        <span className={`badge ${service.healthy ? "ok" : "warn"}`}>
          {service.healthy ? "Operational" : "Degraded"}
        </span>
        {connected && <span className="badge info">Connected</span>}
      </div>
      <p className="muted">{service.description}</p>
      <p className="key-help">
        <a href={service.keyUrl} target="_blank" rel="noopener noreferrer">
          Get a {service.name} key
        </a>
        {service.keyHelp && <span className="muted"> — {service.keyHelp}</span>}
      </p>
      <details>
        <summary>
          {service.tools.length} {service.tools.length === 1 ? "tool" : "tools"}
        </summary>
        <ul className="tools">
          {service.tools.map((tool) => (
            <li key={tool.name}>
              <code>{tool.name}</code>
              {tool.annotations.destructiveHint && <span className="badge warn">changes data</span>}{" "}
              <span className="muted">{tool.description}</span>
            </li>
          ))}
        </ul>
      </details>
      <form onSubmit={connect} aria-busy={pending}>
        {fields.map((field) => (
          <div key={field.name} className="field">
            <label htmlFor={`${id}-${field.name}`}>{field.label}</label>
            <input
              id={`${id}-${field.name}`}
              type={field.secret ? "password" : "text"}
              autoComplete="off"
              spellCheck={false}
              required={field.required}
              pattern={field.pattern}
              title={field.description}
              value={extra[field.name] ?? ""}
              onChange={(e) => setExtra({ ...extra, [field.name]: e.target.value })}
            />
          </div>
        ))}
        <label htmlFor={`${id}-key`}>{service.name} API key</label>
        <div className="inline">
          <input
            id={`${id}-key`}
            type="password"
            autoComplete="off"
            spellCheck={false}
            required
            aria-describedby={connected ? `${id}-hint` : undefined}
            value={apiKey}
            onChange={(e) => setApiKey(e.target.value)}
          />
          <button type="submit" className="primary" disabled={pending}>
            {pending ? "Connecting…" : connected ? "Reconnect" : "Connect"}
            <span className="sr-only"> {service.name}</span>
          </button>
        </div>
        {connected && (
          <p id={`${id}-hint`} className="hint">
            Connecting again replaces the stored key; your instance URL stays the same.
          </p>
        )}
        {error && <Alert>{error}</Alert>}
      </form>
    </article>
  );
}
