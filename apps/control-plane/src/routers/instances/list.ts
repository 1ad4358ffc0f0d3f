import { listInstances } from "@mcp/core";
import { z } from "zod";
import { scopedProcedure } from "../../trpc/init.ts";
import { ZNoInput } from "../../trpc/schemas.ts";
import { ZInstanceSummary } from "./schemas.ts";

export const ZListInstancesOutput = z.array(ZInstanceSummary);

export const listInstancesProcedure = scopedProcedure("instances:read")
  .input(ZNoInput)
  .output(ZListInstancesOutput)
  .query(({ ctx }) => listInstances(ctx.deps, ctx.actor));
