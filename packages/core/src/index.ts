export {
  type AccountDeps,
  type AccountRequest,
  changePassword,
  deleteAccount,
  listSessions,
  MAX_LISTED_SESSIONS,
  revokeSession,
  type SessionSummary,
  signOutEverywhere,
} from "./account.ts";
export {
  API_KEY_SCOPES,
  type ApiKeyScope,
  type ApiKeySummary,
  createApiKey,
  listApiKeys,
  MAX_KEYS_PER_USER,
  revokeApiKey,
  verifyApiKey,
} from "./api-keys.ts";
export {
  type AuditEvent,
  AuditLog,
  type AuditRequest,
  forgetAuditPersonalData,
  recordAudit,
} from "./audit.ts";
export {
  AUDIT_CURSOR_MAX,
  AUDIT_PAGE_DEFAULT,
  AUDIT_PAGE_MAX,
  AUDIT_SCOPES,
  type AuditFilters,
  type AuditItem,
  type AuditPage,
  type AuditScope,
  listAuditEvents,
} from "./audit-list.ts";
export {
  createSessionStore,
  DEFAULT_PASSWORD_HASHING,
  getUser,
  hashPassword,
  needsRehash,
  type PasswordHashing,
  type PublicUser,
  readSessionCookie,
  SECURE_SESSION_COOKIE,
  SESSION_COOKIE,
  type SessionMeta,
  type SessionStore,
  secureCookiesFor,
  signIn,
  signUp,
} from "./auth.ts";
export { createPlatform, type Platform } from "./bootstrap.ts";
export { type CredentialSecret, openCredential, rewrapCredential, sealCredential } from "./credentials.ts";
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
  parseEnvOrExit,
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
export { newId, newTimeOrderedId } from "./ids.ts";
export {
  type InstanceSettingsInput,
  SETTINGS_FIELDS,
  TOOL_NAME,
  updateInstanceSettings,
} from "./instance-settings.ts";
export {
  CUSTOM_SERVICE,
  connectInstance,
  deleteInstance,
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
  acceptInvitation,
  actorOrg,
  createOrg,
  INVITATION_TOKEN,
  INVITATION_TTL_HOURS,
  type InvitationSummary,
  type IssuedInvitation,
  inviteMember,
  isAdminRole,
  listInvitations,
  listMemberInstances,
  listMembers,
  listOrgs,
  MAX_LIST_PAGE,
  MAX_ORGS_PER_USER,
  MAX_PENDING_INVITATIONS,
  type MemberInstance,
  ORG_ID,
  ORG_ROLES,
  type OrgCaller,
  type OrgMember,
  type OrgRole,
  type OrgSummary,
  type PageInput,
  personalOrgOf,
  removeMember,
  revokeInvitation,
  revokeMemberInstance,
  setMemberRole,
} from "./orgs.ts";
export {
  bumpReadCacheGeneration,
  INITIAL_READ_CACHE_GENERATION,
  readCacheGenerationKey,
} from "./read-cache.ts";
export {
  INVALIDATION_CHANNEL,
  InstanceResolver,
  isInstanceTokenRetired,
  type ResolvedInstance,
  refreshInstanceToken,
  retireInstanceToken,
} from "./resolve.ts";
export {
  type KeyStatus,
  type KeyVersionRows,
  keyStatus,
  type ResealReport,
  type RotationProgress,
  resealCredentials,
  ZRotateOptions,
} from "./rotate-keys.ts";
export { onShutdown } from "./shutdown.ts";
export {
  exitOnStartupFailure,
  listenOrThrow,
  startOrExit,
  startupFailureLine,
  withoutSecrets,
} from "./startup.ts";
export {
  bucketValue,
  LATENCY_BUCKETS,
  latencyBucket,
  MAX_GROUPS,
  MAX_RANGE_DAYS,
  percentile,
  type RollupRow,
  rollUp,
  summarizeUsage,
  USAGE_GROUP_BY,
  USAGE_SCOPES,
  type UsageGroup,
  type UsageGroupBy,
  type UsageScope,
  type UsageSummary,
  upsertRollups,
} from "./usage.ts";
