import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import {
  Client,
  type JsonSchemaValidator,
  type jsonSchemaValidator,
  type PriorDiscovery,
} from "@modelcontextprotocol/client";
import { createRedactor } from "../redact.ts";
import { RELAY_CLIENT_OPTIONS } from "../remote-mcp.ts";
import { ChildTransport } from "./child.ts";
import { renderEnv, SAFE_PATH } from "./config.ts";
import { runtimeFlags } from "./memory.ts";
import { createStderrSink, type StderrLimits, type StdioLogger } from "./stderr.ts";
import type { StdioRequest, StdioResult } from "./types.ts";

const CLIENT_INFO = { name: "mcp-platform-gateway", version: "0.1.0" };

/** The gateway relays results; the end client validates them (see remote-mcp.ts for why). */
const passThrough: jsonSchemaValidator = {
  getValidator<T>(): JsonSchemaValidator<T> {
    return (data) => ({ valid: true, data: data as T, errorMessage: undefined });
  },
};

export interface SpawnSettings {
  logger: StdioLogger;
  tmpDir: string;
  memoryLimitBytes: number;
  startTimeoutMs: number;
  killGraceMs: number;
  maxMessageBytes: number;
  maxGarbageLines: number;
  stderr: StderrLimits;
  negotiation: "auto" | "legacy";
}

export interface Running {
  transport: ChildTransport;
  /** Settles once the child has exited and its home is removed. */
  done: Promise<void>;
  client: Client;
  pid: number;
  home: string;
  startedAt: number;
}

/** The whole environment of a child: a fixed safe base plus the definition's variables. */
export function childEnv(home: string, named: Record<string, string>): Record<string, string> {
  return { ...named, PATH: SAFE_PATH, HOME: home, TMPDIR: join(home, "tmp"), LANG: "C.UTF-8" };
}

/**
 * Spawns one server for one credential in its own temp home and connects a client to it. On any failure
 * the child is killed and awaited and its home removed before this returns: nothing is left behind.
 * `track` sees the transport as soon as it exists, so a pool closing meanwhile can kill it.
 */
export async function spawnServer(
  request: StdioRequest,
  settings: SpawnSettings,
  prior: PriorDiscovery | undefined,
  track: (transport: ChildTransport, done: Promise<void>) => void,
): Promise<StdioResult<Running>> {
  const slot = `${request.serviceType}/${request.credentialId}`;
  const home = await mkdtemp(join(settings.tmpDir, "mcp-stdio-"));
  await mkdir(join(home, "tmp"));
  const rendered = renderEnv(request.config, request.credential, home);
  if (!rendered.ok) {
    await rm(home, { recursive: true, force: true });
    return { ok: false, error: { code: "BAD_CONFIG", message: rendered.reason } };
  }
  const redactor = createRedactor([
    request.credential.apiKey,
    ...Object.values(request.credential.additional ?? {}),
  ]);
  const sink = createStderrSink(
    (line, dropped) =>
      settings.logger.info("stdio server stderr", {
        slot,
        userId: request.userId,
        line,
        ...(dropped > 0 && { dropped }),
      }),
    redactor,
    settings.stderr,
  );
  const { config } = request;
  const transport = new ChildTransport({
    command: config.command,
    args: [...runtimeFlags(config.runtime, settings.memoryLimitBytes), ...config.args],
    env: childEnv(home, rendered.env),
    cwd: home,
    maxMessageBytes: settings.maxMessageBytes,
    maxBadLines: settings.maxGarbageLines,
    onStderr: (chunk) => sink.write(chunk),
  });
  const done = transport.exited.then(async () => {
    sink.end();
    await rm(home, { recursive: true, force: true }).catch(() => {});
  });
  track(transport, done);

  const client = new Client(CLIENT_INFO, {
    versionNegotiation: { mode: settings.negotiation },
    jsonSchemaValidator: passThrough,
    ...RELAY_CLIENT_OPTIONS,
  });
  // A hung `initialize` (or probe) is bounded twice: the SDK's request timeout and a kill at the deadline.
  let timedOut = false;
  const deadline = setTimeout(() => {
    timedOut = true;
    void transport.kill(0);
  }, settings.startTimeoutMs + 500);
  try {
    await client.connect(transport, { timeout: settings.startTimeoutMs, ...(prior && { prior }) });
    clearTimeout(deadline);
    const pid = transport.pid;
    if (pid === null || transport.exit) throw new Error("exited during start-up");
    return { ok: true, value: { transport, done, client, pid, home, startedAt: Date.now() } };
  } catch (error) {
    clearTimeout(deadline);
    const exitBeforeKill = transport.exit;
    await transport.kill(0);
    await client.close().catch(() => {});
    await done;
    const message = startFailure(transport, timedOut ? undefined : exitBeforeKill, error);
    settings.logger.warn("stdio server failed to start", { slot, userId: request.userId, ...message });
    return { ok: false, error: message };
  }
}

function startFailure(
  transport: ChildTransport,
  exit: ChildTransport["exit"],
  error: unknown,
): { code: "BAD_OUTPUT" | "EXITED" | "START_TIMEOUT"; message: string } {
  if (transport.badOutput) return { code: "BAD_OUTPUT", message: `The server ${transport.badOutput}` };
  if (transport.garbageLines > 0) {
    return {
      code: "BAD_OUTPUT",
      message: `The server printed ${transport.garbageLines} lines on stdout that are not JSON-RPC and never answered initialize`,
    };
  }
  if (exit) {
    const how = exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
    return { code: "EXITED", message: `The server exited during start-up (${how})` };
  }
  // A failed spawn is a system error (ENOENT, EACCES), distinct from the SDK's own error codes.
  if (error instanceof Error && "syscall" in error && "code" in error) {
    return { code: "EXITED", message: `The server could not be started (${String(error.code)})` };
  }
  return { code: "START_TIMEOUT", message: "The server did not answer initialize in time" };
}
