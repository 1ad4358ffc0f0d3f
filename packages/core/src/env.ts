import { z } from "zod";

/**
 * A whole number within bounds, digits only: a blank, `1e3` or `0x10` is refused, never read as 0 (which for
 * several settings means "unlimited" or "off").
 */
const whole = (min: number, max: number) =>
  z
    .string()
    .regex(/^[0-9]{1,10}$/, "must be a whole number")
    .transform(Number)
    .pipe(z.number().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));
const port = whole(0, 65_535);
/**
 * A connection URL of one of `protocols`. The message never repeats the value (it holds a password); a `#`,
 * `/` or `@` in the password must be percent-encoded, or the URL parses as something else (a `#` starts a
 * fragment that the drivers drop, taking the rest of the password and the host with it).
 */
const connectionUrl = (protocols: string[], example: string) =>
  z.string().refine((value) => {
    try {
      const url = new URL(value);
      return protocols.includes(url.protocol) && url.hash === "" && !value.includes("#");
    } catch {
      return false;
    }
  }, `must be a URL like ${example} (percent-encode any of # / @ : in the user name or password)`);
/** An http(s) URL (a base handed out to users or matched against Host). */
const httpUrl = z.url({ protocol: /^https?$/, error: "must be an http(s) URL" });
/** Requests per minute: digits only (a blank or `1e3` is refused, never read as 0 = unlimited). */
const perMinute = z
  .string()
  .regex(/^[0-9]{1,9}$/, "must be a whole number of requests per minute (0 = unlimited)")
  .transform(Number);

/** The environment every process of the platform reads (CONTRACT.md); parsed once per app. */
export const ZPlatformEnv = z.object({
  PORT: port.default(3000),
  EDGE_PORT: port.default(3001),
  HOST: z.string().min(1).default("127.0.0.1"),
  PUBLIC_EDGE_URL: httpUrl.optional(),
  PUBLIC_URL: httpUrl.optional(),
  DATABASE_URL: connectionUrl(
    ["postgres:", "postgresql:"],
    "postgres://user:password@host:5432/db",
  ).optional(),
  REDIS_URL: connectionUrl(["redis:", "rediss:"], "redis://:password@host:6379/0").optional(),
  /** Deadline of one Redis call in ms (default 100); past it the call is served by the per-process fallback. */
  REDIS_TIMEOUT_MS: z
    .string()
    .regex(/^[1-9][0-9]{0,5}$/, "must be a whole number of milliseconds")
    .optional(),
  DATA_DIR: z.string().min(1).default(".data"),
  ENCRYPTION_KEYS: z.string().min(1).optional(),
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
  /** Set to 1 to let custom MCP servers live on private or loopback addresses (SSRF rules off). */
  ALLOW_PRIVATE_UPSTREAMS: z.enum(["0", "1"]).default("0"),
  /** Set to 1 behind a reverse proxy that sets X-Forwarded-For (per-address limits read it). */
  TRUST_PROXY: z.enum(["0", "1"]).default("0"),
  /**
   * Comma-separated extra origins allowed to call the edge and the control plane from a browser (spaces around
   * each allowed; each an http(s) origin, kept as the browser sends it: `https://app.example`).
   */
  ALLOWED_ORIGINS: z
    .string()
    .default("")
    .transform((value, ctx) => {
      const origins: string[] = [];
      for (const entry of value.split(",").map((o) => o.trim())) {
        if (entry === "") continue;
        const origin = URL.canParse(entry) ? new URL(entry) : undefined;
        // An origin is scheme, host and port: a path, query, fragment or credentials would be cut away silently
        // (the origin allowed then not the one the operator wrote), so they are refused; a trailing `/` is fine.
        const extra =
          origin &&
          (origin.pathname !== "/" || origin.search || origin.hash || origin.username || origin.password);
        if (!origin || !/^https?:$/.test(origin.protocol) || extra || /[?#]/.test(entry)) {
          // Never echoed with a user name or password in it.
          const shown =
            origin?.username || origin?.password
              ? "an entry with credentials"
              : JSON.stringify(entry.slice(0, 100));
          ctx.addIssue({
            code: "custom",
            message: `${shown} is not an http(s) origin (scheme, host and port only)`,
          });
          continue;
        }
        origins.push(origin.origin);
      }
      return origins;
    }),
  /** Bearer token required to read the edge's /metrics (at least 16 characters). */
  METRICS_TOKEN: z.string().min(16, "METRICS_TOKEN must be at least 16 characters").max(256).optional(),
  /** Serve /metrics on this port instead of on the edge's port. */
  METRICS_PORT: port.optional(),
  /** Bind address of the METRICS_PORT listener (loopback unless asked: metrics name services and traffic). */
  METRICS_HOST: z.string().min(1).default("127.0.0.1"),
  /** Requests per minute for one instance, overriding every service definition; 0 = unlimited. */
  RATE_LIMIT_PER_INSTANCE: perMinute.optional(),
  /** Requests per minute for one user across their instances; 0 = unlimited. */
  RATE_LIMIT_PER_USER: perMinute.optional(),
  /** Invalid instance tokens one client address may send per minute before it gets 429s; 0 = no limit. */
  RATE_LIMIT_INVALID_TOKENS: whole(0, 1_000_000).optional(),
  /**
   * An edge's quiet time (ms without a request, after some) before it collects what its last burst left (a
   * full GC, at most one per ten seconds); 0 = never.
   */
  IDLE_GC_MS: whole(0, 60_000).default(1_000),
  /** How often the health monitor checks every service's edge and upstream; 0 = no monitor in this process. */
  HEALTH_CHECK_INTERVAL_MS: whole(0, 86_400_000).default(30_000),
  /** Deadline of one health request (edge /health or upstream). */
  HEALTH_CHECK_TIMEOUT_MS: whole(50, 60_000).default(5_000),
  /** Checks kept per service in the kv's health history. */
  HEALTH_HISTORY_LENGTH: whole(1, 10_000).default(100),
  /** argon2id memory per password hash, KiB (default 64 MiB; at least OWASP's minimum, 19 MiB). */
  PASSWORD_HASH_MEMORY_KIB: whole(19_456, 1_048_576).default(65_536),
  /** argon2id passes per password hash (default 2; at least 2). */
  PASSWORD_HASH_ITERATIONS: whole(2, 16).default(2),
  /** The one service type an edge process serves (`SERVICE_MODE=shared`); unset: every service. */
  MCP_TYPE: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]*$/, "must be a service type, e.g. figma")
    .optional(),
  /** `shared`: one service (MCP_TYPE) for every user; `dynamic`: every service. Unset: shared with MCP_TYPE, else dynamic. */
  SERVICE_MODE: z.enum(["shared", "dynamic"]).optional(),
});
export type PlatformEnv = z.infer<typeof ZPlatformEnv>;

