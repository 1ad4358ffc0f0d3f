import { useState } from "react";

/** A fixed [from, to) window ending now, computed once per mount so the query key stays stable. */
export function useWindow(hours: number): { from: string; to: string } {
  const [range] = useState(() => {
    const to = new Date();
    return { from: new Date(to.getTime() - hours * 3_600_000).toISOString(), to: to.toISOString() };
  });
  return range;
}
