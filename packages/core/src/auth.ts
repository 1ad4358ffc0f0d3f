import { DrizzlePostgreSQLAdapter } from "@lucia-auth/adapter-drizzle";
import { hashToken, randomSecret } from "@mcp/crypto";
import { type Db, perDatabase, sessions, users } from "@mcp/db";
import { and, desc, eq, lte, ne, notInArray, or, sql } from "drizzle-orm";
import { type DatabaseSession, type DatabaseUser, Lucia, TimeSpan } from "lucia";
import type { CoreDeps } from "./deps.ts";
import { fail, ok, type Result } from "./errors.ts";
import { newId } from "./ids.ts";
import { personalOrgOf } from "./orgs.ts";

export interface PublicUser {
  id: string;
  email: string;
  createdAt: Date;
}

/** Where and with what a session was opened, shown in `account.sessions` (both optional, both bounded). */
export interface SessionMeta {
  userAgent?: string | null;
  ip?: string | null;
}

// What lucia writes beside a session's id, user and expiry (the sessions table's other columns have defaults).
declare module "lucia" {
  interface Register {
    DatabaseSessionAttributes: { userAgent: string | null; ip: string | null };
  }
}

export const SESSION_COOKIE = "mcp_session";
/**
 * With secure cookies (production) the name carries the `__Host-` prefix: browsers then accept it only
 * with `Secure`, `Path=/` and no `Domain`, so a sibling subdomain cannot plant or shadow it.
 */
export const SECURE_SESSION_COOKIE = `__Host-${SESSION_COOKIE}`;
/**
 * Whether session cookies are `Secure` (and so `__Host-` prefixed): in production, and whenever the control
 * plane's public URL is https, whatever NODE_ENV says: a cookie of an https site must never travel over http.
 */
export function secureCookiesFor(env: { NODE_ENV: string; PUBLIC_URL?: string }): boolean {
  return env.NODE_ENV === "production" || /^https:/i.test(env.PUBLIC_URL ?? "");
}
const BAD_LOGIN = "Invalid email or password";
/** What a session secret looks like (`randomSecret()`: 43 base64url characters); anything else is junk. */
const SESSION_SECRET = /^[A-Za-z0-9_-]{43}$/;

/**
 * The session secret from a Cookie header. Other cookies are none of our business: one that does not
 * parse (bad percent-encoding, no `=`) is skipped, never thrown on, and a value of ours that is not a
 * well-formed secret is ignored, so the request simply proceeds unauthenticated.
 */
export function readSessionCookie(header: string, name: string): string | null {
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    try {
      value = decodeURIComponent(value);
    } catch {
      continue;
    }
    if (SESSION_SECRET.test(value)) return value;
  }
  return null;
}

/**
 * The lookup every signed-in request makes (a session and its user), built once per database as a prepared
 * query (building it was about a tenth of a control-plane call's CPU); of the user it reads only what lucia
 * needs, its id: the password hash stays in the database.
 */
const sessionLookup = perDatabase((db) =>
  db
    .select({ session: sessions, userId: users.id })
    .from(sessions)
    .innerJoin(users, eq(sessions.userId, users.id))
    .where(eq(sessions.id, sql.placeholder("id")))
    .prepare("session_and_user"),
);

/** lucia's drizzle adapter, with `sessionLookup` for the session and its user. */
class SessionAdapter extends DrizzlePostgreSQLAdapter {
  constructor(private readonly database: Db) {
    super(database, sessions, users);
  }

  override async getSessionAndUser(
    sessionId: string,
  ): Promise<[session: DatabaseSession | null, user: DatabaseUser | null]> {
    const rows = await sessionLookup(this.database).execute({ id: sessionId });
    const row = rows[0];
    if (rows.length !== 1 || !row) return [null, null];
    const { id, userId, expiresAt, ...attributes } = row.session;
    return [
      { id, userId, expiresAt, attributes },
      { id: row.userId, attributes: {} },
    ];
  }
}

