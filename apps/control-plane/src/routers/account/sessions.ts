import { listSessions } from "@mcp/core";
import { z } from "zod";
import { sessionProcedure } from "../../trpc/init.ts";
import { ZNoInput, zTimestamp } from "../../trpc/schemas.ts";
import { request } from "./request.ts";

export const ZSessionsOutput = z.array(
  z.object({
    /** `ses_…`: names the session for `account.revokeSession`; never the cookie's secret or its hash. */
    id: z.string(),
    createdAt: zTimestamp,
    expiresAt: zTimestamp,
    current: z.boolean(),
    userAgent: z.string().nullable(),
    ip: z.string().nullable(),
  }),
);

/** The caller's unexpired sessions, newest first (at most 100). */
export const sessionsProcedure = sessionProcedure
  .input(ZNoInput)
  .output(ZSessionsOutput)
  .query(({ ctx }) => listSessions(ctx.deps, ctx.actor, request(ctx)));
