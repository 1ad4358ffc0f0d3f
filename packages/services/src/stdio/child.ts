import { type ChildProcess, spawn } from "node:child_process";
import {
  deserializeMessage,
  type JSONRPCMessage,
  serializeMessage,
  type Transport,
} from "@modelcontextprotocol/client";

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ChildOptions {
  command: string;
  args: string[];
  /** The child's whole environment: nothing of the parent's is added. */
  env: Record<string, string>;
  cwd: string;
  /** One stdout line (one JSON-RPC message) may not be longer. */
  maxMessageBytes: number;
  /** Lines on stdout that are not JSON-RPC tolerated before the child is killed. */
  maxBadLines: number;
  onStderr: (chunk: Buffer) => void;
}

/**
 * A stdio client transport that owns its child outright, unlike the SDK's `StdioClientTransport`: the
 * environment is exactly the one given (the SDK's adds the parent's HOME, PATH, USER, SHELL, ...), the child
 * leads its own process group (so a helper it forks dies with it), the exit code and signal are kept, stdout
 * is bounded per message and in garbage, and `kill()` escalates SIGTERM → SIGKILL and waits for the exit.
 * It also never spawns a sibling process for version negotiation (the SDK does so only for its own class).
 */
export class ChildTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: <T extends JSONRPCMessage>(message: T) => void;

  /** Set when stdout proved unusable (garbage, an oversized message); the child is then killed. */
  badOutput: string | undefined;
  /** Set once the child has exited. */
  exit: ChildExit | undefined;
  readonly exited: Promise<ChildExit>;

  private child: ChildProcess | undefined;
  private resolveExit!: (exit: ChildExit) => void;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private badLines = 0;

  constructor(private readonly opts: ChildOptions) {
    this.exited = new Promise((resolve) => {
      this.resolveExit = resolve;
    });
  }

  /** Structural marks the SDK reads to treat this as a stdio transport (process-aware probe verdicts). */
  get pid(): number | null {
    return this.child?.pid ?? null;
  }
  get stderr(): null {
    return null;
  }
  /** Lines on stdout so far that were not JSON-RPC. */
  get garbageLines(): number {
    return this.badLines;
  }

  start(): Promise<void> {
    if (this.child) throw new Error("ChildTransport already started");
    return new Promise((resolve, reject) => {
      const child = spawn(this.opts.command, this.opts.args, {
        env: this.opts.env,
        cwd: this.opts.cwd,
        stdio: ["pipe", "pipe", "pipe"],
        detached: true,
        shell: false,
      });
      this.child = child;
      child.once("spawn", () => resolve());
      child.once("error", (error) => {
        this.finish({ code: null, signal: null });
        reject(error);
        this.onerror?.(error);
      });
      child.once("exit", (code, signal) => this.finish({ code, signal }));
      child.once("close", () => this.onclose?.());
      child.stdout?.on("data", (chunk: Buffer) => this.read(chunk));
      child.stderr?.on("data", (chunk: Buffer) => this.opts.onStderr(chunk));
      // EPIPE after the child died: the exit is reported through `exited`/onclose.
      child.stdin?.on("error", () => {});
      child.stdout?.on("error", () => {});
      child.stderr?.on("error", () => {});
    });
  }

  send(message: JSONRPCMessage): Promise<void> {
    const stdin = this.child?.stdin;
    if (!stdin || this.exit || stdin.destroyed)
      return Promise.reject(new Error("the stdio server is not running"));
    return new Promise((resolve) => {
      if (stdin.write(serializeMessage(message))) resolve();
      else stdin.once("drain", () => resolve());
    });
  }

  close(): Promise<void> {
    return this.kill(2000).then(() => {});
  }

  /** SIGTERM to the child's group, SIGKILL after `graceMs`, then waits for the exit (0 = SIGKILL at once). */
  async kill(graceMs: number): Promise<ChildExit> {
    if (!this.child || this.child.pid === undefined) return this.exit ?? { code: null, signal: null };
    if (!this.exit) {
      this.signal(graceMs > 0 ? "SIGTERM" : "SIGKILL");
      if (graceMs > 0) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const late = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, graceMs);
        });
        await Promise.race([this.exited, late]);
        clearTimeout(timer);
        if (!this.exit) this.signal("SIGKILL");
      }
    }
    return this.exited;
  }

  private signal(sig: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (pid === undefined || this.exit) return;
    try {
      process.kill(-pid, sig);
    } catch {
      try {
        this.child?.kill(sig);
      } catch {
        // Already gone.
      }
    }
  }

  private finish(exit: ChildExit): void {
    if (this.exit) return;
    this.exit = exit;
    // Whatever the leader left in its group goes with it.
    const pid = this.child?.pid;
    if (pid !== undefined) {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // No group left.
      }
    }
    this.resolveExit(exit);
  }

  private unusable(reason: string): void {
    if (this.badOutput) return;
    this.badOutput = reason;
    this.pending = [];
    this.pendingBytes = 0;
    this.signal("SIGKILL");
    this.onerror?.(new Error(reason));
  }

  private read(chunk: Buffer): void {
    let rest = chunk;
    while (!this.badOutput) {
      const newline = rest.indexOf(10);
      if (newline === -1) {
        this.pendingBytes += rest.length;
        if (this.pendingBytes > this.opts.maxMessageBytes) {
          this.unusable(`sent a message over ${this.opts.maxMessageBytes} bytes on stdout`);
        } else if (rest.length > 0) this.pending.push(rest);
        return;
      }
      const head = rest.subarray(0, newline);
      const size = this.pendingBytes + head.length;
      const line = this.pending.length > 0 ? Buffer.concat([...this.pending, head], size) : head;
      this.pending = [];
      this.pendingBytes = 0;
      rest = rest.subarray(newline + 1);
      if (size > this.opts.maxMessageBytes) {
        this.unusable(`sent a message over ${this.opts.maxMessageBytes} bytes on stdout`);
        return;
      }
      this.line(line.toString("utf8").replace(/\r$/, ""));
    }
  }

  private line(text: string): void {
    if (text.trim() === "") return;
    let message: JSONRPCMessage;
    try {
      message = deserializeMessage(text);
    } catch {
      this.badLines++;
      if (this.badLines > this.opts.maxBadLines) {
        this.unusable(`printed ${this.badLines} lines on stdout that are not JSON-RPC`);
      }
      return;
    }
    this.onmessage?.(message);
  }
}
