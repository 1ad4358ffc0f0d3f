import type { AuditRequest } from "@mcp/core";
import type { TrpcContext } from "../../trpc/context.ts";

/**
 * Where a control-plane change came from, for its audit event: the request id, the caller's address and
 * user agent, and how they signed in (a session, or which API key — its id, never the key).
 */
export function auditRequest(
  ctx: Pick<TrpcContext, "requestId" | "clientIp" | "userAgent" | "actor">,
): AuditRequest {
  return {
    requestId: ctx.requestId,
    ip: ctx.clientIp,
    userAgent: ctx.userAgent,
    ...(ctx.actor && { actorKind: ctx.actor.via }),
    ...(ctx.actor?.keyId && { actorKeyId: ctx.actor.keyId }),
  };
}
