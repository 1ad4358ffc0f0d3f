import { ENVELOPE_PREFIX, isEnvelope, type Keys, keyProvider } from "@mcp/crypto";
import { credentials, instances } from "@mcp/db";
import { and, asc, count, eq, gt, inArray, ne, notLike, or, type SQL, sql } from "drizzle-orm";
import { z } from "zod";
import { rewrapCredential } from "./credentials.ts";
import type { CoreDeps } from "./deps.ts";
import { refreshInstanceToken } from "./resolve.ts";

/** Bounds of one rotation run (`bun run keys:rotate` parses its flags with this). */
export const ZRotateOptions = z.object({
  /** Rows read and updated per batch (one short statement each). */
  batch: z.number().int().min(1).max(5_000).default(500),
  /** Stop after this many batches (a later run picks up what is left). */
  maxBatches: z.number().int().min(1).max(10_000_000).optional(),
  /** Pause between batches, to leave the database to live traffic. */
  pauseMs: z.number().int().min(0).max(60_000).default(0),
});

/** Counts so far, reported after each batch. */
export interface RotationProgress {
  batches: number;
  /** Envelopes whose data key was wrapped again under the current key (payload untouched). */
  rewrapped: number;
  /** Legacy values sealed afresh as envelopes. */
  converted: number;
  /** Rows that changed between read and write (a reconnect): left as the reconnect wrote them. */
  changed: number;
  /** Rows that open under no key in the ring (left as they are). */
  unreadable: number;
}

export interface ResealReport extends Omit<RotationProgress, "unreadable"> {
  /** Rewrapped + converted. */
  resealed: number;
  /** Ids of the rows that open under no key in the ring (the first MAX_LISTED). */
  unreadable: string[];
  unreadableCount: number;
  /** True when the run reached the end of the table (false: stopped by `maxBatches`, `signal` or the kv). */
  done: boolean;
  /**
   * Stopped because the kv (Redis) did not answer: `before-batch` (nothing of that batch read or written; the
   * batches before it were announced), or `announcing` the last batch's rewritten rows (their reload markers may
   * have reached this process only, so edges can hold those rows' old ciphertexts until their cached entries
   * expire). Null when the kv answered throughout.
   */
  kvUnavailable: "before-batch" | "announcing" | null;
}

const MAX_LISTED = 1_000;
type Scope = { userId?: string; userIds?: readonly string[] };
const scoped = (opts: Scope): SQL | undefined =>
  opts.userId
    ? eq(credentials.userId, opts.userId)
    : opts.userIds && inArray(credentials.userId, [...opts.userIds]);

/**
 * Brings every credential under the ring's current master key, online: keyset pages of `batch` rows in id
 * order, never a long transaction or a table lock. An envelope only gets its data key rewrapped (its payload
 * is not touched); a legacy value is sealed afresh as an envelope. Each batch is one UPDATE that is a
 * compare-and-set on every row's old ciphertext, so a reconnect made meanwhile is never overwritten (it is
 * counted as `changed`). Stopping at any point leaves every row openable with the same ring, and running
 * again picks up what is left. Rewrapped rows' cached instance entries are refreshed, so once this reports
 * `done` with nothing unreadable the old key can be removed at once.
 */
export async function resealCredentials(
  deps: Pick<CoreDeps, "db" | "kv"> & { keyring: Keys },
  opts: Partial<z.input<typeof ZRotateOptions>> &
    Scope & {
      signal?: AbortSignal;
      onBatch?: (progress: RotationProgress) => void;
    } = {},
): Promise<ResealReport> {
  const { batch, maxBatches, pauseMs } = ZRotateOptions.parse({
    batch: opts.batch,
    maxBatches: opts.maxBatches,
    pauseMs: opts.pauseMs,
  });
  const provider = keyProvider(deps.keyring);
  const current = provider.current;
  const report: ResealReport = {
    batches: 0,
    resealed: 0,
    rewrapped: 0,
    converted: 0,
    changed: 0,
    unreadable: [],
    unreadableCount: 0,
    done: false,
    kvUnavailable: null,
  };
  let cursor = "";
  while (!opts.signal?.aborted && (maxBatches === undefined || report.batches < maxBatches)) {
    // A row rewritten while Redis is out would keep its old ciphertext in the edges' cached entries (its reload
    // marker reaching this process only), and `done` would be reported all the same: nothing is written then.
    if (!(await kvAnswers(deps.kv))) {
      report.kvUnavailable = "before-batch";
      break;
    }
    const rows = await deps.db
      .select()
      .from(credentials)
      .where(
        and(
          gt(credentials.id, cursor),
          or(ne(credentials.keyVersion, current), notLike(credentials.ciphertext, `${ENVELOPE_PREFIX}%`)),
          scoped(opts),
        ),
      )
      .orderBy(asc(credentials.id))
      .limit(batch);
    const last = rows.at(-1);
    if (!last) {
      report.done = true;
      break;
    }
    cursor = last.id;
    const updates: SQL[] = [];
    const legacy = new Set<string>();
    for (const row of rows) {
      const sealed = rewrapCredential(provider, row, row);
      if (!sealed) {
        report.unreadableCount++;
        if (report.unreadable.length < MAX_LISTED) report.unreadable.push(row.id);
        continue;
      }
      if (!isEnvelope(row.ciphertext)) legacy.add(row.id);
      updates.push(
        sql`(${row.id}::text, ${row.ciphertext}::text, ${sealed.ciphertext}::text, ${sealed.keyVersion}::integer)`,
      );
    }
    const written = updates.length === 0 ? [] : await writeBatch(deps, updates);
    const converted = written.filter((id) => legacy.has(id)).length;
    report.converted += converted;
    report.rewrapped += written.length - converted;
    report.resealed += written.length;
    report.changed += updates.length - written.length;
    report.batches++;
    if (written.length > 0) {
      await refreshCached(deps, written);
      // Lost while announcing them: say so, and stop.
      if (deps.kv.degraded?.() === true) report.kvUnavailable = "announcing";
    }
    opts.onBatch?.({
      batches: report.batches,
      rewrapped: report.rewrapped,
      converted: report.converted,
      changed: report.changed,
      unreadable: report.unreadableCount,
    });
    if (report.kvUnavailable) break;
    if (rows.length < batch) {
      report.done = true;
      break;
    }
    if (pauseMs > 0) await pause(pauseMs, opts.signal);
  }
  return report;
}

