import * as Tabs from "@radix-ui/react-tabs";
import { clientSetups } from "../clients.ts";
import { CopyButton } from "../ui/CopyButton.tsx";

/** One tab per MCP client: where the URL goes, a copyable snippet, and an install link where one exists. */
export function ClientSetup({ name, url, masked }: { name: string; url: string; masked?: string }) {
  const setups = clientSetups(name, url);
  // On screen the secret part stays hidden until the user reveals it; Copy always copies the real thing.
  const shown = (text: string) => (masked ? text.replaceAll(url, masked) : text);
  return (
    <section aria-label="Connect your client" className="mt-4 min-w-0">
      <h3 className="font-semibold">Connect your client</h3>
      <Tabs.Root defaultValue={setups[0]?.id} className="mt-2 min-w-0">
        <Tabs.List aria-label="MCP clients" className="flex overflow-x-auto border-b border-[var(--border)]">
          {setups.map((s) => (
            <Tabs.Trigger key={s.id} value={s.id} className="tab">
              {s.label}
            </Tabs.Trigger>
          ))}
        </Tabs.List>
        {setups.map((s) => (
          <Tabs.Content key={s.id} value={s.id} className="pt-3 min-w-0">
            <p className="text-sm muted">{s.where}</p>
            {s.file && (
              <p className="text-xs mt-2">
                File: <code>{s.file}</code>
              </p>
            )}
            <pre className="snippet mt-2" data-testid={`snippet-${s.id}`}>
              {shown(s.snippet)}
            </pre>
            <div className="flex flex-wrap items-center gap-2 mt-2">
              <CopyButton text={s.snippet} label={`Copy ${s.label} snippet`} />
              {s.installUrl && (
                <a className="btn" href={s.installUrl} data-testid={`install-${s.id}`}>
                  Install in {s.label}
                </a>
              )}
            </div>
          </Tabs.Content>
        ))}
      </Tabs.Root>
    </section>
  );
}
