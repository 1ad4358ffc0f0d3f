import { hashToken, mintInstanceToken } from "@mcp/crypto";
import {
  type ConnectedAccount,
  credentials,
  type Db,
  type InstanceStatus,
  instances,
  orgMembers,
  perDatabase,
} from "@mcp/db";
import {
  CUSTOM_SERVICE,
  checkAdditionalCredentials,
  probeRemoteMcp,
  probeStdioMcp,
  proxiedServerConfig,
  validateKey,
} from "@mcp/services";
import { and, asc, eq, ne, type Placeholder, sql } from "drizzle-orm";
import { type AuditRequest, recordAudit } from "./audit.ts";
import { type CredentialSecret, openCredential, sealCredential } from "./credentials.ts";
import { isUniqueViolation } from "./db-errors.ts";
import type { Actor, CoreDeps } from "./deps.ts";
import { fail, ok, type Result } from "./errors.ts";
import { isServiceAvailable } from "./health.ts";
import { edgeUrlFor } from "./health-check.ts";
import { newId } from "./ids.ts";
import { bumpReadCacheGeneration } from "./read-cache.ts";
import { refreshInstanceToken, retireInstanceToken } from "./resolve.ts";

export interface InstanceSummary {
  instanceId: string;
  serviceType: string;
  status: InstanceStatus;
  isActive: boolean;
  /** Who the key belongs to upstream ("connected as ..."), when the service's validation says. */
  account: ConnectedAccount | null;
  createdAt: Date;
  lastUsedAt: Date | null;
  /** Settings (`instances.updateSettings`): a name the user chose, or null (the service's own). */
  displayName: string | null;
  /** Only these tools are listed and callable; null = every tool. */
  toolAllowlist: string[] | null;
  /** Only tools annotated `readOnlyHint: true` are listed and callable. */
  readOnly: boolean;
  /** Requests per minute at the edge; null = the platform's per-instance limit. */
  rateLimitPerMinute: number | null;
}

export interface IssuedInstance {
  instanceId: string;
  instanceUrl: string;
  serviceType: string;
}

export interface UpdatedCredentials {
  instanceId: string;
  serviceType: string;
  status: InstanceStatus;
  account: ConnectedAccount | null;
}

type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

/** On the edge serving the service: SERVICE_<TYPE>_PUBLIC_URL when set, else PUBLIC_EDGE_URL. */
const instanceUrl = (
  deps: Pick<CoreDeps, "publicEdgeUrl" | "servicePublicUrls">,
  serviceType: string,
  token: string,
) => `${edgeUrlFor(serviceType, deps.servicePublicUrls ?? {}, deps.publicEdgeUrl)}/${token}/mcp`;
export const instanceSummary = (row: typeof instances.$inferSelect): InstanceSummary => ({
  instanceId: row.id,
  serviceType: row.serviceType,
  status: row.status,
  isActive: row.status !== "revoked",
  account: row.account ?? null,
  createdAt: row.createdAt,
  lastUsedAt: row.lastUsedAt,
  displayName: row.displayName,
  toolAllowlist: row.toolAllowlist,
  readOnly: row.readOnly,
  rateLimitPerMinute: row.rateLimitPerMinute,
});

interface KeyInput {
  serviceType: string;
  apiKey: string;
  additionalCredentials?: Record<string, string>;
}

type CheckError = "NOT_FOUND" | "BAD_REQUEST" | "INVALID_API_KEY" | "SERVICE_UNAVAILABLE";

/**
 * Both keys name their upstream account and the accounts differ. The URL then must not carry over: MCP
 * clients configured with it would silently act on another account.
 */
const otherAccount = (before: ConnectedAccount | null | undefined, after: ConnectedAccount | undefined) =>
  before?.id !== undefined && after?.id !== undefined && before.id !== after.id;

/** When the health monitor's verdicts are unknown here: its default check interval. */
const SERVICE_DOWN_RETRY_MS = 30_000;

