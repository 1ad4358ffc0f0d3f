import { z } from "zod";
import { zServiceType, zTimestamp } from "../../trpc/schemas.ts";

export const ZServiceTypeInput = z.object({ serviceType: zServiceType });
export const ZIssuedInstance = z.object({
  instanceId: z.string(),
  instanceUrl: z.string(),
  serviceType: z.string(),
});
export const ZInstanceSummary = z.object({
  instanceId: z.string(),
  serviceType: z.string(),
  status: z.enum(["active", "revoked", "needs_reauth"]),
  isActive: z.boolean(),
  createdAt: zTimestamp,
  lastUsedAt: zTimestamp.nullable(),
});
