import { router } from "../../trpc/init.ts";
import { createApiKeyProcedure } from "./create.ts";
import { listApiKeysProcedure } from "./list.ts";
import { revokeApiKeyProcedure } from "./revoke.ts";

export const apiKeysRouter = router({
  create: createApiKeyProcedure,
  list: listApiKeysProcedure,
  revoke: revokeApiKeyProcedure,
});
