import type { AuditLog, CoreDeps, InstanceResolver, ResolvedInstance } from "@mcp/core";
import type { EdgeMetrics } from "./metrics.ts";

export interface EdgeLimits {
  /** Requests per minute for one instance. */
  perInstancePerMinute: number;
  /** Requests per minute for one user across all of their instances. */
  perUserPerMinute: number;
  /** Requests per minute to one service across all users (protects the upstream and our standing with it). */
  perServicePerMinute: number;
  /** Largest JSON-RPC body accepted. */
  maxBodyBytes: number;
  /** Messages in one JSON-RPC batch (2025-03-26 clients); each counts against the rate limits. */
  maxBatchMessages: number;
  /** Upstream call timeout. */
  upstreamTimeoutMs: number;
}

export interface EdgeDeps extends CoreDeps {
  resolver: InstanceResolver;
  audit: AuditLog;
  metrics: EdgeMetrics;
  limits: EdgeLimits;
  /** Browser origins allowed to call MCP endpoints (non-browser clients send none). */
  allowedOrigins: string[];
  /** Host names accepted in the Host header when bound to a loopback address; empty → not checked. */
  allowedHosts: string[];
}

export interface EdgeEnv {
  Variables: {
    deps: EdgeDeps;
    requestId: string;
    instance: ResolvedInstance;
    parsedBody: unknown;
  };
}

export const DEFAULT_LIMITS: EdgeLimits = {
  perInstancePerMinute: 600,
  perUserPerMinute: 1200,
  perServicePerMinute: 60_000,
  maxBodyBytes: 1024 * 1024,
  maxBatchMessages: 20,
  upstreamTimeoutMs: 15_000,
};
