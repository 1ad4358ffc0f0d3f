// The active organisation: kept in localStorage, sent as X-Org-Id on every API call (none = the user's
// personal organisation). Components re-render on change through useSyncExternalStore.
import { useSyncExternalStore } from "react";

const KEY = "mcp.activeOrg";
const listeners = new Set<() => void>();

function read(): string | null {
  try {
    return localStorage.getItem(KEY);
  } catch {
    return null;
  }
}

let active: string | null = read();
/** The dashboard left the organisation it acted in because the user is no longer in it (Shell says so). */
let fellBack = false;

export function activeOrg(): string | null {
  return active;
}

/**
 * Acts in `orgId` from now on (null: the personal organisation). `lost`: the user is no longer a member of the
 * organisation the dashboard acted in (removed elsewhere), which the page says until the next choice.
 */
export function setActiveOrg(orgId: string | null, lost = false): void {
  active = orgId;
  fellBack = lost;
  try {
    if (orgId) localStorage.setItem(KEY, orgId);
    else localStorage.removeItem(KEY);
  } catch {
    // Private mode: the choice lasts for this page only.
  }
  for (const l of listeners) l();
}

export function useActiveOrg(): string | null {
  return useSyncExternalStore((l) => {
    listeners.add(l);
    return () => listeners.delete(l);
  }, activeOrg);
}

/** Whether the dashboard fell back to the personal organisation because the user left the active one. */
export function useOrgLost(): boolean {
  return useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    () => fellBack,
  );
}
