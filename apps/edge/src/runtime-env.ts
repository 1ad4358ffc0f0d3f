// The Bun runtime's settings an edge process starts with, and how a script that serves an edge in its own
// process (`bun run dev`) gets them. Nothing here imports the rest of the edge: a launcher loads this alone.
import { constants } from "node:os";

/**
 * The Bun runtime's settings an edge process starts with. The runtime reads them when the process starts, so
 * whatever starts edges sets them (the PM2 ecosystem, `bun run bench`, `bun run dev` through
 * `relaunchWithRuntimeEnv`); an operator's own value in that environment wins.
 * - `BUN_JSC_useWarmUpMarkedBlocks=false`: no JavaScriptCore thread faulting in GC heap blocks ahead of the
 *   allocator. Under an edge's load that thread cost more CPU than it saved: the edge alone on PostgreSQL +
 *   Redis, 64 connections, two edges alternating (2026-12-02), CPU per uncached call 383 → 277 µs (its main
 *   thread's 241 → 218), a cached read 131 → 106, a relayed call 649 → 554; README → Speed.
 * - `BUN_CONFIG_MAX_HTTP_REQUESTS=4096`: how many of the process's `fetch` requests may be open at once (the
 *   runtime's default is 256; past it every further fetch waits). An edge holds one open for as long as a
 *   relayed connection lives (a legacy server's event stream, a listen stream), so 256 of those, from any
 *   users, stalled every upstream call of the process: every user's Figma call waited. Our own bounds keep an
 *   edge under 4096: relayed requests in flight, all instances together (`limits.relayInFlight`, 2048), 500
 *   pooled relay connections per relaying source (users' servers, each remote MCP service) with one standing
 *   stream each at most (a legacy server's event stream, or a 2026-07-28 server's list-change listen), 512
 *   resource listen streams to 2026-07-28 servers (MAX_RESOURCE_LISTENS_PER_PROCESS), 50 connections per REST
 *   service's pool: 2048 + 2 × 500 + 512 + 8 × 50 = 3960 with today's catalog.
 */
export const EDGE_RUNTIME_ENV: Readonly<Record<string, string>> = {
  BUN_JSC_useWarmUpMarkedBlocks: "false",
  BUN_CONFIG_MAX_HTTP_REQUESTS: "4096",
};

/** In a relaunched process's environment: its launcher's pid (it outlives the launcher by 1 s at most). */
const LAUNCHER_PID = "MCP_RUNTIME_LAUNCHER_PID";
const FORWARDED = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/**
 * For a script that serves an edge in its own process: when a setting of `EDGE_RUNTIME_ENV` is missing from
 * this process's environment, runs the same script again in a child process that has it, passes SIGINT,
 * SIGTERM and SIGHUP on to it, and resolves to the child's exit code once it has exited (the caller
 * exits with it, and serves nothing itself). Resolves to undefined when every setting is there: the caller
 * goes on and serves. A relaunched process stops (SIGTERM to itself, so its shutdown runs) if its launcher
 * goes away without passing a signal on (SIGKILL), rather than holding its ports with no one to stop it.
 * The command line is this process's own (`process.execPath`, the runtime's flags in `process.execArgv`,
 * `process.argv`); a child killed by a signal exits the launcher with 128 + its number, as a shell reports it.
 * A relaunched process never relaunches again: should a setting still be missing there, it serves as it is.
 */
export async function relaunchWithRuntimeEnv(): Promise<number | undefined> {
  const missing = Object.entries(EDGE_RUNTIME_ENV).filter(([name]) => process.env[name] === undefined);
  if (missing.length === 0 || process.env[LAUNCHER_PID] !== undefined) {
    watchLauncher();
    return undefined;
  }
  const child = Bun.spawn([process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    env: { ...process.env, ...Object.fromEntries(missing), [LAUNCHER_PID]: String(process.pid) },
    stdio: ["inherit", "inherit", "inherit"],
  });
  // Ctrl-C in a terminal reaches both processes (one process group); a signal sent to this one alone is
  // passed on. Either way the child stops once (its shutdown handler runs once), and this one waits for it.
  for (const signal of FORWARDED) process.on(signal, () => child.kill(signal));
  const code = await child.exited;
  const signal = child.signalCode;
  return signal ? 128 + (constants.signals[signal as keyof typeof constants.signals] ?? 0) : code;
}

/** In a relaunched process: stop when the launcher that started it is gone (this process re-parented). */
function watchLauncher(): void {
  const launcher = Number(process.env[LAUNCHER_PID]);
  // Not handed on to the processes this one starts (a dashboard build, a stdio MCP server).
  delete process.env[LAUNCHER_PID];
  if (!Number.isInteger(launcher) || launcher <= 0) return;
  const timer = setInterval(() => {
    if (process.ppid === launcher) return;
    clearInterval(timer);
    process.kill(process.pid, "SIGTERM");
  }, 1_000);
  timer.unref();
}
