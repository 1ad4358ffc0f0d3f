// The benchmark's processes: each child is `bun servers/<name>.ts` (or another script: the stream holder,
// clients/streams.ts), prints one JSON line (its URLs, or its result) on stdout when ready and exits when
// its standard input closes, so none outlives the benchmark.
import { readdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Subprocess } from "bun";

const READY_TIMEOUT_MS = 180_000;
const STOP_TIMEOUT_MS = 10_000;

export interface Child<T> {
  name: string;
  pid: number;
  info: T;
}

const running: { name: string; proc: Subprocess<"pipe", "pipe", "inherit"> }[] = [];

/** Starts `script` (`servers/<name>.ts`) with `env` added to this process's and waits for its ready line. */
export async function startChild<T>(
  name: string,
  env: Record<string, string> = {},
  script = resolve(import.meta.dir, "servers", `${name}.ts`),
): Promise<Child<T>> {
  const proc = Bun.spawn([process.execPath, script], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "inherit",
    env: { ...process.env, ...env },
  });
  running.push({ name, proc });
  const line = await Promise.race([
    firstLine(proc.stdout),
    proc.exited.then((code) => Promise.reject(new Error(`${name} exited with ${code} before it was ready`))),
    Bun.sleep(READY_TIMEOUT_MS).then(() => Promise.reject(new Error(`${name} not ready in time`))),
  ]);
  return { name, pid: proc.pid, info: JSON.parse(line) as T };
}

async function firstLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  const reader = stream.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error("stdout closed before the ready line");
    text += decoder.decode(value, { stream: true });
    const end = text.indexOf("\n");
    if (end >= 0) {
      reader.releaseLock();
      return text.slice(0, end);
    }
  }
}

/** SIGTERM to every child (each stops its servers), SIGKILL to any still there after STOP_TIMEOUT_MS. */
export async function stopChildren(): Promise<void> {
  const procs = running.splice(0);
  await Promise.all(
    procs.map(async ({ proc }) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill("SIGTERM");
      const exited = await Promise.race([proc.exited.then(() => true), Bun.sleep(STOP_TIMEOUT_MS)]);
      if (exited !== true) proc.kill("SIGKILL");
    }),
  );
}

export interface Memory {
  /** Resident set now, MB. */
  rssMb: number;
  /** Highest resident set since the process started (VmHWM), MB. */
  peakMb: number;
}

/** VmRSS and VmHWM of a process from /proc/<pid>/status (Linux). */
export function memoryOf(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  const mb = (k: number) => Math.round(k / 102.4) / 10;
  return { rssMb: mb(kb("VmRSS")), peakMb: mb(kb("VmHWM")) };
}

/** Clock ticks per second of /proc/<pid>/stat's CPU times (USER_HZ; 100 on Linux unless the kernel says otherwise). */
const TICKS_PER_SECOND = Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim()) || 100;

/** A process's command name and the CPU time (user + system) it has used so far, µs, from /proc/<pid>/stat. */
function statOf(pid: number): { name: string; cpuUs: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces, so it is skipped up to its closing parenthesis):
  // utime and stime are the 14th and 15th fields of the line, the 12th and 13th after it.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return {
    name: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")),
    cpuUs: (ticks * 1_000_000) / TICKS_PER_SECOND,
  };
}

/** What a process is to the benchmark, for the machine-wide CPU split of a round. */
export type CpuRole = "server" | "postgresql" | "redis" | "upstream" | "load generator" | "other";

/**
 * CPU time (µs) used so far by every process on the machine, summed by role: the server under load and the
 * upstream (by pid), the load generator (this process), PostgreSQL and Redis (by command name), and the rest
 * (the other servers, kernel threads, other tenants of the machine). A process that ends between two
 * readings drops out of the later one, so a difference is read over one round only.
 */
export function machineCpuUs(pids: { server: number; upstream: number }): Record<CpuRole, number> {
  const sums: Record<CpuRole, number> = {
    server: 0,
    postgresql: 0,
    redis: 0,
    upstream: 0,
    "load generator": 0,
    other: 0,
  };
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    let stat: { name: string; cpuUs: number };
    try {
      stat = statOf(pid);
    } catch {
      continue; // gone since the directory was read
    }
    const { name, cpuUs } = stat;
    const role: CpuRole =
      pid === pids.server
        ? "server"
        : pid === pids.upstream
          ? "upstream"
          : pid === process.pid
            ? "load generator"
            : name.startsWith("postgres")
              ? "postgresql"
              : name.startsWith("redis-server")
                ? "redis"
                : "other";
    sums[role] += cpuUs;
  }
  return sums;
}
