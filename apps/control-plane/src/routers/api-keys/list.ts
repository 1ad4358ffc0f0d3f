import { listApiKeys } from "@mcp/core";
import { z } from "zod";
import { sessionProcedure } from "../../trpc/init.ts";
import { zTimestamp } from "../../trpc/schemas.ts";

export const ZListApiKeysOutput = z.array(
  z.object({
    id: z.string(),
    name: z.string(),
    prefix: z.string(),
    createdAt: zTimestamp,
    lastUsedAt: zTimestamp.nullable(),
  }),
);

export const listApiKeysProcedure = sessionProcedure
  .output(ZListApiKeysOutput)
  .query(({ ctx }) => listApiKeys(ctx.deps, ctx.actor));
