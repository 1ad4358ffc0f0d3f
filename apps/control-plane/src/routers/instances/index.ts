import { router } from "../../trpc/init.ts";
import { connectProcedure } from "./connect.ts";
import { connectCustomProcedure } from "./connect-custom.ts";
import { getInstanceProcedure } from "./get.ts";
import { listInstancesProcedure } from "./list.ts";
import { revokeInstanceProcedure } from "./revoke.ts";
import { rotateInstanceProcedure } from "./rotate.ts";

export const instancesRouter = router({
  connect: connectProcedure,
  connectCustom: connectCustomProcedure,
  list: listInstancesProcedure,
  get: getInstanceProcedure,
  rotate: rotateInstanceProcedure,
  revoke: revokeInstanceProcedure,
});
