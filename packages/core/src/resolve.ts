import { hashToken, isInstanceToken, type Sealed } from "@mcp/crypto";
import { credentials, instances } from "@mcp/db";
import type { Kv } from "@mcp/kv";
import { lru } from "@mcp/kv/lru";
import { and, eq, inArray, isNull, lt, ne, or } from "drizzle-orm";
import { type CredentialSecret, openCredential } from "./credentials.ts";
import { DATABASE_RETRY_AFTER_MS } from "./db-errors.ts";
import type { CoreDeps } from "./deps.ts";
import { AppError } from "./errors.ts";

/**
 * What the edge needs to serve a token. Holds the credential only sealed; `InstanceResolver.credential` opens
 * it and keeps the opened secret in this process's memory (never in the kv or a log) for at most
 * OPENED_TTL_MS, and never past the cached entry it belongs to.
 */
export interface ResolvedInstance {
  instanceId: string;
  userId: string;
  /** The organisation the instance belongs to (its audit events are visible to that organisation's admins). */
  orgId: string;
  serviceType: string;
  credentialId: string;
  status: "active" | "needs_reauth";
  sealed: Sealed;
  /** SHA-256 of the URL's token: what invalidations are announced by (not a secret). */
  tokenHash: string;
  /**
   * Settings (`instances.updateSettings`): only these tools are listed and callable (null = every tool); only
   * tools annotated `readOnlyHint: true`; requests per minute (null = the edge's per-instance limit). Optional:
   * kv entries written before settings existed have none (= the defaults).
   */
  toolAllowlist?: string[] | null;
  readOnly?: boolean;
  rateLimitPerMinute?: number | null;
}

export const INVALIDATION_CHANNEL = "instance-invalidate";
const KV_TTL_MS = 5 * 60_000;
const LOCAL_TTL_MS = 30_000;
const TOUCH_EVERY_MS = 60_000;
/**
 * How long an opened credential is reused for calls on the same cached instance entry. It is tied to that
 * entry (a WeakMap on it), so a revocation, rotation or reconnect — which drops the entry everywhere through
 * the invalidation channel — drops the opened secret with it; this bound only limits how long a plaintext
 * outlives its use in a quiet process.
 */
export const OPENED_TTL_MS = 30_000;
// `inst2`: entries carry the organisation; ones cached before it existed are never read back.
const kvKey = (tokenHash: string) => `inst2:${tokenHash}`;

const TOMBSTONE = "retired";
/** A token whose row just changed: resolvers read the database and do not fill the kv while this lasts. */
const RELOAD = "reload";
const RELOAD_TTL_MS = 30_000;
/**
 * While the kv is degraded (Redis unreachable) no invalidation reaches this process, so an instance served
 * from memory is re-checked with the database once it is older than this: a revocation made during the
 * outage takes effect within about this long (plus one request).
 */
export const DEGRADED_RECHECK_MS = 5_000;

/** An entry of this process's memory: the instance and when it was last read from the kv or the database. */
interface Local {
  instance: ResolvedInstance;
  at: number;
  /**
   * The kv's `listenEpoch` when it was read: an entry read before this process's subscriber connection was last
   * lost may have missed its invalidation, so only an entry of the current epoch is served from memory.
   */
  epoch: number;
}

/**
 * A token that must never work again (revoked, rotated, replaced): a tombstone in the shared kv, which
 * resolvers only ever fill with `setIfAbsent`, so an edge that read the row just before the change cannot
 * write it back; then every process drops it from memory through pub/sub.
 */
export async function retireInstanceToken(deps: Pick<CoreDeps, "kv">, tokenHash: string): Promise<void> {
  await announce(deps.kv, tokenHash, TOMBSTONE);
}

/**
 * The marker (tombstone or reload) and the invalidation, in the shared kv. While the kv is degraded (Redis
 * unreachable) both reach this process only: edges that still hear Redis, and edges started after the outage,
 * would go on serving the entry Redis held from before it (for up to KV_TTL_MS). So the announcement is kept
 * here and made in Redis again as soon as it answers (a tombstone is never downgraded to a reload).
 */
