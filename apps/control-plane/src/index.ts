export { createApp } from "./app.ts";
export type { ControlPlaneDeps } from "./deps.ts";
export type { AppRouter, RouterInputs, RouterOutputs } from "./trpc/router.ts";
