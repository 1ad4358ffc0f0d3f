import type { CoreDeps, SessionStore } from "@mcp/core";

/** What the control plane's handlers reach through `c.var.deps` and the tRPC context. */
export interface ControlPlaneDeps extends CoreDeps {
  sessions: SessionStore;
  /** Origins allowed to make cookie-authenticated mutations (the dashboard's own origin always is). */
  allowedOrigins: string[];
  /** Folder of the built dashboard; omitted → no dashboard served. */
  dashboardDir?: string;
}

export type AuthMethod = "session" | "api_key";

export interface HonoEnv {
  Variables: {
    deps: ControlPlaneDeps;
    requestId: string;
    actor: { userId: string; via: AuthMethod } | null;
    sessionToken: string | null;
  };
}
