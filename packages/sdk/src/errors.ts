import type { AppRouter } from "@mcp/control-plane/router";
import { TRPCClientError } from "@trpc/client";

/** The `error` of a tRPC error answer, as the control plane's error formatter shapes it. */
export interface ErrorShape {
  message: string;
  code: number;
  data: {
    code: string;
    httpStatus: number;
    appCode?: string;
    retryAfterMs?: number;
    issues?: ValidationIssue[];
    [key: string]: unknown;
  };
}

export interface ValidationIssue {
  path: (string | number)[];
  message: string;
  code?: string;
}

export interface ErrorFields {
  /** The platform's code (`NOT_FOUND`, `INVALID_API_KEY`, …), or `CONNECTION_ERROR` / `TIMEOUT` / `ABORTED`. */
  code: string;
  /** The HTTP status, when an answer arrived. */
  status?: number;
  /** The control plane's request id (quote it in a support request). */
  requestId?: string;
  /** The server's error answer, when there was one. */
  shape?: ErrorShape;
  retryAfterMs?: number;
  cause?: unknown;
}

/**
 * Base of every error the SDK throws. Extends tRPC's `TRPCClientError`, so `error.data.appCode` and
 * `isTRPCClientError()` keep working; prefer `instanceof NotFoundError` etc. and `code`.
 */
export class McpPlatformError extends TRPCClientError<AppRouter> {
  readonly code: string;
  readonly status: number | undefined;
  readonly requestId: string | undefined;
  /**
   * How long the server asked the caller to wait before trying again (its `Retry-After`, or `retryAfterMs` of
   * its answer), when it said: a 429, a 503 (a backend or service down), a 409 for an `Idempotency-Key` whose
   * first request still runs.
   */
  readonly retryAfterMs: number | undefined;

  constructor(message: string, fields: ErrorFields) {
    super(message, {
      cause: fields.cause instanceof Error ? fields.cause : undefined,
      ...(fields.shape && { result: { error: fields.shape } as never }),
    });
    // TRPCClientError's constructor resets the prototype to its own: restore the subclass's.
    Object.setPrototypeOf(this, new.target.prototype);
    this.name = new.target.name;
    this.code = fields.code;
    this.status = fields.status;
    this.requestId = fields.requestId;
    this.retryAfterMs = fields.retryAfterMs;
  }
}

/** 400/413: the input failed validation (`issues` names the fields), or the upstream rejected a key. */
export class ValidationError extends McpPlatformError {
  readonly issues: ValidationIssue[];
  constructor(message: string, fields: ErrorFields) {
    super(message, fields);
    this.issues = fields.shape?.data.issues ?? [];
  }
}
/** 401: no, bad, expired or revoked API key. */
export class AuthenticationError extends McpPlatformError {}
/** 403: the API key lacks a scope, or the action needs a signed-in session. */
export class PermissionError extends McpPlatformError {}
/** 404: no such resource (or it belongs to someone else). */
export class NotFoundError extends McpPlatformError {}
/** 409 CONFLICT, or 422 IDEMPOTENCY_CONFLICT (an `Idempotency-Key` reused with a different request). */
export class ConflictError extends McpPlatformError {}
/** 429: too many requests; `retryAfterMs` says when to try again. */
export class RateLimitError extends McpPlatformError {}
/** 500: a bug on the server; details are in its log under `requestId`. */
export class InternalServerError extends McpPlatformError {}
/** 502/503/504: the upstream or a backend is down; retried automatically. */
export class ServiceUnavailableError extends McpPlatformError {}
/** The server could not be reached (refused, reset, DNS); retried automatically. */
export class ConnectionError extends McpPlatformError {}
/** No answer within `timeout` (or a 408 from the server); retried automatically. */
export class TimeoutError extends McpPlatformError {}
/** The caller's `signal` aborted the call; never retried. */
export class AbortedError extends McpPlatformError {}

type ErrorClass = new (message: string, fields: ErrorFields) => McpPlatformError;

const BY_CODE: Record<string, ErrorClass> = {
  BAD_REQUEST: ValidationError,
  INVALID_API_KEY: ValidationError,
  PAYLOAD_TOO_LARGE: ValidationError,
  METHOD_NOT_ALLOWED: ValidationError,
  UNAUTHORIZED: AuthenticationError,
  INVALID_INSTANCE: AuthenticationError,
  EXPIRED_CREDENTIALS: AuthenticationError,
  FORBIDDEN: PermissionError,
  NOT_FOUND: NotFoundError,
  CONFLICT: ConflictError,
  IDEMPOTENCY_CONFLICT: ConflictError,
  TIMEOUT: TimeoutError,
  RATE_LIMIT_EXCEEDED: RateLimitError,
  INTERNAL: InternalServerError,
  SERVICE_UNAVAILABLE: ServiceUnavailableError,
};

/** The code an HTTP status stands for when the answer names none (a proxy's HTML error page, say). */
function codeForStatus(status: number): string {
  if (status === 401) return "UNAUTHORIZED";
  if (status === 403) return "FORBIDDEN";
  if (status === 404) return "NOT_FOUND";
  if (status === 405) return "METHOD_NOT_ALLOWED";
  if (status === 408) return "TIMEOUT";
  if (status === 409) return "CONFLICT";
  if (status === 413) return "PAYLOAD_TOO_LARGE";
  if (status === 429) return "RATE_LIMIT_EXCEEDED";
  if (status === 500) return "INTERNAL";
  if (status > 500) return "SERVICE_UNAVAILABLE";
  return "BAD_REQUEST";
}

/** The typed error for an HTTP answer that failed (`shape`: its tRPC error, when it sent one). */
export function errorFromResponse(
  status: number,
  shape: ErrorShape | undefined,
  requestId: string | undefined,
  retryAfterMs: number | undefined,
): McpPlatformError {
  const code = shape?.data.appCode ?? codeForStatus(status);
  const Class = BY_CODE[code] ?? BY_CODE[codeForStatus(status)] ?? McpPlatformError;
  const message = shape?.message ?? `HTTP ${status}`;
  return new Class(message, { code, status, requestId, shape, retryAfterMs });
}

/** The platform's error code carried by a failed call (`INVALID_API_KEY`, `NOT_FOUND`, …), if any. */
export function errorCode(error: unknown): string | undefined {
  if (error instanceof McpPlatformError) return error.code;
  if (!(error instanceof TRPCClientError)) return undefined;
  const data: unknown = error.data;
  return typeof data === "object" && data !== null && "appCode" in data ? String(data.appCode) : undefined;
}
