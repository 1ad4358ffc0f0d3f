import { readFile } from "node:fs/promises";

/** Resident set size of a process in bytes, from /proc (undefined when it is gone or /proc is absent). */
export async function residentBytes(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, "utf8");
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

/**
 * Runtime flags that keep a JavaScript child inside its memory budget and away from the project's files:
 * Node gets a V8 old-space cap below the watchdog's limit (it fails with a heap error before it is killed);
 * Bun (JavaScriptCore has no hard heap cap) runs in its low-memory mode, and never loads a `.env` file or
 * installs a package at run time. Servers run from node_modules/.bin get no flags: the watchdog bounds them.
 */
export function runtimeFlags(runtime: "bun" | "node" | "bin", memoryLimitBytes: number): string[] {
  const heapMb = Math.max(16, Math.floor((memoryLimitBytes / 1024 / 1024) * 0.75));
  if (runtime === "node") return [`--max-old-space-size=${heapMb}`];
  if (runtime === "bun") return ["--smol", "--no-env-file", "--no-install"];
  return [];
}
