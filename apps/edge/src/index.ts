export { createEdgeApp } from "./app.ts";
export { createEdge } from "./create.ts";
export { DEFAULT_LIMITS, type EdgeDeps, type EdgeLimits } from "./deps.ts";
export { LEGACY_VERSIONS, MODERN_VERSIONS, SUPPORTED_VERSIONS } from "./mcp/versions.ts";
