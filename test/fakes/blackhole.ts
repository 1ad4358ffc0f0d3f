/**
 * A TCP port that never accepts: a socket listening with a backlog of 0 that nobody accepts on, its one
 * pending slot taken by a first connection, so every later SYN is dropped and a client's connect hangs, as
 * with a black-holed host or a dead load balancer. Bun cannot listen without accepting, so python3 (on every
 * machine this runs on) holds the socket; it exits when stopped or when this process goes away.
 */
export interface Blackhole {
  url: string;
  stop(): void;
}

export async function startBlackhole(): Promise<Blackhole> {
  const child = Bun.spawn(
    [
      "python3",
      "-c",
      [
        "import socket, sys",
        "s = socket.socket()",
        "s.bind(('127.0.0.1', 0))",
        "s.listen(0)",
        "print(s.getsockname()[1], flush=True)",
        "sys.stdin.read()",
      ].join("\n"),
    ],
    { stdin: "pipe", stdout: "pipe", stderr: "inherit" },
  );
  const reader = child.stdout.getReader();
  const first = await reader.read();
  reader.releaseLock();
  const port = Number(new TextDecoder().decode(first.value).trim());
  if (!Number.isInteger(port) || port <= 0) throw new Error("blackhole did not start");
  // The one pending connection the backlog holds; from now on connects hang.
  const filler = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
  return {
    url: `http://127.0.0.1:${port}`,
    stop() {
      filler.end();
      child.kill();
    },
  };
}