async function announce(kv: Kv, tokenHash: string, marker: typeof TOMBSTONE | typeof RELOAD): Promise<void> {
  try {
    await kv.set(kvKey(tokenHash), marker, marker === TOMBSTONE ? KV_TTL_MS : RELOAD_TTL_MS);
    await kv.publish(INVALIDATION_CHANNEL, tokenHash);
  } finally {
    if (kv.degraded?.()) {
      const due = unannounced(kv);
      // Bounded: past it, edges that kept Redis fall back on the entries' own 5-minute expiry.
      if (due.size < MAX_UNANNOUNCED || due.has(tokenHash))
        due.set(tokenHash, due.get(tokenHash) === TOMBSTONE ? TOMBSTONE : marker);
    }
  }
}

const pendingAnnouncements = new WeakMap<Kv, Map<string, typeof TOMBSTONE | typeof RELOAD>>();
/** Announcements kept per process during one outage, at most (a token hash and a marker each). */
const MAX_UNANNOUNCED = 100_000;

/** Announcements made while `kv` was degraded, made again in Redis once it recovers (see `announce`). */
function unannounced(kv: Kv): Map<string, typeof TOMBSTONE | typeof RELOAD> {
  const known = pendingAnnouncements.get(kv);
  if (known) return known;
  const due = new Map<string, typeof TOMBSTONE | typeof RELOAD>();
  pendingAnnouncements.set(kv, due);
  kv.onDegradedChange?.((degraded) => {
    if (degraded) return;
    const now = [...due];
    due.clear();
    for (const [tokenHash, marker] of now) void announce(kv, tokenHash, marker).catch(() => {});
  });
  return due;
}

/**
 * Whether a token was retired (an invalidation is either a retirement or a refresh: see above). Read from the
 * shared kv, where the tombstone is written before the invalidation is published.
 */
export async function isInstanceTokenRetired(
  deps: Pick<CoreDeps, "kv">,
  tokenHash: string,
): Promise<boolean> {
  return (await deps.kv.get(kvKey(tokenHash))) === TOMBSTONE;
}

/**
 * A token that still works but whose cached entry is out of date (status, a new or re-sealed credential).
 * A short reload marker replaces the entry: an edge that read the old row just before the change cannot
 * write it back (resolvers only fill the kv with `setIfAbsent`), and lookups meanwhile read the database.
 */
export async function refreshInstanceToken(deps: Pick<CoreDeps, "kv">, tokenHash: string): Promise<void> {
  await announce(deps.kv, tokenHash, RELOAD);
}

/**
 * Token → instance, through a per-process LRU, then the shared kv, then Postgres. Listens for
 * invalidations so a revoked or rotated token is dropped from memory everywhere at once; a lookup
 * that raced an invalidation is not cached (generation check).
 */
export class InstanceResolver {
  private readonly local = lru<string, Local>(50_000, { ttl: LOCAL_TTL_MS });
  /** Unknown or revoked hashes. Safe to remember: a token is random and never becomes valid later. */
  private readonly missing = lru<string, true>(100_000, { ttl: LOCAL_TTL_MS });
  private readonly touched = lru<string, number>(50_000, { ttl: TOUCH_EVERY_MS });
  /** Credentials opened for an instance entry of `local` (see OPENED_TTL_MS): no AES-GCM open per call. */
  private readonly opened = new WeakMap<ResolvedInstance, { secret: CredentialSecret; at: number }>();
  private generation = 0;
  private unsubscribe?: () => Promise<void>;
  private stopWatching?: () => void;
  /** When the kv last came back from an outage (Date.now()): kv entries written before then may be stale. */
  private recoveredAt = 0;
  private readonly listeners = new Set<(tokenHash: string) => void>();

  constructor(private readonly deps: CoreDeps) {}

