import { useEffect, useState } from "react";

type CopyState = "idle" | "copied" | "failed";

export function CopyButton({
  text,
  label,
  onCopied,
}: {
  text: string;
  label: string;
  onCopied?: () => void;
}) {
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
      onCopied?.();
    } catch {
      // No clipboard access (insecure context, denied permission): the text stays selectable.
      setState("failed");
    }
  }

  return (
    <span className="inline-flex items-center gap-2">
      <button type="button" className="btn" onClick={copy} aria-label={label}>
        {state === "copied" ? "Copied" : "Copy"}
      </button>
      <span role="status" className="text-xs muted">
        {state === "copied"
          ? "Copied to clipboard."
          : state === "failed"
            ? "Copy failed: select and copy it."
            : ""}
      </span>
    </span>
  );
}