/** The service's additional fields checked, then the key validated with the upstream (nothing stored yet). */
async function checkedSecret(
  deps: CoreDeps,
  input: KeyInput,
  keep?: Record<string, string>,
): Promise<Result<{ secret: CredentialSecret; account?: ConnectedAccount; prefix: string }, CheckError>> {
  const service = deps.registry.any(input.serviceType);
  if (!service) return fail("NOT_FOUND", `Unknown service: ${input.serviceType}`);
  if (!isServiceAvailable(deps, service.type)) {
    return fail("SERVICE_UNAVAILABLE", `${service.name} is down (health check failed); try again shortly`, {
      retryAfterMs: deps.health?.recheckMs ?? SERVICE_DOWN_RETRY_MS,
    });
  }
  const additional = checkAdditionalCredentials(service, input.additionalCredentials ?? keep);
  if (!additional.ok) return fail("BAD_REQUEST", additional.message);
  const secret = {
    apiKey: input.apiKey,
    ...(Object.keys(additional.value).length > 0 && { additional: additional.value }),
  };
  if (service.kind === "mcp") {
    // A proxied server: the key works when the server lets us connect and list its tools with it.
    let probe: Awaited<ReturnType<typeof probeRemoteMcp>>;
    if (service.transport === "stdio") {
      probe = await probeStdioMcp(service, secret, deps.log);
    } else {
      const config = proxiedServerConfig(service, secret);
      if (!config) return fail("INVALID_API_KEY", "Invalid API key");
      probe = await probeRemoteMcp(config, { allowPrivate: deps.allowPrivateUpstreams });
    }
    if (!probe.ok) {
      return probe.error === "INVALID_API_KEY"
        ? fail("INVALID_API_KEY", "Invalid API key")
        : fail("SERVICE_UNAVAILABLE", `${service.name} is unavailable right now; try again shortly`);
    }
    return ok({ secret, prefix: service.prefix });
  }
  const check = await validateKey(service, secret);
  if (!check.ok) {
    return check.error === "INVALID_API_KEY"
      ? fail("INVALID_API_KEY", "Invalid API key")
      : fail("SERVICE_UNAVAILABLE", `${service.name} is unavailable right now; try again shortly`);
  }
  return ok({ secret, account: check.account, prefix: service.prefix });
}

/**
 * Validates the key with the upstream, seals it, and returns the instance URL. One instance per user and
 * service: connecting again replaces the credential in place and keeps the URL (client configurations
 * survive a key change; `needs_reauth` clears). A new URL is issued (the old one stops) when the instance
 * was revoked, or when the new key belongs to another upstream account than the old one.
 */
export async function connectInstance(
  deps: CoreDeps,
  actor: Actor,
  input: KeyInput,
  /** Where the change came from, for the audit trail. */
  request?: AuditRequest,
): Promise<Result<IssuedInstance, CheckError>> {
  const checked = await checkedSecret(deps, input);
  if (!checked.ok) return checked;
  const { secret, account, prefix } = checked.value;
  const issued = await issueInstance(deps, actor, input.serviceType, prefix, secret, { account, request });
  // Removed from the organisation while the key was being checked: nothing was written.
  return issued ? ok(issued) : fail("NOT_FOUND", "Organisation not found");
}

/**
 * A new key (and additional fields) for an existing instance: validated upstream, then sealed in place.
 * The URL stays; `needs_reauth` clears. Additional fields not given are kept from the stored credential.
 */
