import type { ApiKeyScope, CoreDeps, OrgRole, SessionStore } from "@mcp/core";

/** What the control plane's handlers reach through `c.var.deps` and the tRPC context. */
export interface ControlPlaneDeps extends CoreDeps {
  sessions: SessionStore;
  /** Origins allowed to make cookie-authenticated mutations (the dashboard's own origin always is). */
  allowedOrigins: string[];
  /** Host names served when bound to loopback (`loopbackAllowlist`); omitted or empty → not checked. */
  allowedHosts?: string[];
  /** Folder of the built dashboard; omitted → no dashboard served. */
  dashboardDir?: string;
  /** Abuse limits; defaults in DEFAULT_LIMITS. */
  limits?: Partial<ControlPlaneLimits>;
  /** Take the client address from X-Forwarded-For (only behind a proxy that sets it). */
  trustProxy?: boolean;
}

/** Per-minute limits on costly or guessable actions. */
export interface ControlPlaneLimits {
  /** Sign-in attempts (right or wrong) from one address. */
  signInPerIp: number;
  /** Wrong passwords for one email from one address; a success clears it. */
  signInFailuresPerEmailIp: number;
  /**
   * Sign-in attempts for one email from everywhere (each charged before the password is checked, and only once
   * its (email, address) budget let it through): above what one address can reach.
   */
  signInFailuresPerEmail: number;
  signUpPerIp: number;
  connectPerUser: number;
  /** Calls in one tRPC batch request. */
  maxBatchSize: number;
}

export const DEFAULT_LIMITS: ControlPlaneLimits = {
  signInPerIp: 60,
  signInFailuresPerEmailIp: 10,
  signInFailuresPerEmail: 100,
  signUpPerIp: 10,
  connectPerUser: 20,
  maxBatchSize: 10,
};

export type AuthMethod = "session" | "api_key";

export interface HonoEnv {
  Variables: {
    deps: ControlPlaneDeps;
    requestId: string;
    /**
     * Who is calling. `scopes`: what an API key may do (absent for a session, which may do everything its
     * user may); `keyId`: the API key's id. `orgId`: the organisation the call acts in (an API key's own;
     * for a session the `X-Org-Id` header's, else the user's personal one) and `orgRole` the user's role there.
     */
    actor: {
      userId: string;
      orgId: string;
      orgRole: OrgRole;
      via: AuthMethod;
      scopes?: readonly ApiKeyScope[];
      keyId?: string;
    } | null;
    sessionToken: string | null;
    clientIp: string;
  };
}
