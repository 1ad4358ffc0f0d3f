// What the benchmark's processes share: the ready line a child prints, the exit-with-the-parent rule, and
// the one tool every server under test exposes (`get_file_nodes`, answered by the fake Figma upstream).

/** Environment a child reads: the fake upstream's base URL (every server calls the same process). */
export const UPSTREAM_ENV = "BENCH_UPSTREAM_URL";

/**
 * The edge's environment for a benchmark: the limits are what is measured around, not what is measured, so
 * an operator lifts them all (0 = unlimited), the per-address guessing limit included (the 401 scenario
 * sends one bad token from one address as fast as it can).
 */
export const LIFTED_LIMITS: Record<string, string> = {
  RATE_LIMIT_PER_INSTANCE: "0",
  RATE_LIMIT_PER_USER: "0",
  RATE_LIMIT_INVALID_TOKENS: "0",
  SERVICE_FIGMA_RATE_LIMIT: "0",
};

/** The file every uncached call reads; the fake holds it under FAKE_FILE_KEY. */
export { FAKE_FIGMA_KEY, FAKE_FILE_KEY } from "../fakes/figma.ts";

/**
 * Announces a child as ready: one JSON line on stdout (the parent reads only that line). The child also
 * exits when its standard input closes, so it never outlives the benchmark, however that ends.
 */
export function ready(info: Record<string, unknown>, stop?: () => Promise<void> | void): void {
  process.stdout.write(`${JSON.stringify({ ...info, pid: process.pid })}\n`);
  const exit = async () => {
    await Promise.resolve(stop?.()).catch(() => {});
    process.exit(0);
  };
  process.stdin.on("end", exit);
  process.stdin.on("close", exit);
  process.stdin.resume();
  process.on("SIGTERM", exit);
  process.on("SIGINT", exit);
}

export function upstreamUrl(): string {
  const url = process.env[UPSTREAM_ENV];
  if (!url) throw new Error(`${UPSTREAM_ENV} is not set`);
  return url;
}

/** The upstream request every server makes for one `get_file_nodes` call: its answer, as text. */
export async function fetchNodes(base: string, figmaKey: string, fileKey: string, ids: string) {
  const url = `${base}/v1/files/${encodeURIComponent(fileKey)}/nodes?ids=${encodeURIComponent(ids)}`;
  const res = await fetch(url, { headers: { "x-figma-token": figmaKey } });
  const text = await res.text();
  return { ok: res.ok, status: res.status, text };
}

/** The token segment of `/{token}/mcp`, or null. */
function pathToken(url: string): string | null {
  const { pathname } = new URL(url);
  const match = /^\/([^/]+)\/mcp$/.exec(pathname);
  return match?.[1] ?? null;
}

/** A loopback server answering `/<token>/mcp` with `handle` (the token is the upstream key), 404 elsewhere. */
export function serveByToken(handle: (req: Request, token: string) => Response | Promise<Response>) {
  return Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 60,
    fetch(req) {
      const token = pathToken(req.url);
      if (token === null) return new Response("not found", { status: 404 });
      return handle(req, token);
    },
  });
}
