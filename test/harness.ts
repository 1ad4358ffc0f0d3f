// Starts the whole product in-process on random ports for one test file: control plane, edge and a
// fake Figma. Backends follow the environment (DATABASE_URL / REDIS_URL → real servers, else PGlite in
// memory + in-process kv); each stack gets its own kv prefix, and tests isolate by fresh users.
import { resolve } from "node:path";
import { type ControlPlaneLimits, createApp } from "@mcp/control-plane";
import { createLogger, createPlatform, createSessionStore, type Platform, parseEnv } from "@mcp/core";
import {
  createEdge,
  DEFAULT_LIMITS,
  type EdgeLimits,
  type EdgeOptions,
  type MetricsAccess,
  serverBodyCap,
} from "@mcp/edge";
import { loopbackAllowlist, type PeerSource } from "@mcp/http";
import { type FakeFigma, startFakeFigma } from "./fakes/figma.ts";

export interface Stack {
  controlPlaneUrl: string;
  edgeUrl: string;
  figma: FakeFigma;
  platform: Platform;
  edge: Awaited<ReturnType<typeof createEdge>>;
  /** Every `key=value` this stack wrote to the shared kv (cache, limiter state aside): what Redis would hold. */
  kvWrites: string[];
  /** The namespace of this stack's kv keys and channels (another connection with it shares its state). */
  kvPrefix: string;
  /** Every log line (JSON) of this stack, every level; errors are also written to stderr. */
  logs: string[];
  stop(): Promise<void>;
}

/** The METRICS_TOKEN of every test stack unless a test sets its own (`metricsText` sends it). */
export const TEST_METRICS_TOKEN = "test-metrics-token-0123456789";

/** Tests sign many users up from one address; per-IP limits are raised unless a test sets them. */
const TEST_CP_LIMITS: Partial<ControlPlaneLimits> = { signUpPerIp: 100_000, signInPerIp: 100_000 };

