import { hashToken, isInstanceToken, type Sealed } from "@mcp/crypto";
import { credentials, instances } from "@mcp/db";
import { and, eq, isNull, lt, ne, or } from "drizzle-orm";
import { LRUCache } from "lru-cache";
import { type CredentialSecret, openCredential } from "./credentials.ts";
import type { CoreDeps } from "./deps.ts";

/** What the edge needs to serve a token. Holds the credential only sealed; it is opened per call. */
export interface ResolvedInstance {
  instanceId: string;
  userId: string;
  serviceType: string;
  credentialId: string;
  status: "active" | "needs_reauth";
  sealed: Sealed;
  /** SHA-256 of the URL's token: what invalidations are announced by (not a secret). */
  tokenHash: string;
}

export const INVALIDATION_CHANNEL = "instance-invalidate";
const KV_TTL_MS = 5 * 60_000;
const LOCAL_TTL_MS = 30_000;
const TOUCH_EVERY_MS = 60_000;
const kvKey = (tokenHash: string) => `inst:${tokenHash}`;

const TOMBSTONE = "retired";
/** A token whose row just changed: resolvers read the database and do not fill the kv while this lasts. */
const RELOAD = "reload";
const RELOAD_TTL_MS = 30_000;

/**
 * A token that must never work again (revoked, rotated, replaced): a tombstone in the shared kv, which
 * resolvers only ever fill with `setIfAbsent`, so an edge that read the row just before the change cannot
 * write it back; then every process drops it from memory through pub/sub.
 */
export async function retireInstanceToken(deps: Pick<CoreDeps, "kv">, tokenHash: string): Promise<void> {
  await deps.kv.set(kvKey(tokenHash), TOMBSTONE, KV_TTL_MS);
  await deps.kv.publish(INVALIDATION_CHANNEL, tokenHash);
}

/**
 * A token that still works but whose cached entry is out of date (status, a new or re-sealed credential).
 * A short reload marker replaces the entry: an edge that read the old row just before the change cannot
 * write it back (resolvers only fill the kv with `setIfAbsent`), and lookups meanwhile read the database.
 */
export async function refreshInstanceToken(deps: Pick<CoreDeps, "kv">, tokenHash: string): Promise<void> {
  await deps.kv.set(kvKey(tokenHash), RELOAD, RELOAD_TTL_MS);
  await deps.kv.publish(INVALIDATION_CHANNEL, tokenHash);
}

/**
 * Token → instance, through a per-process LRU, then the shared kv, then Postgres. Listens for
 * invalidations so a revoked or rotated token is dropped from memory everywhere at once; a lookup
 * that raced an invalidation is not cached (generation check).
 */
export class InstanceResolver {
  private readonly local = new LRUCache<string, ResolvedInstance>({ max: 50_000, ttl: LOCAL_TTL_MS });
  /** Unknown or revoked hashes. Safe to remember: a token is random and never becomes valid later. */
  private readonly missing = new LRUCache<string, true>({ max: 100_000, ttl: LOCAL_TTL_MS });
  private readonly touched = new LRUCache<string, number>({ max: 50_000, ttl: TOUCH_EVERY_MS });
  private generation = 0;
  private unsubscribe?: () => Promise<void>;
  private readonly listeners = new Set<(tokenHash: string) => void>();

  constructor(private readonly deps: CoreDeps) {}

  async start(): Promise<void> {
    this.unsubscribe = await this.deps.kv.subscribe(INVALIDATION_CHANNEL, (tokenHash) => {
      this.generation++;
      this.local.delete(tokenHash);
      for (const listener of this.listeners) listener(tokenHash);
    });
  }

  /** Called with each retired or refreshed token's hash (e.g. to close what was opened for it). */
  onInvalidate(listener: (tokenHash: string) => void): void {
    this.listeners.add(listener);
  }

  async stop(): Promise<void> {
    await this.unsubscribe?.();
  }

  /**
   * What this process already knows of a token, without any I/O: the instance (a local hit), "missing"
   * (malformed, or known unknown or revoked), or undefined when only `resolve` can tell (kv, database).
   */
  peek(token: string): ResolvedInstance | "missing" | undefined {
    if (!isInstanceToken(token)) return "missing";
    const tokenHash = hashToken(token);
    return this.local.get(tokenHash) ?? (this.missing.has(tokenHash) ? "missing" : undefined);
  }

  /** Null for anything malformed, unknown or revoked; malformed tokens never reach a cache or the db. */
  async resolve(token: string): Promise<ResolvedInstance | null> {
    if (!isInstanceToken(token)) return null;
    const tokenHash = hashToken(token);
    const hit = this.local.get(tokenHash);
    if (hit) return hit;
    if (this.missing.has(tokenHash)) return null;
    const generation = this.generation;
    const cached = await this.deps.kv.get(kvKey(tokenHash));
    const found =
      cached === TOMBSTONE
        ? null
        : cached && cached !== RELOAD
          ? (JSON.parse(cached) as ResolvedInstance)
          : await this.load(tokenHash);
    if (!found) {
      this.missing.set(tokenHash, true);
      return null;
    }
    if (generation === this.generation) {
      this.local.set(tokenHash, found);
      if (!cached) await this.deps.kv.setIfAbsent(kvKey(tokenHash), JSON.stringify(found), KV_TTL_MS);
    }
    return found;
  }

  protected async load(tokenHash: string): Promise<ResolvedInstance | null> {
    const [row] = await this.deps.db
      .select({
        instanceId: instances.id,
        userId: instances.userId,
        serviceType: instances.serviceType,
        credentialId: instances.credentialId,
        status: instances.status,
        keyVersion: credentials.keyVersion,
        ciphertext: credentials.ciphertext,
      })
      .from(instances)
      .innerJoin(credentials, eq(credentials.id, instances.credentialId))
      .where(and(eq(instances.tokenHash, tokenHash), ne(instances.status, "revoked")))
      .limit(1);
    if (!row || row.status === "revoked") return null;
    const { keyVersion, ciphertext, status, ...rest } = row;
    return { ...rest, status, sealed: { keyVersion, ciphertext }, tokenHash };
  }

  /** Opens the credential in memory for one call. */
  credential(instance: ResolvedInstance): CredentialSecret | null {
    return openCredential(
      this.deps.keyring,
      { id: instance.credentialId, userId: instance.userId, serviceType: instance.serviceType },
      instance.sealed,
    );
  }

  /** Records use at most once a minute per instance, off the hot path. */
  touch(instanceId: string): void {
    if (this.touched.has(instanceId)) return;
    this.touched.set(instanceId, Date.now());
    const stale = new Date(Date.now() - TOUCH_EVERY_MS);
    void this.deps.db
      .update(instances)
      .set({ lastUsedAt: new Date() })
      .where(
        and(eq(instances.id, instanceId), or(isNull(instances.lastUsedAt), lt(instances.lastUsedAt, stale))),
      )
      .catch((error) => this.deps.log.warn("touch failed", { instanceId, error }));
  }

  /** The upstream rejected the stored key: flag the instance so the owner is told to reconnect. */
  async markNeedsReauth(instance: ResolvedInstance): Promise<void> {
    const rows = await this.deps.db
      .update(instances)
      .set({ status: "needs_reauth" })
      .where(and(eq(instances.id, instance.instanceId), eq(instances.status, "active")))
      .returning({ tokenHash: instances.tokenHash });
    if (rows[0]) await refreshInstanceToken(this.deps, rows[0].tokenHash);
  }
}
