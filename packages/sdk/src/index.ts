export type { AppRouter, RouterInputs, RouterOutputs } from "@mcp/control-plane/router";
export { isTRPCClientError, TRPCClientError } from "@trpc/client";
export {
  type CallOptions,
  type ClientOptions,
  createClient,
  type McpPlatformClient,
  SESSION_ONLY,
} from "./client.ts";
export {
  AbortedError,
  AuthenticationError,
  ConflictError,
  ConnectionError,
  type ErrorFields,
  type ErrorShape,
  errorCode,
  InternalServerError,
  McpPlatformError,
  NotFoundError,
  PermissionError,
  RateLimitError,
  ServiceUnavailableError,
  TimeoutError,
  ValidationError,
  type ValidationIssue,
} from "./errors.ts";
export type { FetchLike } from "./link.ts";
export {
  type ArrayProcedure,
  KEYSET_LISTS,
  type Page,
  type PagedProcedure,
  paginate,
  paginateAfter,
} from "./paginate.ts";
export { type Backoff, DEFAULT_BACKOFF } from "./retry.ts";
