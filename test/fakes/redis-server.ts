// A redis-server of the test's own, on its own port, that the test can stop and start again (never the
// shared Redis on 6379): what a Redis outage looks like from the platform's side.
import type { Subprocess } from "bun";

export interface OwnRedis {
  url: string;
  port: number;
  /** Kills the server (SIGKILL: an outage, not a shutdown) and waits for it to be gone. */
  stop(): Promise<void>;
  /** Starts it again on the same port (empty: nothing is persisted) and waits until it accepts connections. */
  start(): Promise<void>;
}

export const redisServerPath = Bun.which("redis-server");

async function freePort(): Promise<number> {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const { port } = server;
  server.stop(true);
  return port;
}

async function accepts(port: number): Promise<boolean> {
  try {
    const socket = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
    socket.end();
    return true;
  } catch {
    return false;
  }
}

export async function startOwnRedis(): Promise<OwnRedis> {
  if (!redisServerPath) throw new Error("redis-server is not installed");
  const binary = redisServerPath;
  const port = await freePort();
  let proc: Subprocess | undefined;
  const own: OwnRedis = {
    url: `redis://127.0.0.1:${port}`,
    port,
    async start() {
      proc = Bun.spawn(
        [binary, "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        { stdout: "ignore", stderr: "ignore" },
      );
      for (let i = 0; !(await accepts(port)); i++) {
        if (i > 500 || proc.exitCode !== null) throw new Error(`redis-server did not start on ${port}`);
        await Bun.sleep(10);
      }
    },
    async stop() {
      if (!proc) return;
      proc.kill("SIGKILL");
      await proc.exited;
      proc = undefined;
    },
  };
  await own.start();
  return own;
}
