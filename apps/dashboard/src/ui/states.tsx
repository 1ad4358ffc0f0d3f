import type { ReactNode } from "react";
import { type ErrorInfo, errorInfo } from "../trpc.ts";

export function Loading({ what }: { what: string }) {
  return (
    <p className="muted py-4" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

/** A paged list's query, as `useInfiniteQuery` answers it: what asking for its next page needs. */
export interface NextPage {
  isFetchingNextPage: boolean;
  fetchNextPage: () => Promise<{ isError: boolean }>;
}

/**
 * The button under a paged list that asks for its next page; busy, and saying so, while that loads. Marked busy
 * rather than disabled (a disabled button drops focus to <body>), and once the page is in, focus moves to
 * `firstNew`: the first item it brought (the button itself is gone after the last page), or what the list
 * offers instead when the page brought nothing; a page that failed leaves focus on the button.
 */
export function FetchMore({
  list,
  label,
  className = "btn",
  firstNew,
}: {
  list: NextPage;
  label: string;
  className?: string;
  firstNew?: () => HTMLElement | null | undefined;
}) {
  const busy = list.isFetchingNextPage;
  return (
    <button
      type="button"
      className={className}
      aria-disabled={busy ? true : undefined}
      aria-busy={busy ? true : undefined}
      onClick={() => {
        if (busy) return;
        void list.fetchNextPage().then((result) => {
          // A page that failed brings nothing: focus stays on the button, under the error.
          if (firstNew && !result.isError) focusWhenShown(firstNew);
        });
      }}
    >
      {busy ? "Loading…" : label}
    </button>
  );
}

/** Focuses what `get` finds once it is rendered (the next page's rows arrive a render later), for a few frames. */
function focusWhenShown(get: () => HTMLElement | null | undefined, frames = 30): void {
  requestAnimationFrame(() => {
    const el = get();
    if (el) el.focus();
    else if (frames > 1) focusWhenShown(get, frames - 1);
  });
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="card muted text-center py-8">{children}</div>;
}

/** What support needs about a failed call: the platform's code and the answer's request id (when there are). */
export function ErrorCode({ info }: { info: ErrorInfo }) {
  if (!info.code && !info.requestId) return null;
  return (
    <span className="block text-xs mt-1 break-all" data-testid="error-code">
      {info.code && <>Error {info.code}. </>}
      {info.requestId && (
        <>
          Request id <code data-testid="request-id">{info.requestId}</code>
        </>
      )}
    </span>
  );
}

/** A failed call in plain words, with its code and request id for support, and a retry. */
export function ErrorState({ error, retry, title }: { error: unknown; retry?: () => void; title?: string }) {
  const info = errorInfo(error);
  return (
    <div className="alert" role="alert">
      <p>
        {title ? `${title}: ` : ""}
        {info.message}
      </p>
      <ErrorCode info={info} />
      {retry && (
        <button type="button" className="btn mt-2" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  );
}

/**
 * The error of an action, shown where the action is, with its code and request id; `id` lets a field point at
 * it, `message` says it in the page's own words.
 */
export function ActionError({ error, id, message }: { error: unknown; id?: string; message?: string }) {
  if (!error) return null;
  const info = errorInfo(error);
  return (
    <div className="alert mt-2" role="alert" id={id}>
      {message ?? info.message}
      <ErrorCode info={info} />
    </div>
  );
}
