import { router } from "../../trpc/init.ts";
import { listAuditProcedure } from "./list.ts";

export const auditRouter = router({
  list: listAuditProcedure,
});
