import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";
import { apiKeysRouter } from "../routers/api-keys/index.ts";
import { authRouter } from "../routers/auth/index.ts";
import { instancesRouter } from "../routers/instances/index.ts";
import { servicesRouter } from "../routers/services/index.ts";
import { createCallerFactory, router } from "./init.ts";

export const appRouter = router({
  auth: authRouter,
  apiKeys: apiKeysRouter,
  services: servicesRouter,
  instances: instancesRouter,
});

export type AppRouter = typeof appRouter;
export type RouterInputs = inferRouterInputs<AppRouter>;
export type RouterOutputs = inferRouterOutputs<AppRouter>;
export const createCaller = createCallerFactory(appRouter);
