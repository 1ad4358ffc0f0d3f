import { router } from "../../trpc/init.ts";
import { serviceHealthProcedure } from "./health.ts";
import { listServicesProcedure } from "./list.ts";

export const servicesRouter = router({ list: listServicesProcedure, health: serviceHealthProcedure });
