import { useEffect, useState } from "react";

type CopyState = "idle" | "copied" | "failed";

export function CopyButton({ text, label }: { text: string; label: string }) {
  const [state, setState] = useState<CopyState>("idle");

  useEffect(() => {
    if (state === "idle") return;
    const timer = setTimeout(() => setState("idle"), 2500);
    return () => clearTimeout(timer);
  }, [state]);

  async function copy() {
    try {
      await navigator.clipboard.writeText(text);
      setState("copied");
    } catch {
      // No clipboard access (insecure context, denied permission): the text stays selectable.
      setState("failed");
    }
  }

  return (
    <>
      <button type="button" onClick={copy} aria-label={label}>
        {state === "copied" ? "Copied" : "Copy"}
      </button>
      <span role="status" className="copy-status">
        {state === "copied"
          ? "Copied to clipboard."
          : state === "failed"
            ? "Copy failed: select and copy it."
            : ""}
      </span>
    </>
  );
}