  async start(): Promise<void> {
    this.unsubscribe = await this.deps.kv.subscribe(INVALIDATION_CHANNEL, (tokenHash) => {
      this.generation++;
      this.local.delete(tokenHash);
      for (const listener of this.listeners) listener(tokenHash);
    });
    // Invalidations announced while Redis was down never arrived here, and the tombstones written then
    // never reached it: after an outage the kv's older entries are read as "reload" until they expire.
    this.stopWatching = this.deps.kv.onDegradedChange?.((degraded) => {
      this.generation++;
      if (!degraded) this.recoveredAt = Date.now();
    });
  }

  /** Called with each retired or refreshed token's hash (e.g. to close what was opened for it). */
  onInvalidate(listener: (tokenHash: string) => void): void {
    this.listeners.add(listener);
  }

  async stop(): Promise<void> {
    this.stopWatching?.();
    await this.unsubscribe?.();
  }

  private degraded(): boolean {
    return this.deps.kv.degraded?.() ?? false;
  }

  /** See `Local.epoch`: -1 while invalidations cannot be heard (the subscriber connection is away). */
  private epoch(): number {
    return this.deps.kv.listenEpoch?.() ?? 0;
  }

  /**
   * A local entry that may be served without asking anyone: one read while this process heard every
   * invalidation since (its epoch is the current one); while the kv is degraded, one that is recent.
   */
  private usable(entry: Local | undefined): entry is Local {
    if (!entry) return false;
    if (this.degraded()) return performance.now() - entry.at < DEGRADED_RECHECK_MS;
    return entry.epoch === this.epoch() && entry.epoch !== -1;
  }

  /**
   * What this process already knows of a token, without any I/O: the instance (a local hit), "missing"
   * (malformed, or known unknown or revoked), or undefined when only `resolve` can tell (kv, database).
   */
  peek(token: string): ResolvedInstance | "missing" | undefined {
    if (!isInstanceToken(token)) return "missing";
    const tokenHash = hashToken(token);
    const entry = this.local.get(tokenHash);
    if (entry) return this.usable(entry) ? entry.instance : undefined;
    return this.missing.has(tokenHash) ? "missing" : undefined;
  }

  /** Null for anything malformed, unknown or revoked; malformed tokens never reach a cache or the db. */
  async resolve(token: string): Promise<ResolvedInstance | null> {
    if (!isInstanceToken(token)) return null;
    const tokenHash = hashToken(token);
    const hit = this.local.get(tokenHash);
    if (this.usable(hit)) return hit.instance;
    if (hit && this.degraded()) return this.recheck(tokenHash, hit);
    if (this.missing.has(tokenHash)) return null;
    const generation = this.generation;
    // Redis answers, but invalidations may have been missed (see `Local.epoch`): read it again from the kv.
    const epoch = this.epoch();
    // Redis down: the kv holds nothing shared, so the database answers (and nothing is written back).
    const degraded = this.degraded();
    const cached = degraded ? null : await this.deps.kv.get(kvKey(tokenHash));
    const fromKv = cached && cached !== TOMBSTONE && cached !== RELOAD ? this.fromKv(cached) : undefined;
    const found = cached === TOMBSTONE ? null : (fromKv ?? (await this.loadOr503(tokenHash)));
    if (!found) {
      this.missing.set(tokenHash, true);
      return null;
    }
    if (generation === this.generation) {
      this.local.set(tokenHash, { instance: found, at: performance.now(), epoch });
      if (!cached && !degraded) {
        const entry = JSON.stringify({ ...found, cachedAt: Date.now() });
        await this.deps.kv.setIfAbsent(kvKey(tokenHash), entry, KV_TTL_MS);
      }
    }
    return found;
  }

  /** A kv entry, unless it was written before the end of an outage this process saw (then: undefined, reload). */
  private fromKv(cached: string): ResolvedInstance | undefined {
    const { cachedAt, ...instance } = JSON.parse(cached) as ResolvedInstance & { cachedAt?: number };
    const sinceRecovery = Date.now() - this.recoveredAt;
    if (this.recoveredAt > 0 && sinceRecovery < KV_TTL_MS && (cachedAt ?? 0) < this.recoveredAt)
      return undefined;
    return instance;
  }

