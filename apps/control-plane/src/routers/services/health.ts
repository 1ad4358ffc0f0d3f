import { AppError, readHealthHistory, readServiceHealth } from "@mcp/core";
import { z } from "zod";
import { publicProcedure, toTrpc } from "../../trpc/init.ts";
import { ZServiceHealth } from "./list.ts";

export const ZHealthInput = z.strictObject({ serviceType: z.string().min(1).max(64) });

export const ZHealthHistoryEntry = z.object({
  /** ISO-8601 time of the check. */
  at: z.string(),
  healthy: z.boolean(),
  responseTimeMs: z.number(),
  error: z.string().optional(),
});

export const ZServiceHealthOutput = z.object({
  serviceType: z.string(),
  /** The last check (as in `services.list`); null until one ran or after its result expired. */
  current: ZServiceHealth.nullable(),
  /** The last HEALTH_HISTORY_LENGTH checks, oldest first: what a status page or a dashboard graph needs. */
  history: z.array(ZHealthHistoryEntry),
});

/** One service's health over time, from the monitor's records in the kv. Public, like the catalogue. */
export const serviceHealthProcedure = publicProcedure
  .input(ZHealthInput)
  .output(ZServiceHealthOutput)
  .query(async ({ ctx, input }) => {
    if (!ctx.deps.registry.has(input.serviceType)) throw toTrpc(new AppError("NOT_FOUND", "No such service"));
    const [current, history] = await Promise.all([
      readServiceHealth(ctx.deps.kv, input.serviceType),
      readHealthHistory(ctx.deps.kv, input.serviceType),
    ]);
    // What the kv holds is another process's writing: only well-formed records are shown.
    const parsed = current && ZServiceHealth.safeParse(current);
    return {
      serviceType: input.serviceType,
      current: parsed?.success ? parsed.data : null,
      history: history.flatMap((entry) => {
        const ok = ZHealthHistoryEntry.safeParse(entry);
        return ok.success ? [ok.data] : [];
      }),
    };
  });
