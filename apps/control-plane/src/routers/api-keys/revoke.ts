import { revokeApiKey } from "@mcp/core";
import { z } from "zod";
import { sessionProcedure } from "../../trpc/init.ts";
import { orThrow } from "../../trpc/result.ts";
import { auditRequest } from "../audit/request.ts";

export const ZRevokeApiKeyInput = z.strictObject({ id: z.string().min(1).max(64) });
export const ZRevokeApiKeyOutput = z.object({ id: z.string() });

export const revokeApiKeyProcedure = sessionProcedure
  .input(ZRevokeApiKeyInput)
  .output(ZRevokeApiKeyOutput)
  .mutation(async ({ ctx, input }) =>
    orThrow(await revokeApiKey(ctx.deps, ctx.actor, input, auditRequest(ctx))),
  );
