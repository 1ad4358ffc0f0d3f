import { connect, createServer, type Server, type Socket } from "node:net";

/**
 * A TCP proxy on 127.0.0.1 in front of a real server (PostgreSQL, say), that a test can cut and mend: `down()`
 * drops every open connection and closes the listener (connections are refused, as at a crashed server's
 * port), `up()` listens on the same port again with a fresh listener. Only this proxy's clients see the
 * outage; the server itself and its other clients never do.
 */
export interface TcpProxy {
  port: number;
  /** While true, a new connection is closed at once; the open ones keep going (a server refusing newcomers). */
  refuseNew: boolean;
  /** The local ports of the proxy's own connections to the server (how the server's client list names them). */
  upstreamPorts(): Set<number>;
  down(): Promise<void>;
  up(): Promise<void>;
  stop(): Promise<void>;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const open = new Set<Socket>();
  const upstreams = new Set<Socket>();
  const forward = (client: Socket) => {
    if (proxy.refuseNew) return void client.destroy();
    const upstream = connect(targetPort, targetHost);
    upstreams.add(upstream);
    for (const [a, b] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      open.add(a);
      a.pipe(b);
      a.on("error", () => b.destroy());
      a.on("close", () => {
        open.delete(a);
        upstreams.delete(a);
        b.destroy();
      });
    }
  };
  let server: Server | undefined;

  /** A fresh listener on `port` (0: any); a port still held by the old one is retried for a while. */
  async function listen(port: number): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      const candidate = createServer(forward);
      try {
        await new Promise<void>((resolve, reject) => {
          candidate.once("error", reject);
          candidate.listen(port, "127.0.0.1", () => resolve());
        });
        server = candidate;
        const address = candidate.address();
        if (!address || typeof address === "string") throw new Error("proxy has no port");
        return address.port;
      } catch (error) {
        if (attempt >= 40) throw error;
        await Bun.sleep(50);
      }
    }
  }

  async function down(): Promise<void> {
    const closing = server;
    server = undefined;
    for (const socket of open) socket.destroy();
    open.clear();
    if (closing) await new Promise<void>((resolve) => closing.close(() => resolve()));
  }

  const proxy: TcpProxy = {
    port: 0,
    refuseNew: false,
    upstreamPorts: () => new Set([...upstreams].map((s) => s.localPort ?? -1)),
    down,
    up: async () => {
      if (!server) await listen(proxy.port);
    },
    stop: down,
  };
  proxy.port = await listen(0);
  return proxy;
}
