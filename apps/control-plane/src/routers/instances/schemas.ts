import { z } from "zod";
import { zServiceType, zTimestamp } from "../../trpc/schemas.ts";

export const ZServiceTypeInput = z.strictObject({ serviceType: zServiceType });
export const ZIssuedInstance = z.object({
  instanceId: z.string(),
  instanceUrl: z.string(),
  serviceType: z.string(),
});
/** Who the key belongs to upstream, from the service's validation answer ("connected as ..."). */
export const ZConnectedAccount = z.object({
  id: z.string().optional(),
  name: z.string().optional(),
  email: z.string().optional(),
});
export const ZInstanceStatus = z.enum(["active", "revoked", "needs_reauth"]);
export const ZInstanceSummary = z.object({
  instanceId: z.string(),
  serviceType: z.string(),
  status: ZInstanceStatus,
  isActive: z.boolean(),
  account: ZConnectedAccount.nullable(),
  createdAt: zTimestamp,
  lastUsedAt: zTimestamp.nullable(),
  /** Settings (`instances.updateSettings`); null / false = the default. */
  displayName: z.string().nullable(),
  toolAllowlist: z.array(z.string()).nullable(),
  readOnly: z.boolean(),
  rateLimitPerMinute: z.number().int().nullable(),
});
