import { listInstances } from "@mcp/core";
import { z } from "zod";
import { authedProcedure } from "../../trpc/init.ts";
import { ZInstanceSummary } from "./schemas.ts";

export const ZListInstancesOutput = z.array(ZInstanceSummary);

export const listInstancesProcedure = authedProcedure
  .output(ZListInstancesOutput)
  .query(({ ctx }) => listInstances(ctx.deps, ctx.actor));
