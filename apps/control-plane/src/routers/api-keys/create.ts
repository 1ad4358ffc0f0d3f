import { createApiKey } from "@mcp/core";
import { z } from "zod";
import { sessionProcedure } from "../../trpc/init.ts";
import { orThrow } from "../../trpc/result.ts";
import { auditRequest } from "../audit/request.ts";
import { ZApiKeySummary, zApiKeyExpiry, zApiKeyScopes } from "./schemas.ts";

export const ZCreateApiKeyInput = z.strictObject({
  name: z.string().trim().min(1).max(64),
  /** Omitted → every scope. */
  scopes: zApiKeyScopes.optional(),
  /** Omitted or null → the key never expires. */
  expiresAt: zApiKeyExpiry.nullable().optional(),
});
export const ZCreateApiKeyOutput = ZApiKeySummary.extend({
  /** Shown once. */
  key: z.string(),
});

/** Session only: a key cannot mint keys (see `sessionProcedure`). */
export const createApiKeyProcedure = sessionProcedure
  .input(ZCreateApiKeyInput)
  .output(ZCreateApiKeyOutput)
  .mutation(async ({ ctx, input }) =>
    orThrow(await createApiKey(ctx.deps, ctx.actor, input, auditRequest(ctx))),
  );
