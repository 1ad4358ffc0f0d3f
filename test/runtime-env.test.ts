// relaunchWithRuntimeEnv (apps/edge/src/runtime-env.ts), which gives `bun run dev`'s process the edge's
// runtime settings: run through a fixture script (test/fixtures/relaunched.ts) in real processes: relaunched
// with the settings when they are missing, an operator's own value kept, signals passed on, the exit code
// handed back, and no process left behind when the launcher is killed.
import { afterEach, describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { EDGE_RUNTIME_ENV } from "@mcp/edge";
import { alive, waitFor } from "../packages/services/src/stdio/test-helpers.ts";

const FIXTURE = resolve(import.meta.dir, "fixtures/relaunched.ts");
const SETTING = "BUN_JSC_useWarmUpMarkedBlocks";

interface Served {
  pid: number;
  ppid: number;
  setting: string | null;
  maxHttpRequests: string | null;
  fetchesPastHeld: boolean | null;
  launcherVar: string | null;
  execArgv: string[];
}

const started: Bun.Subprocess[] = [];
const servers: number[] = [];
afterEach(() => {
  for (const proc of started.splice(0)) proc.kill("SIGKILL");
  for (const pid of servers.splice(0)) if (alive(pid)) process.kill(pid, "SIGKILL");
});

/**
 * Starts the fixture with `setting` (or without it), `extra` in its environment and `flags` for the runtime;
 * resolves once the serving process printed its line.
 */
async function launch(setting: string | undefined, extra: Record<string, string> = {}, flags: string[] = []) {
  const env: Record<string, string | undefined> = { ...process.env };
  delete env.MCP_RUNTIME_LAUNCHER_PID;
  Object.assign(env, extra);
  // The other settings of EDGE_RUNTIME_ENV are given or left out with it.
  for (const [name, value] of Object.entries(EDGE_RUNTIME_ENV)) {
    if (setting === undefined) delete env[name];
    else env[name] = name === SETTING ? setting : value;
  }
  const proc = Bun.spawn([process.execPath, ...flags, FIXTURE], { env, stdout: "pipe", stderr: "inherit" });
  started.push(proc);
  const lines = linesOf(proc.stdout);
  const first = await lines.next();
  if (first.done) throw new Error(`the fixture printed nothing (exit ${await proc.exited})`);
  const served = JSON.parse(first.value) as Served;
  servers.push(served.pid);
  return { proc, served, lines };
}

async function* linesOf(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let text = "";
  const reader = stream.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    text += decoder.decode(value, { stream: true });
    for (let end = text.indexOf("\n"); end >= 0; end = text.indexOf("\n")) {
      yield text.slice(0, end);
      text = text.slice(end + 1);
    }
  }
}

/** Waits (bounded) until `pid` is gone. */
const gone = (pid: number) => waitFor(() => !alive(pid), 15_000);

describe("relaunchWithRuntimeEnv", () => {
  test("EDGE_RUNTIME_ENV names the settings the edges start with", () => {
    expect(EDGE_RUNTIME_ENV).toEqual({ [SETTING]: "false", BUN_CONFIG_MAX_HTTP_REQUESTS: "4096" });
  });

  test("with BUN_CONFIG_MAX_HTTP_REQUESTS, a fetch still goes through while 300 others hold streams open (without it: not past 256)", async () => {
    const relaunched = await launch(undefined, { FIXTURE_HELD_STREAMS: "300", FIXTURE_EXIT: "0" });
    expect(relaunched.served.maxHttpRequests).toBe("4096");
    expect(relaunched.served.fetchesPastHeld).toBe(true);
    // The runtime's default, as a process started some other way has it.
    const bare = await launch(undefined, {
      FIXTURE_HELD_STREAMS: "256",
      FIXTURE_EXIT: "0",
      MCP_RUNTIME_LAUNCHER_PID: String(process.pid),
    });
    expect(bare.served.maxHttpRequests).toBeNull();
    expect(bare.served.fetchesPastHeld).toBe(false);
  }, 30_000);

  test("a setting missing from the environment: served by a child process that has it; SIGTERM passed on", async () => {
    const { proc, served, lines } = await launch(undefined);
    expect(served.pid).not.toBe(proc.pid);
    expect(served.ppid).toBe(proc.pid);
    expect(served.setting).toBe("false");
    expect(served.maxHttpRequests).toBe("4096");
    // The launcher's pid is not handed on to what the served process starts.
    expect(served.launcherVar).toBeNull();
    proc.kill("SIGTERM");
    expect((await lines.next()).value).toBe("stopped SIGTERM");
    expect(await proc.exited).toBe(0);
    expect(await gone(served.pid)).toBe(true);
  });

  test("an operator's own value wins: no second process, the value kept", async () => {
    const { proc, served, lines } = await launch("true");
    expect(served.pid).toBe(proc.pid);
    expect(served.setting).toBe("true");
    proc.kill("SIGINT");
    expect((await lines.next()).value).toBe("stopped SIGINT");
    expect(await proc.exited).toBe(0);
  });

  test("SIGINT to the launcher alone reaches the served process, which stops once", async () => {
    const { proc, served, lines } = await launch(undefined);
    proc.kill("SIGINT");
    expect((await lines.next()).value).toBe("stopped SIGINT");
    expect(await proc.exited).toBe(0);
    // Nothing more was printed: one stop.
    expect((await lines.next()).done).toBe(true);
    expect(await gone(served.pid)).toBe(true);
  });

  test("the runtime's own flags reach the served process", async () => {
    const { proc, served } = await launch(undefined, {}, ["--smol"]);
    expect(served.ppid).toBe(proc.pid);
    expect(served.execArgv).toContain("--smol");
  });

  test("a served process killed by a signal: the launcher exits with 128 + its number, as a shell says it", async () => {
    const { proc, served } = await launch(undefined);
    process.kill(served.pid, "SIGKILL");
    expect(await proc.exited).toBe(128 + 9);
  });

  test("a process that is itself relaunched never relaunches again, even with the setting missing", async () => {
    // As if this test process were its launcher (it is the fixture's parent, so the fixture stays up).
    const { proc, served } = await launch(undefined, { MCP_RUNTIME_LAUNCHER_PID: String(process.pid) });
    expect(served.pid).toBe(proc.pid);
    expect(served.setting).toBeNull();
  });

  test("the served process's exit code is the launcher's", async () => {
    const { proc, served } = await launch(undefined, { FIXTURE_EXIT: "3" });
    expect(served.ppid).toBe(proc.pid);
    expect(await proc.exited).toBe(3);
  });

  test("a launcher killed outright (SIGKILL) leaves no served process behind: it stops itself", async () => {
    const { proc, served, lines } = await launch(undefined);
    proc.kill("SIGKILL");
    await proc.exited;
    // Its shutdown ran (SIGTERM to itself), rather than a kill from outside.
    expect((await lines.next()).value).toBe("stopped SIGTERM");
    expect(await gone(served.pid)).toBe(true);
  });
});
