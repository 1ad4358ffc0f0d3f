// How a long-running process (apps/control-plane/src/main.ts, apps/edge/src/main.ts, `bun run dev`) fails to
// start: one line `<process>: <message>` on stderr and exit 1, never a stack trace with source lines and never
// a secret. Nothing heavy is imported here (the logger's redaction only).
import { redact } from "./logger.ts";

/** Longest start-up line printed (a definition's schema errors can run long); the rest is cut with `…`. */
const MAX_LINE = 2_000;

/** Settings whose values are secrets (ENCRYPTION_KEYS, METRICS_TOKEN, …): never printed, whatever quotes them. */
const SECRET_SETTINGS = /(^|_)(KEYS?|TOKEN|SECRET|PASSWORD)$/;
/** URL settings (DATABASE_URL, REDIS_URL, …): their passwords are secrets. */
const URL_SETTINGS = /(^|_)URL$/;

/**
 * Runs a process's start-up (reading its settings, opening the database, binding its ports) and returns what
 * it returns. Should it throw, prints one line `name: message` on stderr (newlines folded, secrets withheld:
 * `startupFailureLine`) and exits 1. With LOG_LEVEL=debug the error's stack follows that line (for a bug met
 * during start-up), scrubbed the same way. Only the start-up is covered: no handler stays installed, so an
 * error while serving is logged (or reported by the runtime) as before.
 */
export async function startOrExit<T>(name: string, start: () => T | Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (error) {
    return exitOnStartupFailure(name, error);
  }
}

/** `startOrExit`'s failure path, for a start-up that is not one function. */
export function exitOnStartupFailure(
  name: string,
  error: unknown,
  source: Record<string, string | undefined> = process.env,
): never {
  let out = `${startupFailureLine(name, error, source)}\n`;
  // LOG_LEVEL read as written: the failure may be the environment's parse itself.
  if (source.LOG_LEVEL === "debug" && error instanceof Error && error.stack)
    out += `${withoutSecrets(error.stack, source)}\n`;
  process.stderr.write(out);
  process.exit(1);
}

/**
 * The one line a failed start prints: `name: message`. A database error says it is the database's (the
 * server's own words: `database "mcp" does not exist`, `role "x" does not exist`, `connect ECONNREFUSED
 * 127.0.0.1:5432`; never the URL or its password), and no secret setting's value (`DATABASE_URL`'s password,
 * `ENCRYPTION_KEYS` material, `METRICS_TOKEN`, …) nor any URL's password appears, whatever the message held.
 */
export function startupFailureLine(
  name: string,
  error: unknown,
  source: Record<string, string | undefined> = process.env,
): string {
  const raw = error instanceof Error ? error.message : String(error);
  let message = withoutSecrets(raw, source)
    .replace(/\s*\n\s*/g, " ")
    .trim();
  if (message === "") message = error instanceof Error ? error.name : "start-up failed";
  if (isDatabaseError(error, source)) message = `PostgreSQL (DATABASE_URL): ${message}`;
  const line = `${name}: ${message}`;
  return line.length > MAX_LINE ? `${line.slice(0, MAX_LINE - 1)}…` : line;
}

/**
 * An error of PostgreSQL or of reaching it: the server's (`PostgresError`), or a connection's whose address
 * is DATABASE_URL's host and port (postgres.js's `connect ECONNREFUSED`, `write CONNECT_TIMEOUT host:port`,
 * a DNS failure).
 */
function isDatabaseError(error: unknown, source: Record<string, string | undefined>): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === "PostgresError") return true;
  const url = source.DATABASE_URL;
  if (!url || !URL.canParse(url)) return false;
  const db = new URL(url);
  const host = db.hostname.replace(/^\[|\]$/g, "");
  const { address, hostname, port } = error as { address?: unknown; hostname?: unknown; port?: unknown };
  // The port too: Redis may well live on the same host.
  if (port !== undefined && Number(port) !== Number(db.port || 5432)) return false;
  return host !== "" && (address === host || hostname === host);
}

/**
 * `text` with the logger's redactions (a failed query's parameters, tokens), every URL's password, and the
 * value of each secret setting of `source` (and of its parts: a URL's password, each ENCRYPTION_KEYS key)
 * replaced by `[redacted]`.
 */
export function withoutSecrets(
  text: string,
  source: Record<string, string | undefined> = process.env,
): string {
  let out = (redact(text) as string).replace(
    /\b([a-z][a-z0-9+.-]*:\/\/[^\s:@/]*):[^\s@/]*@/gi,
    "$1:[redacted]@",
  );
  const secrets = new Set<string>();
  for (const [name, value] of Object.entries(source)) {
    if (!value) continue;
    if (SECRET_SETTINGS.test(name)) {
      secrets.add(value);
      // ENCRYPTION_KEYS=v2:<base64>,v1:<base64>: each key alone too.
      for (const entry of value.split(",")) secrets.add(entry.trim().replace(/^v[0-9]+:/, ""));
    } else if (URL_SETTINGS.test(name) && URL.canParse(value)) {
      const { password } = new URL(value);
      if (!password) continue;
      secrets.add(value);
      secrets.add(password);
      try {
        secrets.add(decodeURIComponent(password));
      } catch {
        // A malformed percent-encoding: the raw password is withheld already.
      }
    }
  }
  // Longest first, so a value is withheld whole before a part of it is; short values would match by chance.
  for (const secret of [...secrets].filter((s) => s.length >= 6).sort((a, b) => b.length - a.length))
    out = out.split(secret).join("[redacted]");
  return out;
}

/**
 * `serve()` (a `Bun.serve` call) whose failure names the setting to change: a port in use is `portSetting`'s
 * fault; an address that cannot be bound (EINVAL, EADDRNOTAVAIL) is `hostSetting`'s.
 */
export function listenOrThrow<T>(
  what: string,
  at: { host: string; port: number; portSetting: string; hostSetting: string },
  serve: () => T,
): T {
  try {
    return serve();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const hint = /EADDRINUSE|in use/i.test(message)
      ? `set ${at.portSetting} to a free port`
      : `check ${at.hostSetting}: it must be an address of this machine (127.0.0.1, 0.0.0.0, …)`;
    throw new Error(`could not start the ${what} on ${at.host}:${at.port}: ${message}; ${hint}`);
  }
}
