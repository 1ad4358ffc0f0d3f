// The embedded database (PGlite under DATA_DIR) is one process's: a second PGlite on the same folder is not
// refused by PGlite itself, and each writes its own state over the other's (a `keys:rotate` run beside
// `bun run dev` reported `done` and was undone when dev stopped). So the folder is locked before PGlite opens
// it: `DATA_DIR/pglite.lock`, created with O_EXCL, holds the owner's pid and (on Linux) its start time. A lock
// whose process is gone, or whose pid now names another process (a different start time), is stale and
// taken over; one whose process lives is refused with one line naming it.
import { closeSync, openSync, readFileSync, realpathSync, statSync, unlinkSync, writeSync } from "node:fs";
import { join, resolve } from "node:path";

export const LOCK_FILE = "pglite.lock";

export interface DataDirLock {
  readonly path: string;
  /** Removes the lock file if it is still this one; safe to call more than once. */
  release(): void;
}

interface Holder {
  pid: number;
  /** Start time from /proc/<pid>/stat (clock ticks since boot), when known: tells a reused pid apart. */
  start?: string;
}

/** Lock files held by this process, by path: a second open of the same folder here is refused, not stale. */
const held = new Set<string>();

/** Field 22 of /proc/<pid>/stat (after the command name, which may hold spaces or parentheses), or undefined. */
function procStat(pid: number): { state: string; start: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const state = fields[0];
    const start = fields[19];
    return state && start && /^\d+$/.test(start) ? { state, start } : undefined;
  } catch {
    return undefined;
  }
}

function parse(text: string): Holder | undefined {
  const [pid, start] = text.trim().split(/\s+/);
  if (!pid || !/^\d+$/.test(pid) || Number(pid) <= 0 || !Number.isSafeInteger(Number(pid))) return undefined;
  return { pid: Number(pid), ...(start && /^\d+$/.test(start) && { start }) };
}

/** Whether the process that wrote the lock still runs (best effort: a live pid with an unknown start counts). */
function alive(holder: Holder): boolean {
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    // EPERM: it exists, under another user.
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  const stat = procStat(holder.pid);
  if (!stat) return true;
  // A zombie holds no file open any more.
  if (stat.state === "Z" || stat.state === "X") return false;
  return holder.start === undefined || holder.start === stat.start;
}

function readLock(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {}
}

/** Creates `path` only if it does not exist, with `content`; false when it exists. */
function create(path: string, content: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, "wx");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
  return true;
}

const ageMs = (path: string) => {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return 0;
  }
};

export function inUseMessage(dataDir: string, pid: number): string {
  return (
    `DATA_DIR ${dataDir} is in use by process ${pid} (another bun run dev, or a script); ` +
    "stop it first, or use another DATA_DIR"
  );
}

/**
 * Takes `<dataDir>/pglite.lock` for this process, or throws an Error naming the process that holds it. The
 * lock goes when `release()` is called or the process exits (a process killed outright leaves it behind, and
 * the next one takes it over).
 */
export function lockDataDir(dataDir: string): DataDirLock {
  const dir = resolve(dataDir);
  // Held locks are known by the folder's real path: a symlink to an open folder is the same folder.
  let real = dir;
  try {
    real = realpathSync(dir);
  } catch {}
  const path = join(real, LOCK_FILE);
  if (held.has(path)) {
    throw new Error(
      `DATA_DIR ${dir} is already open in this process; close that database before opening it again`,
    );
  }
  const start = procStat(process.pid)?.start;
  const mine = `${process.pid}${start ? ` ${start}` : ""}\n`;
  // Two processes may find the same stale lock at once: only the one holding `.takeover` removes it, and
  // only if it is still the lock it found stale (a lock just taken by the other is left alone).
  const guard = `${path}.takeover`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (create(path, mine)) break;
    const found = readLock(path);
    if (found === undefined) continue; // released meanwhile: try again
    const holder = parse(found);
    // A live holder is refused, unless it is this pid (which holds nothing here: `held` was checked, so
    // that lock was left by an earlier process that had this pid, as a restarted container's often does).
    if (holder && holder.pid !== process.pid && alive(holder)) throw new Error(inUseMessage(dir, holder.pid));
    // Unreadable content: a process may be between creating the file and writing its pid. Wait for it a
    // moment; a file still unreadable after that is a leftover.
    if (!holder && ageMs(path) < 2_000 && Date.now() < deadline) {
      Bun.sleepSync(20);
      continue;
    }
    if (create(guard, `${process.pid}\n`)) {
      try {
        if (readLock(path) === found) unlinkQuietly(path);
      } finally {
        unlinkQuietly(guard);
      }
    } else {
      // Another process is taking the lock over; a guard left by one that died there goes after 10 s.
      if (ageMs(guard) > 10_000) unlinkQuietly(guard);
      if (Date.now() > deadline) throw new Error(`DATA_DIR ${dir}: could not take over the stale ${path}`);
      Bun.sleepSync(20);
    }
  }
  held.add(path);
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    held.delete(path);
    process.off("exit", release);
    // Only this process's lock: never one another process took over meanwhile.
    try {
      if (readLock(path) === mine) unlinkSync(path);
    } catch {}
  };
  process.on("exit", release);
  return { path, release };
}
