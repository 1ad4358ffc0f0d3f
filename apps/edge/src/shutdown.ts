/** How long requests in flight get to finish after SIGTERM before what is left is cut (PM2 waits 15 s). */
export const SHUTDOWN_GRACE_MS = 10_000;

interface Stoppable {
  stop(closeActiveConnections?: boolean): Promise<void> | void;
}

/**
 * An edge's graceful stop: `/ready` turns 503 at once (a balancer stops sending), the listeners stop taking
 * connections, and requests in flight get `graceMs` to finish. A long-lived stream (a 2025-era session's GET
 * stream, a 2026-07-28 listen stream) never finishes by itself and would hold the listener's stop forever (PM2
 * then kills the process, and the audit events it still buffers are lost): once the requests are done, or the
 * grace is over, the edge's sessions and relays are closed, which ends those streams (their clients reconnect
 * elsewhere), the connections still open are cut, and the edge flushes its audit log. `servers`: every listener
 * of the process (the metrics port; the control plane too under `bun run dev`), stopped the same way.
 */
export async function stopEdge(
  edge: { drain(): void; close(): Promise<void> },
  servers: (Stoppable | undefined)[],
  graceMs = SHUTDOWN_GRACE_MS,
): Promise<void> {
  edge.drain();
  const listening = servers.filter((s): s is Stoppable => s !== undefined);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stopped = Promise.all(listening.map((s) => s.stop())).then(() => true);
  const graceOver = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), graceMs);
  });
  // Streams hold the stop: they end when the edge closes, so whichever comes first — every connection done,
  // or the grace over — the edge is closed, then whatever is still open is cut.
  const drained = await Promise.race([stopped, graceOver]);
  clearTimeout(timer);
  await edge.close();
  if (!drained) await Promise.all(listening.map((s) => s.stop(true)));
}