export async function updateCredentials(
  deps: CoreDeps,
  actor: Actor,
  input: KeyInput,
  request?: AuditRequest,
): Promise<Result<UpdatedCredentials, CheckError | "CONFLICT">> {
  const [row] = await deps.db
    .select({ instance: instances, credential: credentials })
    .from(instances)
    .innerJoin(credentials, eq(credentials.id, instances.credentialId))
    .where(liveInstanceOf(actor, input.serviceType))
    .limit(1);
  if (!row || input.serviceType === CUSTOM_SERVICE.type) {
    return fail("NOT_FOUND", `No active ${input.serviceType} instance; connect it first`);
  }
  const stored = openCredential(deps.keyring, row.credential, row.credential);
  const checked = await checkedSecret(deps, input, stored?.additional);
  if (!checked.ok) return checked;
  const { secret, account, prefix } = checked.value;
  if (otherAccount(row.instance.account, account)) return otherAccountConflict(input.serviceType);
  const issued = await writeInstance(deps, actor, input.serviceType, prefix, secret, {
    account,
    action: "credentials.update",
    mustBeLive: true,
    request,
  });
  // Revoked between the check above and the write: nothing was written.
  if (!issued) return fail("NOT_FOUND", `No active ${input.serviceType} instance; connect it first`);
  // Connected meanwhile (another tab) with another account's key: nothing was written.
  if (issued === OTHER_ACCOUNT) return otherAccountConflict(input.serviceType);
  return ok({
    instanceId: issued.instanceId,
    serviceType: input.serviceType,
    status: "active",
    account: account ?? null,
  });
}

const otherAccountConflict = (serviceType: string) =>
  fail(
    "CONFLICT",
    `This key belongs to another ${serviceType} account; connect it with instances.connect, which issues a new URL`,
  );

/** `issueInstance` with `mustBeLive`: the live instance's key is of another upstream account (nothing written). */
const OTHER_ACCOUNT = "OTHER_ACCOUNT";

interface IssueOptions {
  account?: ConnectedAccount;
  action?: "instance.connect" | "credentials.update";
  request?: AuditRequest;
}

/**
 * Seals the secret and upserts credential + instance in one transaction. A live instance keeps its token
 * (sealed inside the credential, so the same URL can be handed back); a new or revoked one gets a fresh
 * token. Drops cached copies of the instance and the user's cached reads; records the audit event.
 * Undefined, with nothing written, when the user is no longer a member of the organisation the actor acts in
 * (removed while the key was being checked upstream).
 */
export async function issueInstance(
  deps: CoreDeps,
  actor: Actor,
  serviceType: string,
  prefix: string,
  secret: CredentialSecret,
  opts: IssueOptions = {},
): Promise<IssuedInstance | undefined> {
  const issued = await writeInstance(deps, actor, serviceType, prefix, secret, opts);
  return issued === OTHER_ACCOUNT ? undefined : issued;
}

/**
 * `issueInstance`, and `updateCredentials`'s write (`mustBeLive`): undefined, with nothing written, when there is no
 * live instance to update (never create one, never bring a revoked one back); OTHER_ACCOUNT, with nothing written,
 * when the live instance's key is of another upstream account than the new one (connected meanwhile, e.g. from
 * another tab): the URL must not change behind an update that hands out none.
 */
async function writeInstance(
  deps: CoreDeps,
  actor: Actor,
  serviceType: string,
  prefix: string,
  secret: CredentialSecret,
  opts: IssueOptions & { mustBeLive?: boolean } = {},
): Promise<IssuedInstance | typeof OTHER_ACCOUNT | undefined> {
  const { account, action = "instance.connect", mustBeLive = false, request } = opts;
  const write = () =>
    deps.db.transaction(async (tx) => {
      if (!(await stillMember(tx, actor))) return undefined;
      const existing = await lockExisting(tx, deps, actor, serviceType);
      if (mustBeLive && !existing?.live) return undefined;
      const keep = !otherAccount(existing?.account, account);
      if (mustBeLive && !keep) return OTHER_ACCOUNT;
      const token = (keep ? existing?.keptToken : undefined) ?? mintInstanceToken(prefix);
      const credentialId = await upsertCredential(tx, deps, actor, serviceType, existing?.credentialId, {
        ...secret,
        instanceToken: token,
      });
      const instanceId = await upsertInstance(tx, actor, serviceType, existing?.instanceId, {
        credentialId,
        tokenHash: hashToken(token),
        account: account ?? null,
      });
      return { instanceId, token, oldTokenHash: existing?.tokenHash };
    });
  // Two first connects of one user and service can race past the row locks (there is no row to lock
  // yet); the loser retries once and then finds the winner's row to update.
  const written = await write().catch((error: unknown) => {
    if (isUniqueViolation(error)) return write();
    throw error;
  });
  if (!written || written === OTHER_ACCOUNT) return written;
  const { instanceId, token, oldTokenHash } = written;
  if (oldTokenHash && oldTokenHash !== hashToken(token)) await retireInstanceToken(deps, oldTokenHash);
  // Same URL, new credential: every cached copy of the old one must go.
  else if (oldTokenHash) await refreshInstanceToken(deps, oldTokenHash);
  // A new key may belong to another upstream account: answers cached under the old one must go.
  await bumpReadCacheGeneration(deps, actor, serviceType);
  await recordAudit(deps, {
    ...request,
    userId: actor.userId,
    orgId: actor.orgId,
    action,
    status: "ok",
    target: instanceId,
    instanceId,
    serviceType,
  });
  return { instanceId, instanceUrl: instanceUrl(deps, serviceType, token), serviceType };
}