/**
 * `parseEnv` for a process's entry point: a bad value ends the process with one line naming the variable (and
 * never its value), not a stack trace.
 */
export function parseEnvOrExit(source: Record<string, string | undefined> = process.env): PlatformEnv {
  try {
    return parseEnv(source);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(1);
  }
}

export function parseEnv(source: Record<string, string | undefined> = process.env): PlatformEnv {
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = ZPlatformEnv.safeParse(cleaned);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new Error(`invalid environment: ${issues}`);
  }
  return parsed.data;
}

export function publicEdgeUrl(env: PlatformEnv, edgePort = env.EDGE_PORT): string {
  return (env.PUBLIC_EDGE_URL ?? `http://127.0.0.1:${edgePort}`).replace(/\/+$/, "");
}

/** `SERVICE_<TYPE>_PUBLIC_URL=...` entries of `source`, checked as URLs: per-service bases of instance URLs. */
export function servicePublicUrls(
  source: Record<string, string | undefined> = process.env,
): Record<string, string> {
  const urls: Record<string, string> = {};
  for (const [name, value] of Object.entries(source)) {
    if (!value || !/^SERVICE_[A-Z0-9_]+_PUBLIC_URL$/.test(name)) continue;
    if (!z.url({ protocol: /^https?$/ }).safeParse(value).success)
      throw new Error(`invalid environment: ${name}: must be an http(s) URL`);
    urls[name] = value.replace(/\/+$/, "");
  }
  return urls;
}

/**
 * The control plane and the edge as separate processes must share PostgreSQL and Redis: an embedded
 * database is single-process, and an in-process bus would not carry revocations to the edge.
 */
export function assertSharedBackends(env: PlatformEnv, processName: string): void {
  if (env.DATABASE_URL && env.REDIS_URL) return;
  throw new Error(
    `${processName} as its own process needs DATABASE_URL and REDIS_URL (shared with the other processes); ` +
      "to run everything in one process on the embedded backends, use `bun run dev`.",
  );
}
