import { hashToken, mintInstanceToken } from "@mcp/crypto";
import { credentials, type Db, type InstanceStatus, instances } from "@mcp/db";
import { validateKey } from "@mcp/services";
import { and, asc, eq, ne } from "drizzle-orm";
import { recordAudit } from "./audit.ts";
import { type CredentialSecret, sealCredential } from "./credentials.ts";
import { isUniqueViolation } from "./db-errors.ts";
import type { Actor, CoreDeps } from "./deps.ts";
import { fail, ok, type Result } from "./errors.ts";
import { newId } from "./ids.ts";
import { bumpReadCacheGeneration } from "./read-cache.ts";
import { retireInstanceToken } from "./resolve.ts";

export interface InstanceSummary {
  instanceId: string;
  serviceType: string;
  status: InstanceStatus;
  isActive: boolean;
  createdAt: Date;
  lastUsedAt: Date | null;
}

export interface IssuedInstance {
  instanceId: string;
  instanceUrl: string;
  serviceType: string;
}

type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

const instanceUrl = (deps: Pick<CoreDeps, "publicEdgeUrl">, token: string) =>
  `${deps.publicEdgeUrl}/${token}/mcp`;
const summary = (row: typeof instances.$inferSelect): InstanceSummary => ({
  instanceId: row.id,
  serviceType: row.serviceType,
  status: row.status,
  isActive: row.status !== "revoked",
  createdAt: row.createdAt,
  lastUsedAt: row.lastUsedAt,
});

/**
 * Validates the key with the upstream, seals it, and issues a fresh instance URL. One instance per user
 * and service: connecting again replaces the credential and the URL (the old URL stops at once).
 */
export async function connectInstance(
  deps: CoreDeps,
  actor: Actor,
  input: { serviceType: string; apiKey: string; additionalCredentials?: Record<string, string> },
): Promise<Result<IssuedInstance, "NOT_FOUND" | "INVALID_API_KEY" | "SERVICE_UNAVAILABLE">> {
  const service = deps.registry.get(input.serviceType);
  if (!service) return fail("NOT_FOUND", `Unknown service: ${input.serviceType}`);
  const check = await validateKey(service, input.apiKey);
  if (!check.ok) {
    return check.error === "INVALID_API_KEY"
      ? fail("INVALID_API_KEY", "Invalid API key")
      : fail("SERVICE_UNAVAILABLE", `${service.name} is unavailable right now; try again shortly`);
  }
  const secret = { apiKey: input.apiKey, additional: input.additionalCredentials };
  return ok(await issueInstance(deps, actor, input.serviceType, service.prefix, secret));
}

/**
 * Seals the secret and upserts credential + instance in one transaction, with a fresh token; retires the
 * previous token and the user's cached reads for the service; records the audit event.
 */
export async function issueInstance(
  deps: CoreDeps,
  actor: Actor,
  serviceType: string,
  prefix: string,
  secret: CredentialSecret,
): Promise<IssuedInstance> {
  const token = mintInstanceToken(prefix);
  const write = () =>
    deps.db.transaction(async (tx) => {
      const credentialId = await upsertCredential(tx, deps, actor, serviceType, secret);
      return upsertInstance(tx, actor, serviceType, credentialId, hashToken(token));
    });
  // Two first connects of one user and service can race past the row locks (there is no row to lock
  // yet); the loser retries once and then finds the winner's row to update.
  const { instanceId, oldTokenHash } = await write().catch((error: unknown) => {
    if (isUniqueViolation(error)) return write();
    throw error;
  });
  if (oldTokenHash) await retireInstanceToken(deps, oldTokenHash);
  // A new key may belong to another upstream account: answers cached under the old one must go.
  await bumpReadCacheGeneration(deps, actor.userId, serviceType);
  await recordAudit(deps, { userId: actor.userId, instanceId, action: "instance.connect", status: "ok" });
  return { instanceId, instanceUrl: instanceUrl(deps, token), serviceType };
}

async function upsertCredential(
  tx: Tx,
  deps: CoreDeps,
  actor: Actor,
  serviceType: string,
  secret: CredentialSecret,
): Promise<string> {
  // Lock the row (if any) so the id the AAD binds to cannot change under us.
  const [existing] = await tx
    .select({ id: credentials.id })
    .from(credentials)
    .where(and(eq(credentials.userId, actor.userId), eq(credentials.serviceType, serviceType)))
    .for("update");
  const id = existing?.id ?? newId("cred");
  const sealed = sealCredential(deps.keyring, { id, userId: actor.userId, serviceType }, secret);
  if (existing) {
    await tx.update(credentials).set(sealed).where(eq(credentials.id, id));
  } else {
    await tx.insert(credentials).values({ id, userId: actor.userId, serviceType, ...sealed });
  }
  return id;
}

