// Child process: the edge alone, as production runs it (apps/edge/src/main.ts in a process of its own), on the
// same PostgreSQL and Redis as the stack child and with its encryption key, so it serves the stack's
// instances. Used by the idle-streams step when DATABASE_URL and REDIS_URL are set: the resident set it
// reads is then the edge's only (the stack child also holds the control plane and the harness's fakes).
import { ready } from "../common.ts";

// The idle-streams step asks for a full GC before each reading (see servers/edge.ts).
process.on("SIGUSR2", () => Bun.gc(true));

// A free port: taken by a throwaway listener, then given to the edge.
const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
const port = probe.port;
probe.stop(true);

Object.assign(process.env, {
  PORT: String(port),
  HOST: "127.0.0.1",
  // The harness's key (test/harness.ts): the stack child sealed the instances' credentials with it.
  ENCRYPTION_KEYS: "v1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
  ALLOW_PRIVATE_UPSTREAMS: "1",
  HEALTH_CHECK_INTERVAL_MS: "0",
  // stdout carries the ready line.
  LOG_LEVEL: "error",
});
await import("../../../apps/edge/src/main.ts");

const url = `http://127.0.0.1:${port}`;
for (const deadline = Date.now() + 30_000; ; await Bun.sleep(100)) {
  const ok = await fetch(`${url}/health`)
    .then((res) => res.ok)
    .catch(() => false);
  if (ok) break;
  if (Date.now() > deadline) throw new Error("the edge did not become healthy");
}
ready({ url });
