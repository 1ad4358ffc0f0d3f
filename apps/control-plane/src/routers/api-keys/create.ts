import { createApiKey } from "@mcp/core";
import { z } from "zod";
import { sessionProcedure } from "../../trpc/init.ts";
import { orThrow } from "../../trpc/result.ts";
import { zTimestamp } from "../../trpc/schemas.ts";

export const ZCreateApiKeyInput = z.object({ name: z.string().trim().min(1).max(64) });
export const ZCreateApiKeyOutput = z.object({
  id: z.string(),
  name: z.string(),
  prefix: z.string(),
  createdAt: zTimestamp,
  /** Shown once. */
  key: z.string(),
});

export const createApiKeyProcedure = sessionProcedure
  .input(ZCreateApiKeyInput)
  .output(ZCreateApiKeyOutput)
  .mutation(async ({ ctx, input }) => orThrow(await createApiKey(ctx.deps, ctx.actor, input)));
