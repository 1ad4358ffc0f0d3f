import { probeRemoteMcp } from "@mcp/services";
import type { AuditRequest } from "./audit.ts";
import type { Actor, CoreDeps } from "./deps.ts";
import { fail, ok, type Result } from "./errors.ts";
import { CUSTOM_SERVICE, type IssuedInstance, issueInstance } from "./instances.ts";

export interface CustomServerInput {
  name: string;
  url: string;
  headers?: Record<string, string>;
}

/**
 * A user's own remote MCP server behind a personal instance URL. The URL must pass the SSRF rules (unless
 * the deployment allows private upstreams), and the server must answer `tools/list` with the given
 * headers before anything is stored; URL and headers are sealed like an API key.
 */
export async function connectCustomInstance(
  deps: CoreDeps,
  actor: Actor,
  input: CustomServerInput,
  request?: AuditRequest,
): Promise<Result<IssuedInstance, "BAD_REQUEST" | "INVALID_API_KEY" | "SERVICE_UNAVAILABLE" | "NOT_FOUND">> {
  const probe = await probeRemoteMcp(input, { allowPrivate: deps.allowPrivateUpstreams });
  if (!probe.ok) return fail(probe.error, probe.message);
  const secret = { apiKey: "", custom: { name: input.name, url: input.url, headers: input.headers } };
  const issued = await issueInstance(deps, actor, CUSTOM_SERVICE.type, CUSTOM_SERVICE.prefix, secret, {
    request,
  });
  // Removed from the organisation while the server was being probed: nothing was written.
  return issued ? ok(issued) : fail("NOT_FOUND", "Organisation not found");
}
