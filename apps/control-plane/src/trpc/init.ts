import { AppError, ERRORS, type ErrorCode, isErrorCode } from "@mcp/core";
import { initTRPC, TRPCError } from "@trpc/server";
import { z } from "zod";
import type { TrpcContext } from "./context.ts";

const t = initTRPC.context<TrpcContext>().create({
  errorFormatter({ shape, error }) {
    const app = error.cause instanceof AppError ? error.cause : undefined;
    const zodIssues = error.cause instanceof z.ZodError ? error.cause.issues : undefined;
    const appCode: ErrorCode = app?.code ?? (zodIssues ? "BAD_REQUEST" : fromTrpc(error.code));
    const internal = appCode === "INTERNAL";
    return {
      ...shape,
      message: internal ? "Internal error" : shape.message,
      data: {
        code: shape.data.code,
        httpStatus: ERRORS[appCode].status,
        appCode,
        ...(zodIssues && {
          issues: zodIssues.map((i) => ({ path: i.path, message: i.message, code: i.code })),
        }),
      },
    };
  },
});

function fromTrpc(code: TRPCError["code"]): ErrorCode {
  const match = Object.entries(ERRORS).find(([, v]) => v.trpc === code)?.[0];
  return isErrorCode(match) ? match : "INTERNAL";
}

/** Turns a domain AppError into a TRPCError carrying it, so the formatter can render its code. */
export function toTrpc(error: AppError): TRPCError {
  return new TRPCError({ code: ERRORS[error.code].trpc, message: error.message, cause: error });
}

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;
export const publicProcedure = t.procedure;

export const authedProcedure = t.procedure.use(({ ctx, next }) => {
  if (!ctx.actor) throw toTrpc(new AppError("UNAUTHORIZED", "Sign in or send an API key"));
  return next({ ctx: { ...ctx, actor: ctx.actor } });
});
