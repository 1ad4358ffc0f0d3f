import { z } from "zod";
import { zTimestamp } from "../../trpc/schemas.ts";

export const ZCredentialsInput = z.strictObject({
  email: z.email().max(254),
  password: z.string().min(10, "password must be at least 10 characters").max(256),
});
export const ZUserOutput = z.object({ id: z.string(), email: z.string(), createdAt: zTimestamp });