/** Sessions a user keeps at once: a new one ends the oldest past it (`account.sessions` lists them all). */
export const MAX_SESSIONS_PER_USER = 100;

/**
 * Bounds a user's sessions once `kept` was made: their expired rows (lucia deletes one only when its cookie comes
 * back) and the oldest past MAX_SESSIONS_PER_USER are deleted, never `kept` itself. Without it a script signing
 * in over and over grew the table without end.
 */
async function pruneSessions(db: Db, userId: string, kept: string): Promise<void> {
  const newest = db
    .select({ id: sessions.id })
    .from(sessions)
    .where(and(eq(sessions.userId, userId), ne(sessions.id, kept)))
    .orderBy(desc(sessions.createdAt), desc(sessions.publicId))
    .limit(MAX_SESSIONS_PER_USER - 1);
  await db
    .delete(sessions)
    .where(
      and(
        eq(sessions.userId, userId),
        ne(sessions.id, kept),
        or(lte(sessions.expiresAt, new Date()), notInArray(sessions.id, newest)),
      ),
    );
}

/**
 * Lucia is kept behind this module (it is no longer maintained upstream). The cookie holds a random
 * secret; lucia's session id — the only thing stored — is its SHA-256.
 */
export function createSessionStore(db: Db, opts: { secureCookies: boolean }) {
  const cookieName = opts.secureCookies ? SECURE_SESSION_COOKIE : SESSION_COOKIE;
  const lucia = new Lucia(new SessionAdapter(db), {
    sessionExpiresIn: new TimeSpan(30, "d"),
    sessionCookie: { name: cookieName, attributes: { secure: opts.secureCookies, sameSite: "lax" } },
  });
  return {
    async create(userId: string, meta: SessionMeta = {}): Promise<{ token: string; cookie: string }> {
      const token = randomSecret();
      const attributes = {
        userAgent: meta.userAgent?.slice(0, 256) ?? null,
        ip: meta.ip?.slice(0, 64) ?? null,
      };
      const sessionId = hashToken(token);
      await lucia.createSession(userId, attributes, { sessionId });
      await pruneSessions(db, userId, sessionId);
      return { token, cookie: lucia.createSessionCookie(token).serialize() };
    },
    /** The user id behind a cookie's token, or null; also a refreshed cookie when lucia extended it. */
    async validate(token: string): Promise<{ userId: string; cookie?: string } | null> {
      const { session } = await lucia.validateSession(hashToken(token));
      if (!session) return null;
      return {
        userId: session.userId,
        cookie: session.fresh ? lucia.createSessionCookie(token).serialize() : undefined,
      };
    },
    async invalidate(token: string): Promise<string> {
      await lucia.invalidateSession(hashToken(token));
      return lucia.createBlankSessionCookie().serialize();
    },
    /** A Set-Cookie value that clears the session cookie (after the rows themselves were deleted). */
    blankCookie: () => lucia.createBlankSessionCookie().serialize(),
    /** Never throws: lucia's own parser throws on any malformed cookie of any name. */
    readCookie: (header: string) => readSessionCookie(header, cookieName),
  };
}
export type SessionStore = ReturnType<typeof createSessionStore>;

const toPublic = (u: { id: string; email: string; createdAt: Date }): PublicUser => ({
  id: u.id,
  email: u.email,
  createdAt: u.createdAt,
});

export async function signUp(
  deps: Pick<CoreDeps, "db" | "passwordHashing">,
  input: { email: string; password: string },
): Promise<Result<PublicUser, "CONFLICT">> {
  const email = input.email.trim().toLowerCase();
  const passwordHash = await hashPassword(input.password, deps.passwordHashing);
  const rows = await deps.db
    .insert(users)
    .values({ id: newId("usr"), email, passwordHash })
    .onConflictDoNothing({ target: users.email })
    .returning();
  const row = rows[0];
  if (!row) return fail("CONFLICT", "An account with this email already exists");
  // Personal use is the default: every account starts with its own organisation.
  await personalOrgOf(deps.db, row.id);
  return ok(toPublic(row));
}