/**
 * Whether the user is still a member of the organisation the actor acts in, checked when the write happens (the
 * request was authorised before a key check upstream that may take seconds). The membership row stays
 * key-share locked until the write commits: a removal (which locks it first) waits for the write and then
 * revokes what it made, or the write waits for the removal and finds no membership.
 */
async function stillMember(tx: Tx, actor: Actor): Promise<boolean> {
  const [row] = await tx
    .select({ userId: orgMembers.userId })
    .from(orgMembers)
    .where(and(eq(orgMembers.orgId, actor.orgId), eq(orgMembers.userId, actor.userId)))
    .for("key share");
  return row !== undefined;
}

interface Existing {
  instanceId?: string;
  credentialId?: string;
  tokenHash?: string;
  /** The instance exists and is not revoked. */
  live: boolean;
  account?: ConnectedAccount | null;
  /** The live instance's own token, recovered from its sealed credential. */
  keptToken?: string;
}

// Locks the user's rows for the service (if any) so the ids the AAD binds to cannot change under us.
async function lockExisting(
  tx: Tx,
  deps: CoreDeps,
  actor: Actor,
  serviceType: string,
): Promise<Existing | undefined> {
  const [instance] = await tx
    .select({
      id: instances.id,
      tokenHash: instances.tokenHash,
      status: instances.status,
      account: instances.account,
    })
    .from(instances)
    .where(and(ownedBy(actor), eq(instances.serviceType, serviceType)))
    .for("update");
  const [credential] = await tx
    .select()
    .from(credentials)
    .where(
      and(
        eq(credentials.orgId, actor.orgId),
        eq(credentials.userId, actor.userId),
        eq(credentials.serviceType, serviceType),
      ),
    )
    .for("update");
  if (!instance && !credential) return undefined;
  const opened =
    credential && instance?.status !== "revoked"
      ? openCredential(deps.keyring, credential, credential)
      : null;
  const token = opened?.instanceToken;
  // Only a token that still is this instance's (not one rotated away) is kept.
  const keptToken = token && instance && hashToken(token) === instance.tokenHash ? token : undefined;
  const live = instance !== undefined && instance.status !== "revoked";
  return {
    instanceId: instance?.id,
    credentialId: credential?.id,
    tokenHash: instance?.tokenHash,
    live,
    account: instance?.account,
    keptToken,
  };
}

async function upsertCredential(
  tx: Tx,
  deps: CoreDeps,
  actor: Actor,
  serviceType: string,
  existingId: string | undefined,
  secret: CredentialSecret,
): Promise<string> {
  const id = existingId ?? newId("cred");
  const sealed = sealCredential(deps.keyring, { id, userId: actor.userId, serviceType }, secret);
  if (existingId) {
    await tx.update(credentials).set(sealed).where(eq(credentials.id, id));
  } else {
    await tx
      .insert(credentials)
      .values({ id, userId: actor.userId, orgId: actor.orgId, serviceType, ...sealed });
  }
  return id;
}

