import {
  AppError,
  databaseUnavailable,
  ERRORS,
  type ErrorCode,
  isDatabaseUnavailable,
  type Logger,
} from "@mcp/core";
import { TRPC_ERROR_CODES_BY_KEY } from "@trpc/server/rpc";
import type { ErrorHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { HonoEnv } from "../deps.ts";

export interface ErrorBody {
  error: string;
  code: ErrorCode;
  requestId?: string;
  issues?: { path: (string | number)[]; message: string }[];
}

/** Renders every error as `{ error, code, requestId }`; only 5xx are logged, with their stack. */
export function errorBody(code: ErrorCode, message: string, requestId?: string): ErrorBody {
  return { error: message, code, ...(requestId && { requestId }) };
}

/** Bugs are logged with their stack; an expected outage (upstream down) only as a warning. */
export function logFailure(log: Logger | undefined, app: AppError, fields: Record<string, unknown>): void {
  if (app.code === "INTERNAL") log?.error("request failed", fields);
  else if (app.status >= 500) log?.warn("request failed", { ...fields, code: app.code, error: app.message });
}

export function onError(): ErrorHandler<HonoEnv> {
  return (err, c) => {
    const requestId = c.var.requestId;
    let app: AppError;
    if (err instanceof AppError) app = err;
    else if (err instanceof HTTPException && err.status === 413)
      app = new AppError("PAYLOAD_TOO_LARGE", "Request body too large");
    else if (err instanceof HTTPException && err.status < 500)
      app = new AppError("BAD_REQUEST", err.message || "Bad request");
    else if (isDatabaseUnavailable(err)) app = databaseUnavailable(err);
    else app = new AppError("INTERNAL", "Internal error", { cause: err });
    logFailure(c.var.deps?.log, app, { requestId, path: c.req.path, error: err });
    if (app.retryAfterMs) c.header("retry-after", String(Math.ceil(app.retryAfterMs / 1000)));
    // Errors raised before tRPC runs (bad bearer, CSRF, body limit) must still reach tRPC clients in
    // tRPC's shape, or the SDK cannot read their code. A non-array body answers every call of a batch.
    if (c.req.path.startsWith("/trpc/")) {
      const trpc = ERRORS[app.code].trpc;
      const data = { code: trpc, httpStatus: app.status, appCode: app.code };
      const error = { message: app.message, code: TRPC_ERROR_CODES_BY_KEY[trpc], data };
      return c.json({ error }, app.status as ContentfulStatusCode);
    }
    return c.json(
      errorBody(app.code, app.message, requestId),
      ERRORS[app.code].status as ContentfulStatusCode,
    );
  };
}
