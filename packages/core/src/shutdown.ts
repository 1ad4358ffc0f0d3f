/**
 * Runs `stop` once on SIGINT/SIGTERM, then exits: servers stop accepting, buffered audit events are
 * flushed and pools closed before the process goes (a deploy must not lose them).
 */
export function onShutdown(stop: () => Promise<void>, log: { error(msg: string, f?: object): void }): void {
  let stopping = false;
  const handler = async () => {
    if (stopping) return;
    stopping = true;
    try {
      await stop();
      process.exit(0);
    } catch (error) {
      log.error("shutdown failed", { error });
      process.exit(1);
    }
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
}
