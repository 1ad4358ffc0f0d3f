import { type ReactNode, useLayoutEffect, useRef } from "react";

/**
 * A page's heading: focused when the page opens, so keyboard and screen-reader users land on it. In the
 * commit that shows it (a layout effect), not after the paint: a page shown by a navigation (a transition,
 * whose passive effects wait) would otherwise be on screen with focus still on <body>, where the removal of
 * whatever had it (a closed dialog's button) left it.
 */
export function PageHeader({ title, children }: { title: string; children?: ReactNode }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useLayoutEffect(() => {
    document.title = `${title} · MCP Platform`;
    ref.current?.focus({ preventScroll: true });
  }, [title]);
  return (
    <div className="mb-4">
      <h1
        ref={ref}
        tabIndex={-1}
        className="text-2xl font-semibold tracking-tight outline-none wrap-anywhere"
      >
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
