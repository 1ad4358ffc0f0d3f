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

export function activeOrg(): string | null {
  return active;
}

export function setActiveOrg(orgId: string | null): void {
  active = orgId;
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
