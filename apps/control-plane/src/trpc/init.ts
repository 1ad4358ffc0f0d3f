import type { ApiKeyScope } from "@mcp/core";
import {
  AppError,
  databaseUnavailable,
  ERRORS,
  type ErrorCode,
  isAdminRole,
  isDatabaseUnavailable,
  isErrorCode,
} from "@mcp/core";
import { initTRPC, TRPCError } from "@trpc/server";
import { getHTTPStatusCodeFromError } from "@trpc/server/http";
import { z } from "zod";
import type { TrpcContext } from "./context.ts";

const t = initTRPC.context<TrpcContext>().create({
  errorFormatter({ shape, error }) {
    const app = error.cause instanceof AppError ? error.cause : undefined;
    // Input that failed its schema; a ZodError behind any other code is an answer failing its output schema: a
    // bug (500 INTERNAL, details only in the log), never the caller's 400.
    const zodIssues =
      error.code === "BAD_REQUEST" && error.cause instanceof z.ZodError ? error.cause.issues : undefined;
    const appCode: ErrorCode = app?.code ?? (zodIssues ? "BAD_REQUEST" : appCodeOf(error));
    const internal = appCode === "INTERNAL";
    return {
      ...shape,
      message: internal
        ? "Internal error"
        : zodIssues
          ? issueMessage(zodIssues)
          : // The JSON parser's own message quotes the text it choked on, which may be a key sent unquoted.
            shape.data.code === "PARSE_ERROR" || error.cause instanceof SyntaxError
            ? "Input must be JSON"
            : shape.message,
      data: {
        code: shape.data.code,
        httpStatus: ERRORS[appCode].status,
        appCode,
        ...(app?.retryAfterMs && { retryAfterMs: Math.ceil(app.retryAfterMs) }),
        ...(zodIssues && {
          issues: zodIssues.map((i) => ({ path: i.path, message: i.message, code: i.code })),
        }),
      },
    };
  },
});

/** The first problem, readable: `password: password must be at least 10 characters`. */
export function issueMessage(issues: z.core.$ZodIssue[]): string {
  const first = issues[0];
  if (!first) return "Invalid input";
  return first.path.length > 0 ? `${first.path.join(".")}: ${first.message}` : first.message;
}

/** Our code for a TRPCError that carries no AppError (shared by the formatter and the REST adapter). */
export function appCodeOf(error: TRPCError): ErrorCode {
  const match = Object.entries(ERRORS).find(([, v]) => v.trpc === error.code)?.[0];
  if (isErrorCode(match)) return match;
  // A client mistake tRPC reports with a code of its own (e.g. a mutation sent as GET) stays a 4xx.
  return getHTTPStatusCodeFromError(error) < 500 ? "BAD_REQUEST" : "INTERNAL";
}

/** Turns a domain AppError into a TRPCError carrying it, so the formatter can render its code. */
export function toTrpc(error: AppError): TRPCError {
  return new TRPCError({ code: ERRORS[error.code].trpc, message: error.message, cause: error });
}

/** Input nesting walked for NUL characters, at most (the body limit bounds the rest). */
const MAX_INPUT_DEPTH = 32;

/**
 * Where a string of the input (a value or a key) holds a NUL character, which PostgreSQL's text cannot store
 * (it answered such a name with an error, a 500): checked for every procedure, and so every REST route, before
 * anything runs. Undefined when there is none.
 */
export function nulAt(value: unknown, path: PropertyKey[] = [], depth = 0): PropertyKey[] | undefined {
  if (typeof value === "string") return value.includes("\0") ? path : undefined;
  if (typeof value !== "object" || value === null || depth > MAX_INPUT_DEPTH) return undefined;
  const list = Array.isArray(value);
  for (const [key, item] of Object.entries(value)) {
    if (key.includes("\0")) return [...path, key];
    const found = nulAt(item, [...path, list ? Number(key) : key], depth + 1);
    if (found) return found;
  }
  return undefined;
}

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;
/**
 * Every procedure: an input holding a NUL character is refused first (400 naming the field, see `nulAt`). A
 * procedure that failed because PostgreSQL could not be reached answers 503 SERVICE_UNAVAILABLE with
 * Retry-After, not a 500: the client did nothing wrong and may retry. Every write is one transaction, so a
 * connection lost midway leaves nothing half-written.
 */
export const publicProcedure = t.procedure.use(async ({ ctx, next, getRawInput }) => {
  const nul = nulAt(await getRawInput());
  if (nul) {
    // Made by zod itself (a ZodError built by hand is not an Error, and tRPC would not pass it on as one).
    const { error } = z
      .unknown()
      .superRefine((_, c) =>
        c.addIssue({ code: "custom", path: nul, message: "must not contain NUL characters" }),
      )
      .safeParse(undefined);
    throw new TRPCError({ code: "BAD_REQUEST", cause: error });
  }
  const result = await next();
  if (result.ok) return result;
  // A failure that knows when to come back (a service marked down, a limit) says so in Retry-After as well.
  const cause = result.error.cause;
  if (cause instanceof AppError && cause.retryAfterMs) {
    ctx.setHeader("retry-after", String(Math.max(1, Math.ceil(cause.retryAfterMs / 1000))));
  }
  if (!isDatabaseUnavailable(cause)) return result;
  const app = databaseUnavailable(result.error.cause);
  ctx.setHeader("retry-after", String(Math.ceil((app.retryAfterMs ?? 0) / 1000)));
  throw toTrpc(app);
});

export const authedProcedure = publicProcedure.use(({ ctx, next }) => {
  if (!ctx.actor) throw toTrpc(new AppError("UNAUTHORIZED", "Sign in or send an API key"));
  return next({ ctx: { ...ctx, actor: ctx.actor } });
});

/**
 * A signed-in caller that, when it is an API key, holds `scope`: a key without it gets 403 FORBIDDEN before
 * the procedure runs (a session may do whatever its user may).
 */
export const scopedProcedure = (scope: ApiKeyScope) =>
  authedProcedure.use(({ ctx, next }) => {
    const { via, scopes } = ctx.actor;
    // Refused by default: an API-key actor without a scope list holds no scope.
    if (via === "api_key" && !scopes?.includes(scope)) {
      throw toTrpc(new AppError("FORBIDDEN", `This API key lacks the "${scope}" scope`));
    }
    return next();
  });

/**
 * A signed-in person (session cookie) only, never an API key: a leaked key must not be able to mint
 * itself successors or revoke the keys its owner would use to shut it out.
 */
export const sessionProcedure = authedProcedure.use(({ ctx, next }) => {
  if (ctx.actor.via !== "session") {
    throw toTrpc(
      new AppError(
        "FORBIDDEN",
        "This needs a signed-in session (API keys, your account and organisation membership are managed from the dashboard), not an API key",
      ),
    );
  }
  return next();
});

/**
 * An organisation-wide view (every member's audit events or usage): the caller must be an owner or admin of
 * the organisation it acts in, and an API key must also hold `org:admin`. Else 403.
 */
export function requireOrgAdmin(actor: NonNullable<TrpcContext["actor"]>): void {
  if (!isAdminRole(actor.orgRole)) {
    throw toTrpc(
      new AppError("FORBIDDEN", "Only the organisation's owners and admins see every member's activity"),
    );
  }
  if (actor.via === "api_key" && !actor.scopes?.includes("org:admin")) {
    throw toTrpc(new AppError("FORBIDDEN", 'This API key lacks the "org:admin" scope'));
  }
}