/** Waits `ms`, or until `signal` aborts (Ctrl-C during a long `--pause-ms` stops at once, between batches). */
function pause(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** Whether the kv is up: always for an in-process kv; Redis answers a ping, and is not running degraded. */
async function kvAnswers(kv: CoreDeps["kv"]): Promise<boolean> {
  if (kv.degraded === undefined) return true;
  return (await kv.ping().catch(() => false)) && !kv.degraded();
}

/** One statement: each row is updated only while it still holds the ciphertext that was read. */
async function writeBatch(deps: Pick<CoreDeps, "db">, updates: SQL[]): Promise<string[]> {
  const rows = await deps.db
    .update(credentials)
    .set({ keyVersion: sql`v.key_version`, ciphertext: sql`v.ciphertext` })
    .from(sql`(values ${sql.join(updates, sql`, `)}) as v(id, old, ciphertext, key_version)`)
    .where(and(eq(credentials.id, sql`v.id`), eq(credentials.ciphertext, sql`v.old`)))
    .returning({ id: credentials.id });
  return rows.map((r) => r.id);
}

/** Cached instance entries carry the old ciphertext (which opens until the old key goes): refresh them. */
async function refreshCached(deps: Pick<CoreDeps, "db" | "kv">, credentialIds: string[]): Promise<void> {
  const using = await deps.db
    .select({ tokenHash: instances.tokenHash })
    .from(instances)
    .where(and(inArray(instances.credentialId, credentialIds), ne(instances.status, "revoked")));
  await Promise.all(using.map(({ tokenHash }) => refreshInstanceToken(deps, tokenHash)));
}

/** Rows under one master-key version, by format. */
export interface KeyVersionRows {
  keyVersion: number;
  envelope: number;
  legacy: number;
  /** Whether this process's ring holds that version (false: those rows open nowhere). */
  inKeyring: boolean;
}

export interface KeyStatus {
  /** The version new values are sealed under. */
  current: number;
  /** Every version in the ring, newest first. */
  keyring: number[];
  versions: KeyVersionRows[];
  total: number;
  /** Rows `resealCredentials` still has work on (legacy, or under an older version). */
  pending: number;
  /** Rows whose version is missing from the ring. */
  missingKey: number;
  /**
   * Versions of the ring whose key opens none of the rows sampled under that version (up to WRONG_KEY_SAMPLE
   * each): not the key they were sealed with (a mistyped or regenerated `vN:` entry). Their rows open nowhere.
   */
  wrongKey: number[];
}

/** Rows tried per version by `keyStatus`: one row that does not open is damage, none of several a wrong key. */
const WRONG_KEY_SAMPLE = 3;

const ENVELOPE_ROW = sql<boolean>`${credentials.ciphertext} like ${sql.raw(`'${ENVELOPE_PREFIX}%'`)}`;

/** `bun run keys:status`: credentials per master-key version and format, against this process's ring. */
export async function keyStatus(
  deps: Pick<CoreDeps, "db"> & { keyring: Keys },
  opts: Scope = {},
): Promise<KeyStatus> {
  const provider = keyProvider(deps.keyring);
  const ring = provider.versions();
  const groups = await deps.db
    .select({ keyVersion: credentials.keyVersion, envelope: ENVELOPE_ROW, rows: count() })
    .from(credentials)
    .where(scoped(opts))
    .groupBy(credentials.keyVersion, ENVELOPE_ROW)
    .orderBy(asc(credentials.keyVersion));
  const byVersion = new Map<number, KeyVersionRows>();
  for (const g of groups) {
    const entry = byVersion.get(g.keyVersion) ?? {
      keyVersion: g.keyVersion,
      envelope: 0,
      legacy: 0,
      inKeyring: ring.includes(g.keyVersion),
    };
    if (g.envelope) entry.envelope += g.rows;
    else entry.legacy += g.rows;
    byVersion.set(g.keyVersion, entry);
  }
  const versions = [...byVersion.values()].sort((a, b) => b.keyVersion - a.keyVersion);
  const wrongKey: number[] = [];
  for (const v of versions) {
    if (!v.inKeyring) continue;
    const sample = await deps.db
      .select()
      .from(credentials)
      .where(and(eq(credentials.keyVersion, v.keyVersion), scoped(opts)))
      .orderBy(asc(credentials.id))
      .limit(WRONG_KEY_SAMPLE);
    if (sample.length > 0 && sample.every((row) => rewrapCredential(provider, row, row) === null))
      wrongKey.push(v.keyVersion);
  }
  const sum = (pick: (v: KeyVersionRows) => number) => versions.reduce((n, v) => n + pick(v), 0);
  return {
    current: provider.current,
    keyring: ring,
    versions,
    total: sum((v) => v.envelope + v.legacy),
    pending: sum((v) => (v.keyVersion === provider.current ? v.legacy : v.envelope + v.legacy)),
    missingKey: sum((v) => (v.inKeyring ? 0 : v.envelope + v.legacy)),
    wrongKey,
  };
}
