import { listApiKeys } from "@mcp/core";
import { z } from "zod";
import { sessionProcedure } from "../../trpc/init.ts";
import { ZNoInput, zTimestamp } from "../../trpc/schemas.ts";
import { ZApiKeySummary } from "./schemas.ts";

export const ZListApiKeysOutput = z.array(ZApiKeySummary.extend({ lastUsedAt: zTimestamp.nullable() }));

/** The caller's keys that are not revoked (expired ones included, with `expiresAt`), newest first. */
export const listApiKeysProcedure = sessionProcedure
  .input(ZNoInput)
  .output(ZListApiKeysOutput)
  .query(({ ctx }) => listApiKeys(ctx.deps, ctx.actor));
