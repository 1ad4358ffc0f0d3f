/** The closed set of error codes; each maps once to an HTTP status and a tRPC code. */
export const ERRORS = {
  BAD_REQUEST: { status: 400, trpc: "BAD_REQUEST" },
  INVALID_API_KEY: { status: 400, trpc: "BAD_REQUEST" },
  UNAUTHORIZED: { status: 401, trpc: "UNAUTHORIZED" },
  INVALID_INSTANCE: { status: 401, trpc: "UNAUTHORIZED" },
  EXPIRED_CREDENTIALS: { status: 401, trpc: "UNAUTHORIZED" },
  FORBIDDEN: { status: 403, trpc: "FORBIDDEN" },
  NOT_FOUND: { status: 404, trpc: "NOT_FOUND" },
  /** A REST route called with a method it does not serve (with `Allow`), or a tRPC mutation sent as GET. */
  METHOD_NOT_ALLOWED: { status: 405, trpc: "METHOD_NOT_SUPPORTED" },
  CONFLICT: { status: 409, trpc: "CONFLICT" },
  PAYLOAD_TOO_LARGE: { status: 413, trpc: "PAYLOAD_TOO_LARGE" },
  /** An `Idempotency-Key` reused with a different request (method, path or body). */
  IDEMPOTENCY_CONFLICT: { status: 422, trpc: "UNPROCESSABLE_CONTENT" },
  RATE_LIMIT_EXCEEDED: { status: 429, trpc: "TOO_MANY_REQUESTS" },
  INTERNAL: { status: 500, trpc: "INTERNAL_SERVER_ERROR" },
  SERVICE_UNAVAILABLE: { status: 503, trpc: "SERVICE_UNAVAILABLE" },
} as const;

export type ErrorCode = keyof typeof ERRORS;
export type TrpcCode = (typeof ERRORS)[ErrorCode]["trpc"];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && Object.hasOwn(ERRORS, value);
}

/** The one error class that crosses layers. Its message is safe to show; causes stay in logs. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryAfterMs?: number;

  constructor(code: ErrorCode, message: string, opts: { cause?: unknown; retryAfterMs?: number } = {}) {
    super(message, { cause: opts.cause });
    this.name = "AppError";
    this.code = code;
    this.status = ERRORS[code].status;
    this.retryAfterMs = opts.retryAfterMs;
  }
}

/** Expected failures in domain code come back as values; exceptions are for bugs. */
export type Result<T, C extends ErrorCode = ErrorCode> =
  | { ok: true; value: T }
  | { ok: false; code: C; message: string; retryAfterMs?: number };

export const ok = <T>(value: T): { ok: true; value: T } => ({ ok: true, value });
/** A failure; `retryAfterMs` when the caller should come back after a known wait (a 503's Retry-After). */
export const fail = <C extends ErrorCode>(
  code: C,
  message: string,
  opts: { retryAfterMs?: number } = {},
): { ok: false; code: C; message: string; retryAfterMs?: number } => ({
  ok: false,
  code,
  message,
  ...(opts.retryAfterMs !== undefined && { retryAfterMs: opts.retryAfterMs }),
});

/** Turns a failed result into an AppError at the boundary (a procedure or a route). */
export function unwrap<T>(result: Result<T>): T {
  if (result.ok) return result.value;
  throw new AppError(result.code, result.message, { retryAfterMs: result.retryAfterMs });
}
