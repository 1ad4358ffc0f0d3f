import type { ReactNode } from "react";
import { useEffect, useId, useRef } from "react";
import { CopyButton } from "./CopyButton.tsx";

interface Props {
  title: string;
  /** What the secret is, e.g. "Instance URL"; names the value and the Copy button. */
  label: string;
  value: string;
  children?: ReactNode;
  onDismiss: () => void;
}

/** A secret the server returns exactly once: show it, offer Copy, and say it will not come back. */
export function SecretPanel({ title, label, value, children, onDismiss }: Props) {
  const id = useId();
  const heading = useRef<HTMLHeadingElement>(null);

  // Move focus (and the viewport) to the new secret so it is not missed.
  useEffect(() => {
    heading.current?.focus();
  }, []);

  return (
    <section className="secret-panel" aria-labelledby={`${id}-title`}>
      <h3 id={`${id}-title`} ref={heading} tabIndex={-1}>
        {title}
      </h3>
      {children}
      <p className="secret-label">{label}</p>
      <div className="secret-row">
        <code className="secret" data-testid="secret-value">
          {value}
        </code>
        <CopyButton text={value} label={`Copy ${label.toLowerCase()}`} />
      </div>
      <p className="warning">Copy it now: it won't be shown again.</p>
      <button type="button" onClick={onDismiss}>
        Done
      </button>
    </section>
  );
}
