export { circuitState } from "./breaker.ts";
export { type AdditionalCheck, checkAdditionalCredentials } from "./credentials.ts";
export { ServiceConfigSchema } from "./definition.ts";
export {
  credentialRedactor,
  DEFAULT_TOOL_TIMEOUT_MS,
  type ExecuteOptions,
  executeTool,
  type UpstreamCredential,
  upstreamMessage,
  validateKey,
} from "./executor.ts";
export {
  DEFAULT_POOL_LIMITS,
  type PoolLimits,
  type PoolStats,
  poolFor,
  UpstreamPool,
  upstreamPoolStats,
} from "./pool.ts";
export { probeStdioMcp, proxiedServerConfig } from "./proxied.ts";
export { createRedactor, headerSecrets, REDACTED, type Redactor } from "./redact.ts";
export {
  baseUrlEnvName,
  CUSTOM_SERVICE,
  DEFINITIONS_DIR,
  limitFromEnv,
  loadRegistry,
  rateLimitEnvName,
} from "./registry.ts";
export {
  connectRemoteMcp,
  probeRemoteMcp,
  RELAY_VIA_PSEUDONYM,
  type RemoteConnection,
  type RemoteFailure,
  type RemoteMcpConfig,
  type RemoteOptions,
  rejectedCredentials,
  remoteRedactor,
  reservedRemoteHeader,
  upstreamRefusal,
} from "./remote-mcp.ts";
export * from "./ssrf.ts";
export * from "./stdio/index.ts";
export type {
  AccountInfo,
  AnyServiceDefinition,
  AuthConfig,
  InputResult,
  JsonObjectSchema,
  JsonSchema,
  KeyValidation,
  McpTool,
  ProxiedServiceDefinition,
  RemoteProxiedService,
  ServiceConfig,
  ServiceDefinition,
  ServiceRegistry,
  StdioProxiedService,
  ToolAnnotations,
  ToolConfig,
  ToolDefinition,
  ToolErrorCode,
  ToolOutcome,
} from "./types.ts";
