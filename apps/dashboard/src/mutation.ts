import {
  type DefaultError,
  type QueryClient,
  type UseMutationOptions,
  type UseMutationResult,
  useMutation as useQueryMutation,
} from "@tanstack/react-query";
import { useCallback, useRef } from "react";

/**
 * TanStack Query's `useMutation`, whose `mutate` ignores a call made while the last one is still in flight. A
 * double click, or Enter pressed twice, lands before `isPending` has rendered the button disabled, so each used
 * to make its own request: two API keys, two invitations, a URL rotated twice (the one on screen possibly already
 * replaced). What is in flight is noted in the same event as the click, not at the next render. A list whose rows
 * each act on their own item (revoking sessions one after the other) keeps TanStack's own: each call goes.
 */
export function useMutation<TData = unknown, TError = DefaultError, TVariables = void, TContext = unknown>(
  options: UseMutationOptions<TData, TError, TVariables, TContext>,
  queryClient?: QueryClient,
): UseMutationResult<TData, TError, TVariables, TContext> {
  const mutation = useQueryMutation(options, queryClient);
  const inFlight = useRef(false);
  const { mutateAsync } = mutation;
  const mutate = useCallback<typeof mutation.mutate>(
    (...args) => {
      if (inFlight.current) return;
      inFlight.current = true;
      // What TanStack's own `mutate` is: `mutateAsync` with its rejection left to the callbacks and the state.
      mutateAsync(...args)
        .catch(() => {})
        .finally(() => {
          inFlight.current = false;
        });
    },
    [mutateAsync],
  );
  return { ...mutation, mutate };
}
