export {
  forbiddenEnvName,
  PLATFORM_ENV_NAMES,
  renderEnv,
  resolveCommand,
  SAFE_PATH,
  type StdioCredential,
  type StdioRuntime,
  type StdioServerConfig,
  StdioServerConfigSchema,
  stdioServerConfigSchema,
} from "./config.ts";
export { createStdioPool } from "./pool.ts";
export { childEnv } from "./spawn.ts";
export type { StderrLimits, StdioLogger } from "./stderr.ts";
export type {
  RestartPolicy,
  StdioEvent,
  StdioFailure,
  StdioFailureCode,
  StdioLease,
  StdioPool,
  StdioPoolOptions,
  StdioProcessInfo,
  StdioRequest,
  StdioResult,
  StopReason,
} from "./types.ts";