async function upsertInstance(
  tx: Tx,
  actor: Actor,
  serviceType: string,
  existingId: string | undefined,
  values: { credentialId: string; tokenHash: string; account: ConnectedAccount | null },
): Promise<string> {
  if (existingId) {
    await tx
      .update(instances)
      .set({ ...values, status: "active", revokedAt: null })
      .where(eq(instances.id, existingId));
    return existingId;
  }
  const instanceId = newId("ins");
  await tx
    .insert(instances)
    .values({ id: instanceId, userId: actor.userId, orgId: actor.orgId, serviceType, ...values });
  return instanceId;
}

/**
 * The list behind the dashboard's main page and `GET /instances`, built once per database as a prepared query
 * (building it was a tenth of the call's CPU).
 */
const listQuery = perDatabase((db) =>
  db
    .select()
    .from(instances)
    .where(ownedBy({ orgId: sql.placeholder("orgId"), userId: sql.placeholder("userId") }))
    .orderBy(asc(instances.createdAt), asc(instances.id))
    .prepare("list_instances"),
);

export async function listInstances(deps: Pick<CoreDeps, "db">, actor: Actor): Promise<InstanceSummary[]> {
  const rows = await listQuery(deps.db).execute({ orgId: actor.orgId, userId: actor.userId });
  return rows.map(instanceSummary);
}

export async function getInstance(
  deps: Pick<CoreDeps, "db">,
  actor: Actor,
  input: { serviceType: string },
): Promise<Result<InstanceSummary, "NOT_FOUND">> {
  const [row] = await deps.db
    .select()
    .from(instances)
    .where(and(ownedBy(actor), eq(instances.serviceType, input.serviceType)))
    .limit(1);
  return row ? ok(instanceSummary(row)) : fail("NOT_FOUND", `No ${input.serviceType} instance`);
}

/**
 * Issues a new URL for a live instance; the old one stops working at once, everywhere. The new token is
 * sealed into the credential (in the same transaction) so a later reconnect keeps this URL.
 */
export async function rotateInstance(
  deps: CoreDeps,
  actor: Actor,
  input: { serviceType: string },
  request?: AuditRequest,
): Promise<Result<IssuedInstance, "NOT_FOUND">> {
  const prefix = tokenPrefix(deps, input.serviceType);
  if (!prefix) return fail("NOT_FOUND", `Unknown service: ${input.serviceType}`);
  const token = mintInstanceToken(prefix);
  const rotated = await deps.db.transaction(async (tx) => {
    // Instance row first, then its credential: the order `issueInstance` locks them in, so the two never deadlock.
    const [instance] = await tx
      .select({ id: instances.id, tokenHash: instances.tokenHash, credentialId: instances.credentialId })
      .from(instances)
      .where(liveInstanceOf(actor, input.serviceType))
      .for("update");
    if (!instance) return undefined;
    const [credential] = await tx
      .select()
      .from(credentials)
      .where(eq(credentials.id, instance.credentialId))
      .for("update");
    const opened = credential ? openCredential(deps.keyring, credential, credential) : null;
    if (credential && opened) {
      const sealed = sealCredential(deps.keyring, credential, { ...opened, instanceToken: token });
      await tx.update(credentials).set(sealed).where(eq(credentials.id, credential.id));
    }
    await tx
      .update(instances)
      .set({ tokenHash: hashToken(token) })
      .where(eq(instances.id, instance.id));
    return { id: instance.id, tokenHash: instance.tokenHash };
  });
  if (!rotated) return fail("NOT_FOUND", `No active ${input.serviceType} instance`);
  await retire(
    deps,
    actor,
    {
      instanceId: rotated.id,
      serviceType: input.serviceType,
      tokenHash: rotated.tokenHash,
      action: "instance.rotate",
    },
    request,
  );
  return ok({
    instanceId: rotated.id,
    instanceUrl: instanceUrl(deps, input.serviceType, token),
    serviceType: input.serviceType,
  });
}