async function upsertInstance(
  tx: Tx,
  actor: Actor,
  serviceType: string,
  credentialId: string,
  tokenHash: string,
): Promise<{ instanceId: string; oldTokenHash?: string }> {
  const [existing] = await tx
    .select({ id: instances.id, tokenHash: instances.tokenHash })
    .from(instances)
    .where(and(eq(instances.userId, actor.userId), eq(instances.serviceType, serviceType)))
    .for("update");
  if (existing) {
    await tx
      .update(instances)
      .set({ credentialId, tokenHash, status: "active", revokedAt: null })
      .where(eq(instances.id, existing.id));
    return { instanceId: existing.id, oldTokenHash: existing.tokenHash };
  }
  const instanceId = newId("ins");
  await tx
    .insert(instances)
    .values({ id: instanceId, userId: actor.userId, serviceType, credentialId, tokenHash });
  return { instanceId };
}

export async function listInstances(deps: Pick<CoreDeps, "db">, actor: Actor): Promise<InstanceSummary[]> {
  const rows = await deps.db
    .select()
    .from(instances)
    .where(eq(instances.userId, actor.userId))
    .orderBy(asc(instances.createdAt));
  return rows.map(summary);
}

export async function getInstance(
  deps: Pick<CoreDeps, "db">,
  actor: Actor,
  input: { serviceType: string },
): Promise<Result<InstanceSummary, "NOT_FOUND">> {
  const [row] = await deps.db
    .select()
    .from(instances)
    .where(and(eq(instances.userId, actor.userId), eq(instances.serviceType, input.serviceType)))
    .limit(1);
  return row ? ok(summary(row)) : fail("NOT_FOUND", `No ${input.serviceType} instance`);
}

/** Issues a new URL for a live instance; the old one stops working at once, everywhere. */
export async function rotateInstance(
  deps: CoreDeps,
  actor: Actor,
  input: { serviceType: string },
): Promise<Result<IssuedInstance, "NOT_FOUND">> {
  const prefix = tokenPrefix(deps, input.serviceType);
  if (!prefix) return fail("NOT_FOUND", `Unknown service: ${input.serviceType}`);
  const token = mintInstanceToken(prefix);
  const [old] = await deps.db
    .select({ id: instances.id, tokenHash: instances.tokenHash })
    .from(instances)
    .where(liveInstanceOf(actor, input.serviceType))
    .limit(1);
  if (!old) return fail("NOT_FOUND", `No active ${input.serviceType} instance`);
  const rows = await deps.db
    .update(instances)
    .set({ tokenHash: hashToken(token) })
    .where(and(eq(instances.id, old.id), eq(instances.tokenHash, old.tokenHash)))
    .returning({ id: instances.id });
  if (!rows[0]) return fail("NOT_FOUND", `No active ${input.serviceType} instance`);
  await retire(deps, actor, { instanceId: old.id, tokenHash: old.tokenHash, action: "instance.rotate" });
  return ok({ instanceId: old.id, instanceUrl: instanceUrl(deps, token), serviceType: input.serviceType });
}

export async function revokeInstance(
  deps: CoreDeps,
  actor: Actor,
  input: { serviceType: string },
): Promise<Result<{ instanceId: string }, "NOT_FOUND">> {
  const rows = await deps.db
    .update(instances)
    .set({ status: "revoked", revokedAt: new Date() })
    .where(liveInstanceOf(actor, input.serviceType))
    .returning({ id: instances.id, tokenHash: instances.tokenHash });
  const row = rows[0];
  if (!row) return fail("NOT_FOUND", `No active ${input.serviceType} instance`);
  await retire(deps, actor, { instanceId: row.id, tokenHash: row.tokenHash, action: "instance.revoke" });
  return ok({ instanceId: row.id });
}

/** After a URL was taken out of service: stop it everywhere, then record who did it. */
async function retire(
  deps: CoreDeps,
  actor: Actor,
  change: { instanceId: string; tokenHash: string; action: "instance.rotate" | "instance.revoke" },
): Promise<void> {
  await retireInstanceToken(deps, change.tokenHash);
  await recordAudit(deps, {
    userId: actor.userId,
    instanceId: change.instanceId,
    action: change.action,
    status: "ok",
  });
}

/** Custom MCP servers share the `custom` type and the `cus` token prefix. */
export const CUSTOM_SERVICE = { type: "custom", prefix: "cus" } as const;

function tokenPrefix(deps: Pick<CoreDeps, "registry">, serviceType: string): string | undefined {
  return serviceType === CUSTOM_SERVICE.type ? CUSTOM_SERVICE.prefix : deps.registry.get(serviceType)?.prefix;
}

function liveInstanceOf(actor: Actor, serviceType: string) {
  return and(
    eq(instances.userId, actor.userId),
    eq(instances.serviceType, serviceType),
    ne(instances.status, "revoked"),
  );
}
