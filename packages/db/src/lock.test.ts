// The embedded database is one process's (data-dir-lock.ts): a second process on the same DATA_DIR is
// refused with one line naming the holder, a lock left by a process that is gone is taken over, and the lock
// goes when the database closes or its process exits.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { sql } from "drizzle-orm";
import { createDatabase, type Database } from "./client.ts";
import { inUseMessage, LOCK_FILE } from "./data-dir-lock.ts";

const CLIENT = resolve(import.meta.dir, "client.ts");
const LINUX = existsSync("/proc/self/stat");
const scratch = mkdtempSync(join(tmpdir(), "pglite-lock-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
// One folder for every test (a new database takes seconds to create); each test leaves it closed and unlocked.
const dir = join(scratch, "data");
beforeAll(async () => {
  const database = createDatabase({ DATA_DIR: dir });
  await database.db.execute(sql`create table marks (pid int)`);
  await database.close();
}, 60_000);

/**
 * Another process opening the embedded database under `dir` (as `bun run dev` or a `keys:*` script does):
 * prints the refusal's message and exits 1, or writes a row, prints `opened` and then, by `then`, closes and
 * exits 0 (`close`), exits without closing (`exit`), or waits to be killed (`wait`).
 */
function other(dir: string, then: "close" | "exit" | "wait" = "close") {
  const code = `
    const { createDatabase } = await import(${JSON.stringify(CLIENT)});
    const { sql } = await import("drizzle-orm");
    let database;
    try {
      database = createDatabase({ DATA_DIR: ${JSON.stringify(dir)} });
    } catch (error) {
      console.error(error.message);
      process.exit(1);
    }
    await database.db.execute(sql\`insert into marks values (\${process.pid})\`);
    console.log("opened");
    if (${JSON.stringify(then)} === "close") { await database.close(); process.exit(0); }
    if (${JSON.stringify(then)} === "exit") process.exit(0);
    setInterval(() => {}, 1000);
  `;
  // No DATABASE_URL: always the embedded database, whatever the environment of the test run.
  const env = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" };
  return Bun.spawn([process.execPath, "-e", code], {
    cwd: import.meta.dir,
    env,
    stdout: "pipe",
    stderr: "pipe",
  });
}

async function finished(proc: ReturnType<typeof other>) {
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { stdout, stderr, code };
}

/** Waits for `opened` on a process's stdout (the database is open and written), failing if it exits first. */
async function opened(proc: ReturnType<typeof other>) {
  const reader = proc.stdout.getReader();
  let text = "";
  while (!text.includes("opened")) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`exited before opening: ${await new Response(proc.stderr).text()}`);
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
}

const marks = async (database: Database) => {
  const result = (await database.db.execute(sql`select pid from marks order by pid`)) as unknown as {
    rows: { pid: number }[];
  };
  return result.rows.map((r) => r.pid);
};

async function clearMarks() {
  const database = createDatabase({ DATA_DIR: dir });
  try {
    await database.db.execute(sql`delete from marks`);
  } finally {
    await database.close();
  }
}

/** The pid in the lock file. */
const lockOwner = () => Number(readFileSync(join(dir, LOCK_FILE), "utf8").split(/\s/)[0]);

/** A pid that no process has any more: a process's that has exited. */
async function deadPid() {
  const proc = Bun.spawn([process.execPath, "-e", ""]);
  await proc.exited;
  return proc.pid;
}

describe("the embedded database under DATA_DIR is one process's", () => {
  test("a second process is refused while the first holds it, with the holder's pid; then opens once it closes", async () => {
    await clearMarks();
    const first = createDatabase({ DATA_DIR: dir });
    try {
      const refused = await finished(other(dir));
      expect({ code: refused.code, stderr: refused.stderr.trim() }).toEqual({
        code: 1,
        stderr:
          `DATA_DIR ${resolve(dir)} is in use by process ${process.pid} (another bun run dev, or a script); ` +
          "stop it first, or use another DATA_DIR",
      });
      // The refused process wrote nothing, and left the holder's lock in place.
      expect(await marks(first)).toEqual([]);
      expect(lockOwner()).toBe(process.pid);
    } finally {
      await first.close();
    }
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    const next = other(dir);
    const after = await finished(next);
    expect(after).toMatchObject({ code: 0, stdout: "opened\n" });
    // Its write is there, and its lock went with its close.
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    const reopened = createDatabase({ DATA_DIR: dir });
    try {
      expect(await marks(reopened)).toEqual([next.pid]);
    } finally {
      await reopened.close();
    }
  }, 60_000);

  test("a process that holds it refuses this one; killed outright, its lock is stale and taken over", async () => {
    await clearMarks();
    const holder = other(dir, "wait");
    try {
      await opened(holder);
      expect(() => createDatabase({ DATA_DIR: dir })).toThrow(inUseMessage(resolve(dir), holder.pid));
      // A symlink to the folder is the same folder.
      const link = join(scratch, "link");
      symlinkSync(resolve(dir), link);
      expect(() => createDatabase({ DATA_DIR: link })).toThrow(`is in use by process ${holder.pid}`);
    } finally {
      holder.kill("SIGKILL");
      await holder.exited;
    }
    // SIGKILL runs no exit handler: the lock stays behind, naming a process that is gone.
    expect(lockOwner()).toBe(holder.pid);
    const database = createDatabase({ DATA_DIR: dir });
    try {
      expect(lockOwner()).toBe(process.pid);
      expect(await marks(database)).toEqual([holder.pid]);
    } finally {
      await database.close();
    }
  }, 60_000);

  test("a lock naming a dead pid, or left empty, is taken over", async () => {
    for (const content of [`${await deadPid()}\n`, `${await deadPid()} 12345\n`, "", "garbage\n"]) {
      writeFileSync(join(dir, LOCK_FILE), content);
      // Without a pid it could be a process between creating the file and writing to it: only an old one is
      // a leftover (a young one is waited for, 2 s).
      const old = new Date(Date.now() - 60_000);
      utimesSync(join(dir, LOCK_FILE), old, old);
      const database = createDatabase({ DATA_DIR: dir });
      expect(lockOwner()).toBe(process.pid);
      await database.close();
      expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    }
  }, 60_000);

  test.skipIf(!LINUX)(
    "a live pid with another start time is a reused pid, taken over; with its own start time, refused",
    async () => {
      const live = Bun.spawn(["sleep", "60"]);
      try {
        const stat = readFileSync(`/proc/${live.pid}/stat`, "utf8");
        const start = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
        writeFileSync(join(dir, LOCK_FILE), `${live.pid} ${start}\n`);
        expect(() => createDatabase({ DATA_DIR: dir })).toThrow(inUseMessage(resolve(dir), live.pid));
        // The pid's process started at another time than the lock's owner: not the owner.
        writeFileSync(join(dir, LOCK_FILE), `${live.pid} ${Number(start) + 1}\n`);
        const database = createDatabase({ DATA_DIR: dir });
        expect(lockOwner()).toBe(process.pid);
        await database.close();
      } finally {
        live.kill();
        await live.exited;
      }
    },
    60_000,
  );

  test("the lock goes when its process exits without closing", async () => {
    const exited = await finished(other(dir, "exit"));
    expect(exited).toMatchObject({ code: 0, stdout: "opened\n" });
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  }, 60_000);

  test("in one process: a second open of the folder is refused until the first closes; in-memory ones take no lock", async () => {
    const first = createDatabase({ DATA_DIR: dir });
    expect(() => createDatabase({ DATA_DIR: dir })).toThrow(
      `DATA_DIR ${resolve(dir)} is already open in this process`,
    );
    await first.close();
    const again = createDatabase({ DATA_DIR: dir });
    await again.close();

    const a = createDatabase({ memory: true, DATA_DIR: dir });
    const b = createDatabase({ memory: true, DATA_DIR: dir });
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    await Promise.all([a.close(), b.close()]);
  }, 60_000);
});
