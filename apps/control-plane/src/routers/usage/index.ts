import { router } from "../../trpc/init.ts";
import { usageSummaryProcedure } from "./summary.ts";

export const usageRouter = router({
  summary: usageSummaryProcedure,
});