export async function revokeInstance(
  deps: CoreDeps,
  actor: Actor,
  input: { serviceType: string },
  request?: AuditRequest,
): Promise<Result<{ instanceId: string }, "NOT_FOUND">> {
  const rows = await deps.db
    .update(instances)
    .set({ status: "revoked", revokedAt: new Date() })
    .where(liveInstanceOf(actor, input.serviceType))
    .returning({ id: instances.id, tokenHash: instances.tokenHash });
  const row = rows[0];
  if (!row) return fail("NOT_FOUND", `No active ${input.serviceType} instance`);
  await retire(
    deps,
    actor,
    {
      instanceId: row.id,
      serviceType: input.serviceType,
      tokenHash: row.tokenHash,
      action: "instance.revoke",
    },
    request,
  );
  return ok({ instanceId: row.id });
}

/**
 * Erases the caller's instance of a service (live or revoked) and its sealed credential, in one transaction.
 * A live one's URL stops at every edge; cached reads become unreachable. Connecting the service again makes a
 * brand-new instance with a new URL.
 */
export async function deleteInstance(
  deps: CoreDeps,
  actor: Actor,
  input: { serviceType: string },
  request?: AuditRequest,
): Promise<Result<{ instanceId: string }, "NOT_FOUND">> {
  const deleted = await deps.db.transaction(async (tx) => {
    // Instance row first, then its credential: the order `issueInstance` locks them in, so the two never deadlock.
    const [instance] = await tx
      .delete(instances)
      .where(and(ownedBy(actor), eq(instances.serviceType, input.serviceType)))
      .returning({ id: instances.id, tokenHash: instances.tokenHash, credentialId: instances.credentialId });
    if (!instance) return undefined;
    await tx
      .delete(credentials)
      .where(
        and(
          eq(credentials.id, instance.credentialId),
          eq(credentials.orgId, actor.orgId),
          eq(credentials.userId, actor.userId),
        ),
      );
    return instance;
  });
  if (!deleted) return fail("NOT_FOUND", `No ${input.serviceType} instance`);
  // A revoked instance's token was retired already; retiring it again is harmless and keeps this simple.
  await bumpReadCacheGeneration(deps, actor, input.serviceType);
  await retire(
    deps,
    actor,
    {
      instanceId: deleted.id,
      serviceType: input.serviceType,
      tokenHash: deleted.tokenHash,
      action: "instance.delete",
    },
    request,
  );
  return ok({ instanceId: deleted.id });
}

/** After a URL was taken out of service: stop it everywhere, then record who did it. */
async function retire(
  deps: CoreDeps,
  actor: Actor,
  change: {
    instanceId: string;
    serviceType: string;
    tokenHash: string;
    action: "instance.rotate" | "instance.revoke" | "instance.delete";
  },
  request?: AuditRequest,
): Promise<void> {
  await retireInstanceToken(deps, change.tokenHash);
  await recordAudit(deps, {
    ...request,
    userId: actor.userId,
    orgId: actor.orgId,
    action: change.action,
    status: "ok",
    target: change.instanceId,
    instanceId: change.instanceId,
    serviceType: change.serviceType,
  });
}

/** Custom MCP servers share the `custom` type and the `cus` token prefix (which no definition may take). */
export { CUSTOM_SERVICE };

function tokenPrefix(deps: Pick<CoreDeps, "registry">, serviceType: string): string | undefined {
  return serviceType === CUSTOM_SERVICE.type ? CUSTOM_SERVICE.prefix : deps.registry.any(serviceType)?.prefix;
}

/** The caller's own instances in the organisation it acts in (values, or a prepared query's placeholders). */
export const ownedBy = (actor: { orgId: string | Placeholder; userId: string | Placeholder }) =>
  and(eq(instances.orgId, actor.orgId), eq(instances.userId, actor.userId));

export function liveInstanceOf(actor: Actor, serviceType: string) {
  return and(ownedBy(actor), eq(instances.serviceType, serviceType), ne(instances.status, "revoked"));
}
