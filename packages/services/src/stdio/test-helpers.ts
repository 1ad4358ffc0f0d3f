import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type StdioServerConfig, stdioServerConfigSchema } from "./config.ts";
import type { StdioLogger } from "./stderr.ts";
import type { StdioEvent, StdioRequest } from "./types.ts";

const here = import.meta.dir;
const modules = join(here, "..", "..", "node_modules", "@modelcontextprotocol");
export const MEMORY_ENTRY = join(modules, "server-memory", "dist", "index.js");
export const EVERYTHING_ENTRY = join(modules, "server-everything", "dist", "index.js");
export const FIXTURE = join(here, "fixtures", "server.ts");

export const schema = stdioServerConfigSchema();

/** The memory server keeps its graph in a file: each process gets its own, in its private home. */
export const memoryConfig = (command: "bun" | "node" = "bun"): StdioServerConfig =>
  schema.parse({ command, args: [MEMORY_ENTRY], env: { MEMORY_FILE_PATH: "{home}/memory.jsonl" } });

export const fixtureConfig = (mode: string, env: Record<string, string> = {}): StdioServerConfig =>
  schema.parse({ command: "bun", args: [FIXTURE, mode], env });

let n = 0;
export function request(config: StdioServerConfig, over: Partial<StdioRequest> = {}): StdioRequest {
  n++;
  return {
    userId: `user-${n}`,
    serviceType: "test",
    credentialId: `cred-${n}`,
    config,
    credential: { apiKey: `sk-test-${n}-${crypto.randomUUID()}` },
    ...over,
  };
}

export interface LogLine {
  level: string;
  msg: string;
  fields?: Record<string, unknown>;
}

export function memoryLogger(): StdioLogger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) => {
    lines.push({ level, msg, ...(fields && { fields }) });
  };
  return { lines, info: at("info"), warn: at("warn"), error: at("error") };
}

export function eventLog(): { events: StdioEvent[]; onEvent: (e: StdioEvent) => void } {
  const events: StdioEvent[] = [];
  return { events, onEvent: (e) => events.push(e) };
}

/** Polls until `check` holds (bounded); returns whether it did. */
export async function waitFor(check: () => boolean, timeoutMs = 20_000): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (check()) return true;
    await Bun.sleep(25);
  }
  return check();
}

/** True while a process with this pid exists (a zombie counts: it would be a leak too). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function text(result: unknown): string {
  const content = (result as { content?: Array<{ type: string; text?: string }> }).content ?? [];
  return content.map((c) => c.text ?? "").join("");
}

/** Pids of this process's direct children, read from /proc (what really runs, not what the pool says). */
export function childPids(): number[] {
  const out: number[] = [];
  for (const entry of new Bun.Glob("[0-9]*").scanSync({ cwd: "/proc", onlyFiles: false })) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // Fields after the command (which may hold spaces) start after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === process.pid) out.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}
