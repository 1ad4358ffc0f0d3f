import { circuitState } from "@mcp/services";
import { z } from "zod";
import { publicProcedure } from "../../trpc/init.ts";

export const ZListServicesOutput = z.array(
  z.object({
    type: z.string(),
    name: z.string(),
    description: z.string(),
    tools: z.array(z.object({ name: z.string(), description: z.string() })),
    healthy: z.boolean(),
  }),
);

/** The catalogue is public: it holds nothing about any user. */
export const listServicesProcedure = publicProcedure.output(ZListServicesOutput).query(({ ctx }) =>
  ctx.deps.registry.list().map((s) => ({
    type: s.type,
    name: s.name,
    description: s.description,
    tools: s.tools.map((t) => ({ name: t.name, description: t.description })),
    healthy: circuitState(s) !== "open",
  })),
);
