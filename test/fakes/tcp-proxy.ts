import { connect, createServer, type Socket } from "node:net";

/**
 * A TCP proxy on 127.0.0.1 in front of a real server (PostgreSQL, say), that a test can cut and mend: `down()`
 * drops every open connection and stops listening (connections are refused, as at a crashed server's port),
 * `up()` listens on the same port again. Only this proxy's clients see the outage; the server itself and its
 * other clients never do.
 */
export interface TcpProxy {
  port: number;
  down(): void;
  up(): Promise<void>;
  stop(): Promise<void>;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const open = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(targetPort, targetHost);
    for (const [a, b] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      open.add(a);
      a.pipe(b);
      a.on("error", () => b.destroy());
      a.on("close", () => {
        open.delete(a);
        b.destroy();
      });
    }
  });
  const listen = (port: number) => new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  await listen(0);
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("proxy has no port");
  const { port } = address;
  const down = () => {
    if (server.listening) server.close();
    for (const socket of open) socket.destroy();
    open.clear();
  };
  return {
    port,
    down,
    up: () => (server.listening ? Promise.resolve() : listen(port)),
    async stop() {
      down();
    },
  };
}
