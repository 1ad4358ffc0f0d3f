import { useId, useRef, useState } from "react";
import { type ListedTool, listTools } from "../mcp.ts";

type State =
  | { kind: "idle" }
  | { kind: "pending" }
  | { kind: "ok"; tools: ListedTool[] }
  | { kind: "error"; message: string };

/** Runs tools/list through the edge with the instance URL and shows what came back. */
export function TestConnection({ url }: { url: string }) {
  const id = useId();
  const [state, setState] = useState<State>({ kind: "idle" });
  const result = useRef<HTMLDivElement>(null);

  async function run() {
    setState({ kind: "pending" });
    let next: State;
    try {
      next = { kind: "ok", tools: await listTools(url, AbortSignal.timeout(15_000)) };
    } catch (err) {
      next = { kind: "error", message: err instanceof Error ? err.message : "The test failed." };
    }
    setState(next);
    requestAnimationFrame(() => result.current?.focus());
  }

  return (
    <section aria-labelledby={`${id}-t`} className="mt-4">
      <div className="flex flex-wrap items-center gap-2">
        <h3 id={`${id}-t`} className="font-semibold">
          Test connection
        </h3>
        <button type="button" className="btn" disabled={state.kind === "pending"} onClick={run}>
          {state.kind === "pending" ? "Testing…" : "Test connection"}
        </button>
      </div>
      <div ref={result} tabIndex={-1} className="outline-none mt-2" data-testid="test-result">
        {state.kind === "ok" && (
          <div role="status">
            <p className="text-sm">
              <span className="badge badge-green">Connected</span> The edge answered with {state.tools.length}{" "}
              {state.tools.length === 1 ? "tool" : "tools"}:
            </p>
            <ul className="text-sm mt-1 flex flex-wrap gap-1" aria-label="Tools">
              {state.tools.map((t) => (
                <li key={t.name}>
                  <code className="badge badge-gray">{t.name}</code>
                </li>
              ))}
            </ul>
          </div>
        )}
        {state.kind === "error" && (
          <p className="alert" role="alert">
            {state.message}
          </p>
        )}
      </div>
    </section>
  );
}
