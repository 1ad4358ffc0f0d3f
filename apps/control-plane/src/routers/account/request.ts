import type { AccountRequest } from "@mcp/core";
import type { TrpcContext } from "../../trpc/context.ts";

/** What core's account functions want to know of the request. */
export const request = (ctx: TrpcContext): AccountRequest => ({
  sessionToken: ctx.sessionToken,
  requestId: ctx.requestId,
  userAgent: ctx.userAgent,
  ip: ctx.clientIp,
});
