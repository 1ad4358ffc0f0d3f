export { createEdgeApp } from "./app.ts";
export { createEdge } from "./create.ts";
export { DEFAULT_LIMITS, type EdgeDeps, type EdgeLimits, serverBodyCap } from "./deps.ts";
export { createServiceHandler } from "./mcp/server.ts";
export { LEGACY_VERSIONS, MODERN_VERSIONS, SUPPORTED_VERSIONS } from "./mcp/versions.ts";
export type { MetricsAccess } from "./metrics-route.ts";
export {
  assertServedType,
  EDGE_RUNTIME_ENV,
  type EdgeOptions,
  edgeOptionsFromEnv,
  edgePort,
  serveMetrics,
  serviceMode,
} from "./options.ts";
export { SHUTDOWN_GRACE_MS, stopEdge } from "./shutdown.ts";
