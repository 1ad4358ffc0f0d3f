import { z } from "zod";
import { ZCredentialsInput } from "../auth/schemas.ts";

/** The password being proven: like sign-in, no length rule (an old, shorter password still gets a true answer). */
export const zPassword = z.string().min(1, "password is required").max(256);
/** A new password: the sign-up rules. */
export const zNewPassword = ZCredentialsInput.shape.password;
export const ZOk = z.object({ ok: z.literal(true) });
