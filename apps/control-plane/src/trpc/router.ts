import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";
import { accountRouter } from "../routers/account/index.ts";
import { apiKeysRouter } from "../routers/api-keys/index.ts";
import { auditRouter } from "../routers/audit/index.ts";
import { authRouter } from "../routers/auth/index.ts";
import { instancesRouter } from "../routers/instances/index.ts";
import { orgsRouter } from "../routers/orgs/index.ts";
import { servicesRouter } from "../routers/services/index.ts";
import { usageRouter } from "../routers/usage/index.ts";
import { createCallerFactory, router } from "./init.ts";

export const appRouter = router({
  auth: authRouter,
  apiKeys: apiKeysRouter,
  services: servicesRouter,
  instances: instancesRouter,
  account: accountRouter,
  audit: auditRouter,
  usage: usageRouter,
  orgs: orgsRouter,
});

export type AppRouter = typeof appRouter;
export type RouterInputs = inferRouterInputs<AppRouter>;
export type RouterOutputs = inferRouterOutputs<AppRouter>;
export const createCaller = createCallerFactory(appRouter);