export async function startStack(
  opts: {
    limits?: Partial<EdgeLimits>;
    controlPlaneLimits?: Partial<ControlPlaneLimits>;
    allowedOrigins?: string[];
    /** ALLOW_PRIVATE_UPSTREAMS=1: custom MCP servers on 127.0.0.1 (the fakes) are allowed. */
    allowPrivateUpstreams?: boolean;
    /** TRUST_PROXY=1: the client address is the last X-Forwarded-For entry (tests act from many addresses). */
    trustProxy?: boolean;
    /** Production cookies: `Secure` and the `__Host-` prefix. */
    secureCookies?: boolean;
    /** Who may read /metrics (default: on the edge's port with `TEST_METRICS_TOKEN`). */
    metrics?: MetricsAccess;
    /** More service environment, e.g. `SERVICE_GITHUB_BASE_URL` of a fake, `SERVICE_FIGMA_RATE_LIMIT`. */
    serviceEnv?: Record<string, string>;
    /** Folders of more service definitions (`<type>/config.json`), loaded beside the shipped ones. */
    definitionDirs?: string[];
    /** REDIS_URL of this stack instead of the environment's (e.g. a redis-server the test starts and stops). */
    redisUrl?: string;
    /** The edge's IDLE_GC_MS (default 0 here: no idle-time collection), and its collector's thresholds. */
    idleGcMs?: number;
    idleGcThresholds?: EdgeOptions["idleGcThresholds"];
    /** DATABASE_URL of this stack instead of the environment's (e.g. through a proxy the test can cut). */
    databaseUrl?: string;
    /** ENCRYPTION_KEYS of this stack instead of the fixed test key (e.g. `v2:…,v1:…` during a key rotation). */
    encryptionKeys?: string;
  } = {},
): Promise<Stack> {
  const figma = await startFakeFigma({ keys: new Map() });
  let edgeFetch: (req: Request, server: PeerSource) => Response | Promise<Response> = () =>
    new Response("starting", { status: 503 });
  const edgeServer = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (req, server) => edgeFetch(req, server),
    idleTimeout: 60,
    // As in production (scripts/dev-server.ts, apps/edge/src/main.ts): Bun's own cap above the edge's limit.
    maxRequestBodySize: serverBodyCap({ ...DEFAULT_LIMITS, ...opts.limits }),
  });
  const edgeUrl = `http://127.0.0.1:${edgeServer.port}`;

  const env = parseEnv({
    DATABASE_URL: opts.databaseUrl ?? process.env.DATABASE_URL,
    REDIS_URL: opts.redisUrl ?? process.env.REDIS_URL,
    // Two loaded CI cores can stall a process past 100 ms, which must not read as an outage (the 100 ms
    // default is tested on its own kv); a stopped Redis is still detected at once by its lost connection.
    REDIS_TIMEOUT_MS: "2000",
    ENCRYPTION_KEYS: opts.encryptionKeys ?? "v1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
    // OWASP's minimum argon2id cost (a third of the default's time): tests sign up hundreds of users.
    PASSWORD_HASH_MEMORY_KIB: "19456",
    LOG_LEVEL: "error",
    ALLOW_PRIVATE_UPSTREAMS: opts.allowPrivateUpstreams ? "1" : "0",
    NODE_ENV: "test",
  });
  const serviceEnv = { SERVICE_FIGMA_BASE_URL: figma.url, ...opts.serviceEnv };
  const kvPrefix = `test:${crypto.randomUUID()}:`;
  const platform = await createPlatform(env, {
    memoryDb: true,
    kvPrefix,
    edgeUrl,
    serviceEnv,
    // The test's own definitions beside the shipped ones.
    ...(opts.definitionDirs && { definitionDirs: opts.definitionDirs }),
  });
  const logs: string[] = [];
  platform.deps.log = createLogger({
    level: "debug",
    write: (line) => {
      logs.push(line);
      if (line.startsWith('{"level":"error"')) process.stderr.write(`${line}\n`);
    },
  });
  const kvWrites: string[] = [];
  const kv = platform.deps.kv;
  platform.deps.kv = {
    ...kv,
    set: (key, value, ttlMs) => {
      kvWrites.push(`${key}=${value}`);
      return kv.set(key, value, ttlMs);
    },
    setIfAbsent: (key, value, ttlMs) => {
      kvWrites.push(`${key}=${value}`);
      return kv.setIfAbsent(key, value, ttlMs);
    },
  };
  const edge = await createEdge(platform.deps, {
    host: "127.0.0.1",
    allowedOrigins: opts.allowedOrigins,
    limits: opts.limits,
    trustProxy: opts.trustProxy,
    metrics: opts.metrics ?? { token: TEST_METRICS_TOKEN },
    // Off unless a test asks: a full collection of a test process's heap (every stack of the file) takes
    // hundreds of milliseconds.
    idleGcMs: opts.idleGcMs ?? 0,
    idleGcThresholds: opts.idleGcThresholds,
  });
  edgeFetch = edge.fetch;

  const app = createApp({
    ...platform.deps,
    sessions: createSessionStore(platform.deps.db, { secureCookies: opts.secureCookies ?? false }),
    allowedOrigins: [],
    allowedHosts: loopbackAllowlist("127.0.0.1"),
    trustProxy: opts.trustProxy,
    dashboardDir: resolve(import.meta.dir, "../apps/dashboard/dist"),
    limits: { ...TEST_CP_LIMITS, ...opts.controlPlaneLimits },
  });
  const cpServer = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch });

  return {
    controlPlaneUrl: `http://127.0.0.1:${cpServer.port}`,
    edgeUrl,
    figma,
    platform,
    edge,
    kvWrites,
    kvPrefix,
    logs,
    async stop() {
      cpServer.stop(true);
      edgeServer.stop(true);
      await edge.close();
      await platform.close();
      figma.stop();
    },
  };
}
