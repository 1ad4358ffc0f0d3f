import { AppError, type Result } from "@mcp/core";
import { toTrpc } from "./init.ts";

/** Unwraps a domain result inside a procedure: failures become TRPCErrors carrying their AppError. */
export function orThrow<T>(result: Result<T>): T {
  if (result.ok) return result.value;
  throw toTrpc(new AppError(result.code, result.message, { retryAfterMs: result.retryAfterMs }));
}
