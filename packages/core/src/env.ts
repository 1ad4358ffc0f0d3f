import { z } from "zod";

const port = z.coerce.number().int().min(0).max(65_535);
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
  PUBLIC_EDGE_URL: z.url().optional(),
  PUBLIC_URL: z.url().optional(),
  DATABASE_URL: z.string().min(1).optional(),
  REDIS_URL: z.string().min(1).optional(),
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
  /** Comma-separated extra origins allowed to call the edge and the control plane from a browser. */
  ALLOWED_ORIGINS: z.string().default(""),
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
  RATE_LIMIT_INVALID_TOKENS: z.coerce.number().int().min(0).max(1_000_000).optional(),
  /**
   * An edge's quiet time (ms without a request, after some) before it collects what its last burst left (a
   * full GC, at most one per ten seconds); 0 = never.
   */
  IDLE_GC_MS: z.coerce.number().int().min(0).max(60_000).default(1_000),
  /** How often the health monitor checks every service's edge and upstream; 0 = no monitor in this process. */
  HEALTH_CHECK_INTERVAL_MS: z.coerce.number().int().min(0).max(86_400_000).default(30_000),
  /** Deadline of one health request (edge /health or upstream). */
  HEALTH_CHECK_TIMEOUT_MS: z.coerce.number().int().min(50).max(60_000).default(5_000),
  /** Checks kept per service in the kv's health history. */
  HEALTH_HISTORY_LENGTH: z.coerce.number().int().min(1).max(10_000).default(100),
  /** argon2id memory per password hash, KiB (default 64 MiB; at least OWASP's minimum, 19 MiB). */
  PASSWORD_HASH_MEMORY_KIB: z.coerce.number().int().min(19_456).max(1_048_576).default(65_536),
  /** argon2id passes per password hash (default 2; at least 2). */
  PASSWORD_HASH_ITERATIONS: z.coerce.number().int().min(2).max(16).default(2),
  /** The one service type an edge process serves (`SERVICE_MODE=shared`); unset: every service. */
  MCP_TYPE: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]*$/, "must be a service type, e.g. figma")
    .optional(),
  /** `shared`: one service (MCP_TYPE) for every user; `dynamic`: every service. Unset: shared with MCP_TYPE, else dynamic. */
  SERVICE_MODE: z.enum(["shared", "dynamic"]).optional(),
});
export type PlatformEnv = z.infer<typeof ZPlatformEnv>;

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
