import type { ReactNode } from "react";
import { errorInfo } from "../trpc.ts";

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
  fetchNextPage: () => Promise<unknown>;
}

/** The button under a paged list that asks for its next page; disabled, and saying so, while that loads. */
export function FetchMore({
  list,
  label,
  className = "btn",
}: {
  list: NextPage;
  label: string;
  className?: string;
}) {
  return (
    <button
      type="button"
      className={className}
      disabled={list.isFetchingNextPage}
      onClick={() => void list.fetchNextPage()}
    >
      {list.isFetchingNextPage ? "Loading…" : label}
    </button>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="card muted text-center py-8">{children}</div>;
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
      {(info.code || info.requestId) && (
        <p className="text-xs mt-1 break-all">
          {info.code && <>Error {info.code}. </>}
          {info.requestId && (
            <>
              Request id <code data-testid="request-id">{info.requestId}</code>
            </>
          )}
        </p>
      )}
      {retry && (
        <button type="button" className="btn mt-2" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  );
}

/** The error of an action, shown where the action is; `id` lets a field point at it. */
export function ActionError({ error, id }: { error: unknown; id?: string }) {
  if (!error) return null;
  const info = errorInfo(error);
  return (
    <div className="alert mt-2" role="alert" id={id}>
      {info.message}
      {info.requestId && (
        <span className="block text-xs mt-1 break-all">
          Request id <code>{info.requestId}</code>
        </span>
      )}
    </div>
  );
}
