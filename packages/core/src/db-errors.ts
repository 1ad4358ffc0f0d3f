import { AppError } from "./errors.ts";

/** `error` and its causes (at most `depth` of them in all), however the drivers and drizzle wrap them. */
function* causes(error: unknown, depth: number): Generator<unknown> {
  for (let e: unknown = error, seen = 0; e && seen < depth; seen++) {
    yield e;
    e = (e as { cause?: unknown }).cause;
  }
}

const codeOf = (e: unknown): unknown =>
  typeof e === "object" && e !== null && "code" in e ? (e as { code: unknown }).code : undefined;

/** True for a unique-constraint violation (SQLSTATE 23505) from either driver, wrapped or not. */
export function isUniqueViolation(error: unknown): boolean {
  for (const e of causes(error, 4)) if (codeOf(e) === "23505") return true;
  return false;
}

/**
 * How a lost connection to PostgreSQL shows itself: the socket errors of either driver, postgres.js's own
 * connection codes, and the server's "connection exception" (08xxx), shutdown (57P0x) and
 * too-many-connections (53300) states.
 */
const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "57P01",
  "57P02",
  "57P03",
  "53300",
]);

/** True when `error` (or a cause of it) says the database could not be reached, not that a query was wrong. */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (const e of causes(error, 5)) {
    // An error of ours already says what happened.
    if (e instanceof AppError) return false;
    const code = codeOf(e);
    if (typeof code === "string" && (CONNECTION_CODES.has(code) || /^08[0-9A-Z]{3}$/.test(code))) return true;
  }
  return false;
}

/** What a client is told to wait before retrying while the database is unreachable. */
export const DATABASE_RETRY_AFTER_MS = 5_000;

/** The 503 (with Retry-After) a request gets when the database cannot answer. */
export function databaseUnavailable(cause: unknown): AppError {
  return new AppError("SERVICE_UNAVAILABLE", "Temporarily unavailable; try again shortly", {
    cause,
    retryAfterMs: DATABASE_RETRY_AFTER_MS,
  });
}
