import { connectCustomInstance } from "@mcp/core";
import { reservedRemoteHeader } from "@mcp/services";
import { z } from "zod";
import { scopedProcedure } from "../../trpc/init.ts";
import { limit, limitOf } from "../../trpc/limit.ts";
import { orThrow } from "../../trpc/result.ts";
import { auditRequest } from "../audit/request.ts";
import { ZIssuedInstance } from "./schemas.ts";

const zHeaderName = z
  .string()
  .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/, "not a valid header name")
  .refine((n) => !reservedRemoteHeader(n), "this header is set by the platform");
// Visible ASCII, space and tab only: no line breaks (smuggling), no bytes fetch would refuse.
const zHeaderValue = z
  .string()
  .max(4096)
  .regex(/^[\t\x20-\x7e]*$/, "header values must be printable ASCII");

export const ZConnectCustomInput = z.strictObject({
  name: z.string().trim().min(1).max(64),
  url: z
    .url({ protocol: /^https?$/, error: "url must be an http(s) URL" })
    .max(2048, "url is longer than 2048 characters"),
  headers: z
    .record(zHeaderName, zHeaderValue)
    .refine((h) => Object.keys(h).length <= 16, "at most 16 headers")
    .optional(),
});
export const ZConnectCustomOutput = ZIssuedInstance.extend({ serviceType: z.literal("custom") });

/** The user's own remote MCP server (Streamable HTTP or legacy SSE) behind a personal instance URL. */
export const connectCustomProcedure = scopedProcedure("instances:write")
  .input(ZConnectCustomInput)
  .output(ZConnectCustomOutput)
  .mutation(async ({ ctx, input }) => {
    await limit(ctx, `connect:${ctx.actor.userId}`, limitOf(ctx, "connectPerUser"));
    const issued = orThrow(await connectCustomInstance(ctx.deps, ctx.actor, input, auditRequest(ctx)));
    return { ...issued, serviceType: "custom" as const };
  });
