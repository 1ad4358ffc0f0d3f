import { useCallback, useState } from "react";
import { errorMessage } from "./trpc.ts";

export interface ActionState {
  pending: boolean;
  error: string | undefined;
  setError: (error: string | undefined) => void;
  /**
   * Runs a mutation: marks it pending, clears the error, and records the failure message if `fn`
   * throws. Resolves to whether it succeeded; never rejects. `onPending`, when given, is told
   * instead of `pending` (for an action tracked per row, such as the key being revoked).
   */
  run: (fn: () => Promise<unknown>, onPending?: (pending: boolean) => void) => Promise<boolean>;
}

/** The write-side companion of `useAsync`: pending flag and error message for a user action. */
export function useAction(): ActionState {
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<string>();

  const run = useCallback(
    async (fn: () => Promise<unknown>, onPending: (pending: boolean) => void = setPending) => {
      onPending(true);
      setError(undefined);
      try {
        await fn();
        return true;
      } catch (err) {
        setError(errorMessage(err));
        return false;
      } finally {
        onPending(false);
      }
    },
    [],
  );

  return { pending, error, setError, run };
}
