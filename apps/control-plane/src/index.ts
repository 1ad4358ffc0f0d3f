export { createApp } from "./app.ts";
export { type ControlPlaneDeps, type ControlPlaneLimits, DEFAULT_LIMITS } from "./deps.ts";
export type { AppRouter, RouterInputs, RouterOutputs } from "./trpc/router.ts";
