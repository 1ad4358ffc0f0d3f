import { router } from "../../trpc/init.ts";
import { connectProcedure } from "./connect.ts";
import { connectCustomProcedure } from "./connect-custom.ts";
import { deleteInstanceProcedure } from "./delete.ts";
import { getInstanceProcedure } from "./get.ts";
import { listInstancesProcedure } from "./list.ts";
import { revokeInstanceProcedure } from "./revoke.ts";
import { rotateInstanceProcedure } from "./rotate.ts";
import { updateCredentialsProcedure } from "./update-credentials.ts";
import { updateSettingsProcedure } from "./update-settings.ts";

export const instancesRouter = router({
  connect: connectProcedure,
  connectCustom: connectCustomProcedure,
  updateCredentials: updateCredentialsProcedure,
  list: listInstancesProcedure,
  get: getInstanceProcedure,
  rotate: rotateInstanceProcedure,
  revoke: revokeInstanceProcedure,
  delete: deleteInstanceProcedure,
  updateSettings: updateSettingsProcedure,
});
