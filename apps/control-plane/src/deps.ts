import type { CoreDeps, SessionStore } from "@mcp/core";

/** What the control plane's handlers reach through `c.var.deps` and the tRPC context. */
export interface ControlPlaneDeps extends CoreDeps {
  sessions: SessionStore;
  /** Origins allowed to make cookie-authenticated mutations (the dashboard's own origin always is). */
  allowedOrigins: string[];
  /** Folder of the built dashboard; omitted → no dashboard served. */
  dashboardDir?: string;
  /** Abuse limits; defaults in DEFAULT_LIMITS. */
  limits?: Partial<ControlPlaneLimits>;
  /** Take the client address from X-Forwarded-For (only behind a proxy that sets it). */
  trustProxy?: boolean;
}

/** Per-minute limits on costly or guessable actions. */
export interface ControlPlaneLimits {
  signInPerEmail: number;
  signInPerIp: number;
  signUpPerIp: number;
  connectPerUser: number;
  /** Calls in one tRPC batch request. */
  maxBatchSize: number;
}

export const DEFAULT_LIMITS: ControlPlaneLimits = {
  signInPerEmail: 10,
  signInPerIp: 60,
  signUpPerIp: 10,
  connectPerUser: 20,
  maxBatchSize: 10,
};

export type AuthMethod = "session" | "api_key";

export interface HonoEnv {
  Variables: {
    deps: ControlPlaneDeps;
    requestId: string;
    actor: { userId: string; via: AuthMethod } | null;
    sessionToken: string | null;
    clientIp: string;
  };
}
