import { credentials, instances } from "@mcp/db";
import { and, eq, ne } from "drizzle-orm";
import { openCredential, sealCredential } from "./credentials.ts";
import type { CoreDeps } from "./deps.ts";
import { refreshInstanceToken } from "./resolve.ts";

export interface ResealReport {
  resealed: number;
  /** Rows whose ciphertext could not be opened with any key in the ring (left untouched). */
  unreadable: string[];
}

/**
 * Re-seals every credential not under the keyring's current version, in batches. Run after adding a new
 * key to ENCRYPTION_KEYS; once it reports no unreadable rows, the old key can be removed.
 */
export async function resealCredentials(
  deps: Pick<CoreDeps, "db" | "keyring" | "kv">,
  opts: { batch?: number /** Only this user's credentials (one tenant at a time). */; userId?: string } = {},
): Promise<ResealReport> {
  const batch = opts.batch ?? 500;
  const report: ResealReport = { resealed: 0, unreadable: [] };
  const current = deps.keyring.current;
  const skip = new Set<string>();
  for (;;) {
    const rows = await deps.db
      .select()
      .from(credentials)
      .where(
        and(
          ne(credentials.keyVersion, current),
          opts.userId ? eq(credentials.userId, opts.userId) : undefined,
        ),
      )
      .limit(batch + skip.size);
    const todo = rows.filter((r) => !skip.has(r.id));
    if (todo.length === 0) return report;
    for (const row of todo) {
      const secret = openCredential(deps.keyring, row, row);
      if (!secret) {
        skip.add(row.id);
        report.unreadable.push(row.id);
        continue;
      }
      const sealed = sealCredential(deps.keyring, row, secret);
      // Only if nobody re-connected in between (the row still holds what we opened).
      const updated = await deps.db
        .update(credentials)
        .set(sealed)
        .where(and(eq(credentials.id, row.id), eq(credentials.ciphertext, row.ciphertext)))
        .returning({ id: credentials.id });
      if (updated.length === 0) continue;
      report.resealed++;
      // Cached entries carry the old ciphertext; drop them so the old key can be removed at once.
      const using = await deps.db
        .select({ tokenHash: instances.tokenHash })
        .from(instances)
        .where(eq(instances.credentialId, row.id));
      for (const { tokenHash } of using) await refreshInstanceToken(deps, tokenHash);
    }
  }
}