  /**
   * An instance served from memory while the kv is degraded, re-read from the database: dropped when it
   * is gone or revoked, kept (and served) when the database cannot answer either.
   */
  private async recheck(tokenHash: string, hit: Local): Promise<ResolvedInstance | null> {
    let row: ResolvedInstance | null;
    try {
      row = await this.load(tokenHash);
    } catch (error) {
      this.deps.log.warn("instance re-check failed; serving the cached instance", { error });
      hit.at = performance.now();
      return hit.instance;
    }
    if (!row) {
      this.local.delete(tokenHash);
      this.missing.set(tokenHash, true);
      return null;
    }
    this.local.set(tokenHash, { instance: row, at: performance.now(), epoch: this.epoch() });
    return row;
  }

  /** The database's answer; a database that cannot answer is a 503, not an error of ours. */
  private async loadOr503(tokenHash: string): Promise<ResolvedInstance | null> {
    try {
      return await this.load(tokenHash);
    } catch (error) {
      throw new AppError("SERVICE_UNAVAILABLE", "Instance lookup unavailable", {
        cause: error,
        retryAfterMs: DATABASE_RETRY_AFTER_MS,
      });
    }
  }

  protected async load(tokenHash: string): Promise<ResolvedInstance | null> {
    const [row] = await this.deps.db
      .select({
        instanceId: instances.id,
        userId: instances.userId,
        orgId: instances.orgId,
        serviceType: instances.serviceType,
        credentialId: instances.credentialId,
        status: instances.status,
        keyVersion: credentials.keyVersion,
        ciphertext: credentials.ciphertext,
        toolAllowlist: instances.toolAllowlist,
        readOnly: instances.readOnly,
        rateLimitPerMinute: instances.rateLimitPerMinute,
      })
      .from(instances)
      .innerJoin(credentials, eq(credentials.id, instances.credentialId))
      .where(and(eq(instances.tokenHash, tokenHash), ne(instances.status, "revoked")))
      .limit(1);
    if (!row || row.status === "revoked") return null;
    const { keyVersion, ciphertext, status, ...rest } = row;
    return { ...rest, status, sealed: { keyVersion, ciphertext }, tokenHash };
  }

  /**
   * The instance's credential, opened in memory (frozen: callers share it). Reused for OPENED_TTL_MS on the
   * same instance entry; null (never remembered) when it does not open.
   */
  credential(instance: ResolvedInstance): CredentialSecret | null {
    const now = performance.now();
    const hit = this.opened.get(instance);
    if (hit && now - hit.at < OPENED_TTL_MS) return hit.secret;
    const secret = openCredential(
      this.deps.keyring,
      { id: instance.credentialId, userId: instance.userId, serviceType: instance.serviceType },
      instance.sealed,
    );
    if (!secret) {
      this.opened.delete(instance);
      return null;
    }
    deepFreeze(secret);
    this.opened.set(instance, { secret, at: now });
    return secret;
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

  /**
   * The upstream rejected the stored key: flag the instance so the owner is told to reconnect. Only while the
   * credential is still the one the refused call used: a call made with the old key, refused after the owner put
   * a new one in place (`updateCredentials`, a reconnect), must not mark the new key.
   */
  async markNeedsReauth(instance: ResolvedInstance): Promise<void> {
    const sameCredential = this.deps.db
      .select({ id: credentials.id })
      .from(credentials)
      .where(
        and(
          eq(credentials.id, instance.credentialId),
          eq(credentials.ciphertext, instance.sealed.ciphertext),
        ),
      );
    const rows = await this.deps.db
      .update(instances)
      .set({ status: "needs_reauth" })
      .where(
        and(
          eq(instances.id, instance.instanceId),
          eq(instances.status, "active"),
          inArray(instances.credentialId, sameCredential),
        ),
      )
      .returning({ tokenHash: instances.tokenHash });
    if (rows[0]) await refreshInstanceToken(this.deps, rows[0].tokenHash);
  }
}

function deepFreeze(value: unknown): void {
  if (typeof value !== "object" || value === null || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const item of Object.values(value)) deepFreeze(item);
}
