export {
  API_KEY_SCOPES,
  type ApiKeyScope,
  type ApiKeySummary,
  createApiKey,
  listApiKeys,
  revokeApiKey,
  verifyApiKey,
} from "./api-keys.ts";
export { type AuditEvent, AuditLog } from "./audit.ts";
export {
  createSessionStore,
  getUser,
  type PublicUser,
  readSessionCookie,
  SECURE_SESSION_COOKIE,
  SESSION_COOKIE,
  type SessionStore,
  signIn,
  signUp,
} from "./auth.ts";
export { createPlatform, type Platform } from "./bootstrap.ts";
export { type CredentialSecret, openCredential, sealCredential } from "./credentials.ts";
export { type CustomServerInput, connectCustomInstance } from "./custom.ts";
export {
  DATABASE_RETRY_AFTER_MS,
  databaseUnavailable,
  isDatabaseUnavailable,
  isUniqueViolation,
} from "./db-errors.ts";
export type { Actor, CoreDeps } from "./deps.ts";
export {
  assertSharedBackends,
  type PlatformEnv,
  parseEnv,
  publicEdgeUrl,
  servicePublicUrls,
  ZPlatformEnv,
} from "./env.ts";
export {
  AppError,
  ERRORS,
  type ErrorCode,
  fail,
  isErrorCode,
  ok,
  type Result,
  type TrpcCode,
  unwrap,
} from "./errors.ts";
export {
  HEALTH_CHANNEL,
  type HealthHistoryEntry,
  HealthView,
  isServiceAvailable,
  readHealthHistory,
  readServiceHealth,
  type ServiceHealth,
} from "./health.ts";
export {
  backendsReachable,
  edgeUrlFor,
  type ProbeResult,
  probeUpstream,
  publicUrlEnvName,
} from "./health-check.ts";
export { HealthMonitor, type HealthMonitorOptions } from "./health-monitor.ts";
export { newId } from "./ids.ts";
export {
  CUSTOM_SERVICE,
  connectInstance,
  getInstance,
  type InstanceSummary,
  type IssuedInstance,
  listInstances,
  revokeInstance,
  rotateInstance,
  type UpdatedCredentials,
  updateCredentials,
} from "./instances.ts";
export { createLogger, type Logger, type LogLevel, redact } from "./logger.ts";
export {
  bumpReadCacheGeneration,
  INITIAL_READ_CACHE_GENERATION,
  readCacheGenerationKey,
} from "./read-cache.ts";
export {
  INVALIDATION_CHANNEL,
  InstanceResolver,
  type ResolvedInstance,
  refreshInstanceToken,
  retireInstanceToken,
} from "./resolve.ts";
export { type ResealReport, resealCredentials } from "./rotate-keys.ts";
export { onShutdown } from "./shutdown.ts";
