import { router } from "../../trpc/init.ts";
import { listServicesProcedure } from "./list.ts";

export const servicesRouter = router({ list: listServicesProcedure });
