import { type ReactNode, useEffect, useRef } from "react";

/** A page's heading: focused when the page opens, so keyboard and screen-reader users land on it. */
export function PageHeader({ title, children }: { title: string; children?: ReactNode }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · MCP Platform`;
    ref.current?.focus({ preventScroll: true });
  }, [title]);
  return (
    <div className="mb-4">
      <h1 ref={ref} tabIndex={-1} className="text-2xl font-semibold tracking-tight outline-none">
        {title}
      </h1>
      {children && <div className="muted mt-1">{children}</div>}
    </div>
  );
}

/** Focuses an element once it is rendered: where the result of an action appears. */
export function focusSoon(get: () => HTMLElement | null | undefined) {
  requestAnimationFrame(() => get()?.focus());
}
