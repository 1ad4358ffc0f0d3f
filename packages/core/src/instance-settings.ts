import { type AuditDetail, instances } from "@mcp/db";
import { type AuditRequest, recordAudit } from "./audit.ts";
import type { Actor, CoreDeps } from "./deps.ts";
import { fail, ok, type Result } from "./errors.ts";
import { CUSTOM_SERVICE, type InstanceSummary, instanceSummary, liveInstanceOf } from "./instances.ts";
import { refreshInstanceToken } from "./resolve.ts";

/** Omitted = unchanged; null = back to the default. */
export interface InstanceSettingsInput {
  serviceType: string;
  displayName?: string | null;
  toolAllowlist?: string[] | null;
  /** null = the default, false. */
  readOnly?: boolean | null;
  rateLimitPerMinute?: number | null;
}

/** The columns a settings change writes, and what its audit event records. */
type SettingsChanges = {
  displayName?: string | null;
  readOnly?: boolean;
  rateLimitPerMinute?: number | null;
  toolAllowlist?: string[] | null;
};

/**
 * What the audit event keeps of a change: which settings it changed, and the new values of those that are
 * configuration (read-only, the rate limit, the allowed tools); never the display name, which is the user's
 * own free text.
 */
function settingsDetail(changes: SettingsChanges): AuditDetail {
  const { displayName: _, ...values } = changes;
  return { changed: SETTINGS_FIELDS.filter((field) => field in changes), ...values };
}

export const SETTINGS_FIELDS = ["displayName", "toolAllowlist", "readOnly", "rateLimitPerMinute"] as const;

/**
 * A tool name as MCP clients send it (the spec's characters, plus `/` and `:` some servers use), for servers
 * whose tools are only known at run time (proxied and custom).
 */
export const TOOL_NAME = /^[A-Za-z0-9_.\-/:]{1,128}$/;

/** The allowlist's names that the service does not have (or, for a relayed server, that are malformed). */
function unknownTools(deps: Pick<CoreDeps, "registry">, serviceType: string, names: readonly string[]) {
  const service = serviceType === CUSTOM_SERVICE.type ? undefined : deps.registry.any(serviceType);
  if (service?.kind === "rest") return names.filter((name) => !service.getTool(name));
  return names.filter((name) => !TOOL_NAME.test(name));
}

/**
 * Changes a live instance's settings (display name, tool allowlist, read-only mode, rate-limit override).
 * Every edge drops its cached copy of the instance (as on a reconnect), so the change applies to the very
 * next request on the unchanged URL. The audit event names the instance, never the values.
 */
export async function updateInstanceSettings(
  deps: Pick<CoreDeps, "db" | "kv" | "log" | "registry">,
  actor: Actor,
  input: InstanceSettingsInput,
  request?: AuditRequest,
): Promise<Result<InstanceSummary, "NOT_FOUND" | "BAD_REQUEST">> {
  const { serviceType } = input;
  const missing = () => fail("NOT_FOUND", `No active ${serviceType} instance`);
  if (serviceType !== CUSTOM_SERVICE.type && !deps.registry.any(serviceType)) return missing();
  const changes: SettingsChanges = {};
  if (input.displayName !== undefined) changes.displayName = input.displayName;
  if (input.readOnly !== undefined) changes.readOnly = input.readOnly ?? false;
  if (input.rateLimitPerMinute !== undefined) changes.rateLimitPerMinute = input.rateLimitPerMinute;
  if (input.toolAllowlist !== undefined) {
    const names = input.toolAllowlist;
    if (names !== null) {
      const unknown = unknownTools(deps, serviceType, names);
      if (unknown.length > 0) {
        const shown = unknown.slice(0, 5).map((n) => JSON.stringify(n.slice(0, 128)));
        return fail("BAD_REQUEST", `Unknown tool for ${serviceType}: ${shown.join(", ")}`);
      }
    }
    changes.toolAllowlist = names === null ? null : [...new Set(names)].sort();
  }
  if (Object.keys(changes).length === 0) return fail("BAD_REQUEST", "Give at least one setting to change");
  const [row] = await deps.db
    .update(instances)
    .set(changes)
    .where(liveInstanceOf(actor, serviceType))
    .returning();
  if (!row) return missing();
  // The same path as a reconnect: every edge re-reads the instance on its next request.
  await refreshInstanceToken(deps, row.tokenHash);
  await recordAudit(deps, {
    ...request,
    userId: actor.userId,
    orgId: actor.orgId,
    action: "instance.settings",
    status: "ok",
    target: row.id,
    instanceId: row.id,
    serviceType,
    detail: settingsDetail(changes),
  });
  return ok(instanceSummary(row));
}