// Verifying against a real hash (of the same cost) when the email is unknown keeps both failures equally slow.
const dummyHashes = new Map<string, Promise<string>>();

/**
 * A password checked against its account. A hash made with another cost than the configured one (the
 * operator raised PASSWORD_HASH_MEMORY_KIB, say) is replaced by one of the configured cost on the way in,
 * unless the password changed meanwhile.
 */
export async function signIn(
  deps: Pick<CoreDeps, "db" | "passwordHashing">,
  input: { email: string; password: string },
): Promise<Result<PublicUser, "UNAUTHORIZED">> {
  const email = input.email.trim().toLowerCase();
  const cost = deps.passwordHashing ?? DEFAULT_PASSWORD_HASHING;
  // Made before the lookup, whatever the email: the first sign-in of a process pays for it either way.
  const costKey = `${cost.memoryKib},${cost.iterations}`;
  const dummyHash = dummyHashes.get(costKey) ?? hashPassword(randomSecret(), cost);
  dummyHashes.set(costKey, dummyHash);
  const dummy = await dummyHash;
  const [row] = await deps.db.select().from(users).where(eq(users.email, email)).limit(1);
  const valid = await Bun.password.verify(input.password, row?.passwordHash ?? dummy);
  if (!row || !valid) return fail("UNAUTHORIZED", BAD_LOGIN);
  if (needsRehash(row.passwordHash, cost)) {
    await deps.db
      .update(users)
      .set({ passwordHash: await hashPassword(input.password, cost) })
      .where(and(eq(users.id, row.id), eq(users.passwordHash, row.passwordHash)));
  }
  return ok(toPublic(row));
}

export async function getUser(deps: Pick<CoreDeps, "db">, userId: string): Promise<PublicUser | null> {
  const [row] = await deps.db.select().from(users).where(eq(users.id, userId)).limit(1);
  return row ? toPublic(row) : null;
}

/**
 * The stored hash of a signed-in user's password when `password` matches it, else null (also for a user that
 * is gone). Callers pass the hash back into their write so a password changed meanwhile is not overwritten.
 */
export async function verifyPassword(
  deps: Pick<CoreDeps, "db">,
  userId: string,
  password: string,
): Promise<string | null> {
  const [row] = await deps.db
    .select({ passwordHash: users.passwordHash })
    .from(users)
    .where(eq(users.id, userId))
    .limit(1);
  if (!row) return null;
  return (await Bun.password.verify(password, row.passwordHash)) ? row.passwordHash : null;
}

/** argon2id's cost (PASSWORD_HASH_MEMORY_KIB, PASSWORD_HASH_ITERATIONS). */
export interface PasswordHashing {
  memoryKib: number;
  iterations: number;
}

/** Bun's own argon2id defaults: 64 MiB, two passes. */
export const DEFAULT_PASSWORD_HASHING: PasswordHashing = { memoryKib: 65_536, iterations: 2 };

/** argon2id, as every stored password (one lane: the cost is memory and passes). */
export function hashPassword(
  password: string,
  cost: PasswordHashing = DEFAULT_PASSWORD_HASHING,
): Promise<string> {
  return Bun.password.hash(password, {
    algorithm: "argon2id",
    memoryCost: cost.memoryKib,
    timeCost: cost.iterations,
  });
}

/** Whether a stored hash is anything but argon2id of exactly `cost` (its PHC string says how it was made). */
export function needsRehash(hash: string, cost: PasswordHashing): boolean {
  const made = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=1\$/.exec(hash);
  return !made || Number(made[1]) !== cost.memoryKib || Number(made[2]) !== cost.iterations;
}
