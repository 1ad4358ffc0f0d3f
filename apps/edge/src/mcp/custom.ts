import { randomUUID } from "node:crypto";
import { type CredentialSecret, isServiceAvailable, type ResolvedInstance } from "@mcp/core";
import { sha256 } from "@mcp/crypto";
import { lru } from "@mcp/kv/lru";
import {
  connectRemoteMcp,
  createStdioPool,
  credentialRedactor,
  DEFAULT_POOL_LIMITS,
  type PoolLimits,
  type ProxiedServiceDefinition,
  probeRemoteMcp,
  proxiedServerConfig,
  type Redactor,
  type RemoteMcpConfig,
  rejectedCredentials,
  remoteRedactor,
  type StdioProxiedService,
  UpstreamPool,
  upstreamRefusal,
} from "@mcp/services";
import {
  type Client,
  type ListPromptsResult,
  type ListResourcesResult,
  type ListResourceTemplatesResult,
  type ListToolsResult,
  ProtocolError as RemoteProtocolError,
  type RequestOptions,
  SdkError,
  SdkErrorCode,
  SdkHttpError,
  type Tool,
} from "@modelcontextprotocol/client";
import {
  type CallToolResult,
  CLIENT_CAPABILITIES_META_KEY,
  type InputRequests,
  type InputRequiredResult,
  inputRequired,
  isInputRequiredResult,
  LOG_LEVEL_META_KEY,
  type McpHttpHandler,
  ProtocolError,
  ProtocolErrorCode,
  type ServerContext,
} from "@modelcontextprotocol/server";
import { LRUCache } from "lru-cache";
import type { EdgeDeps } from "../deps.ts";
import { unknownTool } from "./call-tool.ts";
import { createInstanceHandler, errorResult, type InstanceAuth } from "./instance-handler.ts";
import { recordToolCall } from "./record.ts";
import {
  clientCapabilities,
  HeldCalls,
  type HeldOutcome,
  type InflightCall,
  isModern,
  REQUEST_STATE_TTL_MS,
  RequestStates,
  UpstreamRouting,
} from "./relay-calls.ts";
import { MAX_SUBSCRIPTIONS, type Session } from "./sessions.ts";
import { allowedTools, restrictsTools, toolAllowed } from "./tool-filter.ts";
import { CredentialUnopened, unopenedCredential } from "./unopened.ts";

/** A page of tools larger than this is refused rather than relayed (a user's server is untrusted input). */
export const MAX_CUSTOM_TOOLS = 1000;

class RemoteUnavailable extends Error {}
/** The server refused the stored key (or headers) when connecting: the owner must reconnect (`needs_reauth`). */
class RemoteRejected extends RemoteUnavailable {}
/** What a caller is told when the server refused the stored credentials (the instance is then `needs_reauth`). */
const rejectedMessage = (label: string) =>
  `${label} rejected the stored credentials (expired or revoked). Reconnect ${label} in the dashboard to get a new key in place.`;

/**
 * Requests one instance may have in flight to its server at once (calls, listings, held calls waiting for the
 * client's input), and waiting for one of those to finish (at most 10 s; one more is refused at once). A
 * server that never answers would otherwise let one user hold as many upstream connections as their rate limit
 * allows for the whole timeout: connections and memory every user of the edge shares.
 */
const RELAY_SLOTS: PoolLimits = {
  maxConnections: 32,
  maxQueue: 64,
  queueTimeoutMs: 10_000,
  connectTimeoutMs: DEFAULT_POOL_LIMITS.connectTimeoutMs,
};

/** Built once per edge (its deps), shared by the custom handler and every proxied service's. */
function perEdge<T>(build: (deps: EdgeDeps) => T): (deps: EdgeDeps) => T {
  const built = new WeakMap<EdgeDeps, T>();
  return (deps) => {
    let made = built.get(deps);
    if (made === undefined) {
      made = build(deps);
      built.set(deps, made);
    }
    return made;
  };
}

/**
 * Each edge's slots for requests to MCP servers over HTTP, all instances together (`limits.relayInFlight`):
 * owned by instance, so a freed slot goes to the instance holding the fewest (UpstreamPool's fairness) and many
 * instances' slow servers cannot fill the process's `fetch` requests (runtime-env.ts) and stall every other
 * upstream call.
 */
const processRelaySlots = perEdge((deps) => {
  const most = deps.limits.relayInFlight;
  return new UpstreamPool("relay", {
    ...RELAY_SLOTS,
    maxConnections: most,
    maxQueue: Math.max(1, Math.floor(most / 2)),
  });
});

/** Each edge's count of open resource listen streams to 2026-07-28 upstreams. */
const processListenStreams = perEdge((): { open: number } => ({ open: 0 }));

/** Why a relayed request got no slot, in words for the tool error: `holder` "this instance", `where` "to it". */
function noSlot(
  reason: "full" | "share" | "timeout" | "cancelled",
  holder: string,
  where: string,
  { maxConnections: most, maxQueue, queueTimeoutMs }: PoolLimits,
): string {
  if (reason === "cancelled") return "the request was cancelled while it waited";
  if (reason === "share")
    return `this instance already fills its half of ${holder}'s ${maxQueue} places to wait for a request ${where}`;
  if (reason === "timeout")
    return `none of ${holder}'s ${most} requests in flight ${where} finished within ${queueTimeoutMs / 1000} s`;
  return `${holder} already has ${most} requests in flight ${where} and ${maxQueue} waiting`;
}

/**
 * The server lost the connection's session (the spec's 404 to a request carrying an `Mcp-Session-Id`: it
 * expired, or the server restarted), or the connection closed before the request went out. Either way the
 * server never saw the request, so it is sent again once on a new connection, as the spec asks a client to
 * start a new session, instead of failing the call that found out.
 */
function sessionGone(error: unknown, client: Client): boolean {
  if (error instanceof SdkHttpError) {
    return (
      error.status === 404 &&
      (client.transport as { sessionId?: string } | undefined)?.sessionId !== undefined
    );
  }
  return error instanceof SdkError && error.code === SdkErrorCode.NotConnected;
}

/**
 * The client's own `_meta` of a request, for the server: without its progress token (the relay's client sends
 * its own, and relays the progress under the client's) and without the protocol's reserved keys
 * (`io.modelcontextprotocol/…`: the envelope of a 2026-07-28 request), which the relay sets for itself.
 */
export function clientMeta(
  params: { _meta?: Record<string, unknown> } | undefined,
): Record<string, unknown> | undefined {
  const meta = params?._meta;
  if (!meta) return undefined;
  const kept = Object.fromEntries(
    Object.entries(meta).filter(
      ([key]) => key !== "progressToken" && !key.startsWith("io.modelcontextprotocol/"),
    ),
  );
  return Object.keys(kept).length > 0 ? kept : undefined;
}

/** `{ _meta }` with the client's own keys (clientMeta), or nothing. */
const withClientMeta = (params: { _meta?: Record<string, unknown> } | undefined) => {
  const meta = clientMeta(params);
  return meta ? { _meta: meta } : {};
};

/** At most this many URL elicitations of one -32042 error become input requests. */
const MAX_URL_ELICITATIONS = 10;

/**
 * A 2025-era server's URL elicitation error (-32042, `data.elicitations`), as the input requests a 2026-07-28
 * client is asked them with (`elicitation/create` in url mode); undefined for any other error, or one whose
 * elicitations are not each a message and a URL.
 */
function urlElicitations(error: unknown): InputRequests | undefined {
  if (!(error instanceof ProtocolError) || error.code !== ProtocolErrorCode.UrlElicitationRequired)
    return undefined;
  const asked = (error.data as { elicitations?: unknown } | undefined)?.elicitations;
  if (!Array.isArray(asked) || asked.length === 0 || asked.length > MAX_URL_ELICITATIONS) return undefined;
  const requests: InputRequests = {};
  for (const [i, elicitation] of asked.entries()) {
    const { message, url, elicitationId } = (elicitation ?? {}) as Record<string, unknown>;
    if (typeof message !== "string" || typeof url !== "string") return undefined;
    requests[`url_${i}`] = inputRequired.elicitUrl({
      message,
      url,
      ...(typeof elicitationId === "string" && { elicitationId }),
    } as Parameters<typeof inputRequired.elicitUrl>[0]);
  }
  return requests;
}

/** The list methods, each with its result's key and the server capability that offers it. */
const LISTS = {
  "tools/list": { key: "tools", capability: "tools" },
  "resources/list": { key: "resources", capability: "resources" },
  "resources/templates/list": { key: "resourceTemplates", capability: "resources" },
  "prompts/list": { key: "prompts", capability: "prompts" },
} as const;
type ListMethod = keyof typeof LISTS;
type ListResult<M extends ListMethod> = M extends "tools/list"
  ? ListToolsResult
  : M extends "resources/list"
    ? ListResourcesResult
    : M extends "resources/templates/list"
      ? ListResourceTemplatesResult
      : ListPromptsResult;

/**
 * One page of a list, as the server answered it (its `nextCursor` included), for the page the client asked for
 * (its cursor and own `_meta`). Not the SDK's list helpers: asked for a first page, they walk every page into one
 * answer (up to 64 pages of 16 MiB held at once, past the 1,000 tools a page may hold) and keep it in the
 * connection's cache. A server that does not offer the list has an empty one, as the SDK answers.
 */
async function listPage<M extends ListMethod>(
  client: Client,
  method: M,
  params: { cursor?: string; _meta?: Record<string, unknown> } | undefined,
  options: RequestOptions,
): Promise<ListResult<M>> {
  const { key, capability } = LISTS[method];
  if (!client.getServerCapabilities()?.[capability]) return { [key]: [] } as unknown as ListResult<M>;
  const sent = { ...(params?.cursor !== undefined && { cursor: params.cursor }), ...withClientMeta(params) };
  const request: { method: ListMethod; params?: Record<string, unknown> } = { method };
  if (Object.keys(sent).length > 0) request.params = sent;
  const page = await client.request(request, options);
  return page as unknown as ListResult<M>;
}

/** Only a broken connection is worth dropping: a JSON-RPC error, a timeout or a caller hanging up is not. */
function connectionBroken(error: unknown, signal?: AbortSignal): boolean {
  if (signal?.aborted || error instanceof RemoteProtocolError) return false;
  return !(error instanceof SdkError && error.code === SdkErrorCode.RequestTimeout);
}

/**
 * Connections to users' own MCP servers, reused across requests: one per instance and sealed config
 * (a reconnect with another URL or headers gets a new one), bounded, closed when idle, evicted, or when
 * the instance's token is retired (revoke, rotate, reconnect).
 */
class RemotePool {
  private readonly clients = new LRUCache<string, Promise<Client>>({
    max: 500,
    ttl: 2 * 60_000,
    ttlAutopurge: true,
    updateAgeOnGet: true,
    dispose: (pending, key) => {
      void pending.then((c) => c.close()).catch(() => {});
      const token = this.tokenOf.get(key);
      if (token) this.keyOf.delete(token);
      this.tokenOf.delete(key);
    },
  });
  private readonly keyOf = new Map<string, string>();
  private readonly tokenOf = new Map<string, string>();

  constructor(private readonly deps: EdgeDeps) {
    deps.resolver.onInvalidate((tokenHash) => {
      const key = this.keyOf.get(tokenHash);
      if (key) this.clients.delete(key);
    });
  }

  get(auth: InstanceAuth, config: RemoteMcpConfig): { key: string; pending: Promise<Client> } {
    const key = poolKey(auth.instance);
    let pending = this.clients.get(key);
    if (!pending) {
      pending = connectRemoteMcp(config, {
        allowPrivate: this.deps.allowPrivateUpstreams,
        timeoutMs: this.deps.limits.upstreamTimeoutMs,
        rememberEra: true,
      }).then((conn) => {
        if (!conn.ok) {
          throw conn.error === "INVALID_API_KEY"
            ? new RemoteRejected(conn.message)
            : new RemoteUnavailable(conn.message);
        }
        return conn.client;
      });
      this.clients.set(key, pending);
      this.keyOf.set(auth.instance.tokenHash, key);
      this.tokenOf.set(key, auth.instance.tokenHash);
      const failed = pending;
      failed.catch(() => this.drop(key, failed));
    }
    return { key, pending };
  }

  private readonly pins = new Map<string, number>();
  private toucher: ReturnType<typeof setInterval> | undefined;

  /**
   * Keeps a connection from being closed as idle while something long-lived rides on it (a client's
   * listen stream): its entry is touched every 30 s until the returned function is called.
   */
  pin(key: string): () => void {
    this.pins.set(key, (this.pins.get(key) ?? 0) + 1);
    if (!this.toucher) {
      this.toucher = setInterval(() => {
        for (const pinned of this.pins.keys()) this.clients.get(pinned);
      }, 30_000);
      this.toucher.unref?.();
    }
    let unpinned = false;
    return () => {
      if (unpinned) return;
      unpinned = true;
      const left = (this.pins.get(key) ?? 1) - 1;
      if (left > 0) this.pins.set(key, left);
      else this.pins.delete(key);
      if (this.pins.size === 0 && this.toucher) {
        clearInterval(this.toucher);
        this.toucher = undefined;
      }
    };
  }

  /** Drops the entry only if it is still the one that failed (never a newer replacement). */
  drop(key: string, pending: Promise<Client>): void {
    if (this.clients.peek(key) === pending) this.clients.delete(key);
  }

  close(): void {
    if (this.toucher) clearInterval(this.toucher);
    this.pins.clear();
    this.clients.clear();
  }
}

// Kept per cached instance entry (a new entry after a reconnect gets its own), so the hash is taken once, not
// per call.
const poolKeys = new WeakMap<ResolvedInstance, string>();
/** Per instance and sealed config: a reconnect to another server (or with other headers) starts afresh. */
function poolKey(instance: ResolvedInstance): string {
  let key = poolKeys.get(instance);
  if (!key) {
    key = `${instance.instanceId}:${sha256(instance.sealed.ciphertext, "base64url")}`;
    poolKeys.set(instance, key);
  }
  return key;
}

/** An instance's relayed tools' input schemas by name, as its server listed them. */
interface ListedSchemas {
  byName: Map<string, Record<string, unknown>>;
  /** Some schema mentions `x-mcp-header` (SEP-2243): the SDK's entry must check calls' Mcp-Param-* headers. */
  declaresHeaders: boolean;
}

/** A connection to the server an instance relays to, for one request. */
interface Opened {
  client: Client;
  /** The user's own secrets, redacted from everything the server sends back. */
  redactor: Redactor;
  /** The request is over; `broken`: the connection failed and must not be reused. */
  release(broken: boolean): void;
  /** Keeps the connection open while something long-lived uses it; returns the function that lets go. */
  pin?(): () => void;
}

/** Where a relayed instance's MCP server is, and what to call it in messages. */
interface ProxySource {
  /** "your MCP server", or the service's name. */
  label: string;
  /** Its requests are HTTP requests of this process (a remote server; a stdio process's are not). */
  overHttp: boolean;
  info: { name: string; version: string };
  /** Connects (or reuses a connection) for the instance; undefined when the credential cannot be used. */
  open(auth: InstanceAuth, secret: CredentialSecret): Promise<Opened | undefined>;
  /**
   * After the server refused a request's credentials: whether it rejects the key itself, checked as a connect
   * checks it (connecting and listing the tools, the era probed afresh). Absent: nothing to check.
   */
  rejects?(secret: CredentialSecret): Promise<boolean>;
  close(): Promise<void>;
}

/** Remote servers (a user's own, or a proxied service's), one pooled connection per instance and config. */
function remoteSource(
  deps: EdgeDeps,
  label: string,
  info: ProxySource["info"],
  configOf: (secret: CredentialSecret) => RemoteMcpConfig | undefined,
): ProxySource {
  const pool = new RemotePool(deps);
  return {
    label,
    overHttp: true,
    info,
    async open(auth, secret) {
      const config = configOf(secret);
      if (!config) return undefined;
      const { key, pending } = pool.get(auth, config);
      const client = await pending;
      return {
        client,
        redactor: remoteRedactor(config),
        release: (broken) => broken && pool.drop(key, pending),
        pin: () => pool.pin(key),
      };
    },
    async rejects(secret) {
      const config = configOf(secret);
      if (!config) return false;
      const probe = await probeRemoteMcp(config, { allowPrivate: deps.allowPrivateUpstreams });
      return !probe.ok && probe.error === "INVALID_API_KEY";
    },
    async close() {
      pool.close();
    },
  };
}

/**
 * Stdio servers: one process per user's credential from the stdio pool (started on demand, reaped when
 * idle); a key change or revocation stops the process that holds the old key.
 */
function stdioSource(deps: EdgeDeps, service: StdioProxiedService): ProxySource {
  const pool = createStdioPool({ logger: deps.log });
  // Token hash → credential, to stop a process when its instance's token is retired; bounded like the pool.
  const credentialOf = lru<string, string>(50_000);
  deps.resolver.onInvalidate((tokenHash) => {
    const credentialId = credentialOf.get(tokenHash);
    if (credentialId) void pool.evict(service.type, credentialId);
  });
  return {
    label: service.name,
    overHttp: false,
    info: { name: `mcp-platform-${service.type}`, version: "0.1.0" },
    async open(auth, secret) {
      const { instance } = auth;
      credentialOf.set(instance.tokenHash, instance.credentialId);
      const lease = await pool.acquire({
        userId: instance.userId,
        serviceType: service.type,
        credentialId: instance.credentialId,
        config: service.stdio,
        credential: {
          apiKey: secret.apiKey,
          ...(secret.additional && { additional: { ...secret.additional } }),
        },
      });
      if (!lease.ok) throw new RemoteUnavailable(lease.error.message);
      return {
        client: lease.value.client,
        redactor: credentialRedactor(secret),
        release: () => lease.value.release(),
      };
    },
    close: () => pool.close(),
  };
}

/**
 * The log level a 2026-07-28 upstream is asked to log at for this request: the 2026 client's own (its
 * envelope), or the 2025-era session's level (`logging/setLevel`; everything when never set, as a 2025
 * server would log).
 */
function logLevelMeta(ctx: ServerContext, session: Session | undefined): Record<string, string> {
  const level = session
    ? (session.record.level ?? "debug")
    : (ctx.mcpReq.envelope?.[LOG_LEVEL_META_KEY as keyof typeof ctx.mcpReq.envelope] as string | undefined);
  return level ? { [LOG_LEVEL_META_KEY]: level } : {};
}

/**
 * A result's `_meta` as the server set it for its client, without the protocol's reserved keys
 * (`io.modelcontextprotocol/…`: the server's identity and the like), which the edge sets for itself.
 */
function ownMeta(meta: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!meta) return undefined;
  const kept = Object.fromEntries(
    Object.entries(meta).filter(([key]) => !key.startsWith("io.modelcontextprotocol/")),
  );
  return Object.keys(kept).length > 0 ? kept : undefined;
}

const capitalized = (text: string) => `${text.charAt(0).toUpperCase()}${text.slice(1)}`;

/** Progress notifications relayed to one call, at most (as for its log messages); the rest of a flood is dropped. */
export const MAX_RELAYED_PROGRESS = 1000;

/** `forward` for the first `max` values only. */
function atMost<T>(max: number, forward: (value: T) => void): (value: T) => void {
  let left = max;
  return (value) => {
    if (left <= 0) return;
    left--;
    forward(value);
  };
}

/**
 * The handler for `custom` instances: the platform's MCP endpoint in front of the user's own server,
 * so any client (either protocol era) reaches a server of either era through one stable, revocable URL.
 */
export function createCustomHandler(deps: EdgeDeps): { handler: McpHttpHandler; close(): Promise<void> } {
  const info = { name: "mcp-platform-custom", version: "0.1.0" };
  return createProxyHandler(
    deps,
    remoteSource(deps, "your MCP server", info, (secret) => secret.custom),
  );
}

/**
 * The handler for a proxied service (kind `mcp`): the vendor's MCP server, with each user's own key in the
 * headers its definition names.
 */
export function createProxiedServiceHandler(
  deps: EdgeDeps,
  service: ProxiedServiceDefinition,
): { handler: McpHttpHandler; close(): Promise<void> } {
  if (service.transport === "stdio") return createProxyHandler(deps, stdioSource(deps, service));
  const info = { name: `mcp-platform-${service.type}`, version: "0.1.0" };
  return createProxyHandler(
    deps,
    remoteSource(deps, service.name, info, (secret) => proxiedServerConfig(service, secret)),
  );
}

/**
 * Relays an instance to an MCP server. Tools are listed and called through; the user's headers never
 * leave the edge except to that server.
 */
function createProxyHandler(
  deps: EdgeDeps,
  source: ProxySource,
): { handler: McpHttpHandler; close(): Promise<void> } {
  const Label = capitalized(source.label);
  /** Each busy instance's slots for requests to its server (RELAY_SLOTS). */
  const gates = new Map<string, UpstreamPool>();

  /**
   * Runs `run` on the pooled connection to the user's server and hands back its answer with the user's
   * own secrets (header values, URL query values) redacted: a server that echoes its credentials must
   * not leak them to whoever holds the instance URL.
   */
  async function withRemote<T>(
    auth: InstanceAuth,
    signal: AbortSignal | undefined,
    run: (client: Client, redactor: Redactor) => Promise<T>,
  ): Promise<T> {
    const id = auth.instance.instanceId;
    let gate = gates.get(id);
    if (!gate) {
      gate = new UpstreamPool(`relay:${id}`, RELAY_SLOTS);
      gates.set(id, gate);
    }
    const slot = await gate.acquire(signal);
    if (!slot.ok) {
      forgetIdle(id, gate);
      throw new RemoteUnavailable(noSlot(slot.reason, "this instance", "to it", RELAY_SLOTS));
    }
    try {
      // Then one of the process's, when the request goes out over HTTP (at most 32 per instance waiting here).
      const shared = source.overHttp ? processRelaySlots(deps) : undefined;
      const processSlot = await shared?.acquire(signal, undefined, id);
      if (processSlot && !processSlot.ok) {
        throw new RemoteUnavailable(
          noSlot(processSlot.reason, "this edge", "to MCP servers", shared?.limits ?? RELAY_SLOTS),
        );
      }
      try {
        return await withRemoteNow(auth, signal, run);
      } finally {
        processSlot?.release();
      }
    } finally {
      slot.release();
      forgetIdle(id, gate);
    }
  }

  /** Drops an instance's gate once nothing is in flight or waiting (the map holds only busy instances). */
  function forgetIdle(id: string, gate: UpstreamPool): void {
    const { inUse, queued } = gate.stats();
    if (inUse === 0 && queued === 0 && gates.get(id) === gate) gates.delete(id);
  }

  async function withRemoteNow<T>(
    auth: InstanceAuth,
    signal: AbortSignal | undefined,
    run: (client: Client, redactor: Redactor) => Promise<T>,
  ): Promise<T> {
    const secret = deps.resolver.credential(auth.instance);
    for (let attempt = 1; ; attempt++) {
      const opened = secret ? await source.open(auth, secret) : undefined;
      if (!opened) throw new CredentialUnopened(await unopenedCredential(deps, auth.instance, source.label));
      const { client, redactor } = opened;
      try {
        const answer = redactor.value(await run(client, redactor));
        opened.release(false);
        return answer;
      } catch (error) {
        opened.release(connectionBroken(error, signal)); // a broken connection is not reused
        // Once: a server that loses every new session too is failing, not expiring. A request whose credentials
        // the server refused (never run) is sent once more on a new connection.
        const refused = rejectedCredentials(error);
        if (attempt === 1 && !signal?.aborted && (refused || sessionGone(error, client))) continue;
        // Refused again: only a key the server rejects when checked as a connect checks it needs a reconnect.
        if (refused && secret && !signal?.aborted && (await source.rejects?.(secret))) {
          throw new RemoteRejected("the server rejected the stored credentials");
        }
        throw relayedError(error, redactor);
      }
    }
  }

  /** A JSON-RPC error from the server, as the client's JSON-RPC error (code, message, data), redacted. */
  function relayedError(error: unknown, redactor: Redactor): unknown {
    if (!(error instanceof RemoteProtocolError)) return error;
    // Redacted before it is cut to length.
    const data = error.data === undefined ? undefined : redactor.value(error.data);
    return new ProtocolError(error.code, redactor.text(error.message).slice(0, 500), data);
  }

  /**
   * A request the server answers as is (resources, prompts, completions, log level): relayed with the
   * caller's cancellation, its answer redacted; a JSON-RPC error from the server is relayed as such, and a
   * server that cannot be reached is an internal error naming it.
   */
  async function relay<T>(
    auth: InstanceAuth,
    signal: AbortSignal,
    /** What it failed to do, after the server's name: "did not list its tools". */
    failure: string,
    run: (
      client: Client,
      options: { timeout: number; signal: AbortSignal },
      redactor: Redactor,
    ) => Promise<T>,
  ): Promise<T> {
    try {
      return await withRemote(auth, signal, (client, redactor) =>
        run(client, { timeout: deps.limits.upstreamTimeoutMs, signal }, redactor),
      );
    } catch (error) {
      if (error instanceof ProtocolError) throw error;
      if (error instanceof CredentialUnopened)
        throw new ProtocolError(ProtocolErrorCode.InternalError, error.message);
      if (error instanceof RemoteRejected) {
        await deps.resolver.markNeedsReauth(auth.instance);
        throw new ProtocolError(ProtocolErrorCode.InternalError, rejectedMessage(Label));
      }
      const refused = error instanceof RemoteUnavailable ? error.message : upstreamRefusal(error);
      const detail = refused ? `: ${refused}` : "";
      throw new ProtocolError(ProtocolErrorCode.InternalError, `${Label} ${failure}${detail}`);
    }
  }

  const states = new RequestStates(deps.keyring, deps.kv);
  // The input schemas of each instance's tools as its server last listed them (SEP-2243 header checks), and
  // whether any of them mentions `x-mcp-header` at all (most servers' tools do not: nothing to check then).
  const toolSchemas = lru<string, ListedSchemas>(5000, { ttl: 30 * 60_000 });
  // The tools each instance's server annotated `readOnlyHint: true` when it last listed them (read-only mode),
  // per server config (as the pool's connections).
  const readOnlyHints = lru<string, Set<string>>(5000, { ttl: 30 * 60_000 });

  /** The server's read-only tools, as it lists them now (every page, within the relay's bounds). */
  async function listReadOnly(auth: InstanceAuth, signal: AbortSignal): Promise<Set<string>> {
    const names = new Set<string>();
    let cursor: string | undefined;
    for (let page = 0; page < 10; page++) {
      const listed = await relay(auth, signal, "did not list its tools", (client, o) =>
        listPage(client, "tools/list", cursor ? { cursor } : undefined, o),
      );
      for (const tool of listed.tools.slice(0, MAX_CUSTOM_TOOLS)) {
        if (tool.annotations?.readOnlyHint === true) names.add(tool.name);
      }
      cursor = listed.nextCursor;
      if (!cursor) break;
    }
    readOnlyHints.set(poolKey(auth.instance), names);
    return names;
  }

  /**
   * Whether the instance's settings let it call this tool: its allowlist, and in read-only mode the server's own
   * `readOnlyHint` (from its last listing, else listed now: the call itself never goes out for a tool left out).
   */
  async function relayedToolAllowed(auth: InstanceAuth, signal: AbortSignal, name: string) {
    const { instance } = auth;
    if (!toolAllowed(instance, { name, annotations: { readOnlyHint: true } })) return false;
    if (instance.readOnly !== true) return true;
    const hints = readOnlyHints.get(poolKey(instance)) ?? (await listReadOnly(auth, signal));
    return hints.has(name);
  }

  const routing = new UpstreamRouting(deps.kv, processListenStreams(deps));
  const held = new HeldCalls(REQUEST_STATE_TTL_MS, deps.limits.upstreamTimeoutMs);

  /**
   * A request that may need the client's input (tools/call, prompts/get, resources/read), relayed with
   * the client's own capabilities: an upstream's `input_required` goes back to the client with its
   * requestState sealed (a 2025-era session gets real requests on the call's stream from the SDK), and
   * the client's retry resumes the upstream's rounds. A 2025-era upstream's own requests for input reach
   * the call through `routing`.
   */
  async function interactive<T>(
    auth: InstanceAuth,
    ctx: ServerContext,
    session: Session | undefined,
    method: "tools/call" | "prompts/get" | "resources/read",
    params: Record<string, unknown>,
    onprogress?: (progress: { progress: number; total?: number; message?: string }) => void,
    /**
     * Run inside a `relay` that already holds one of the instance's slots (relayInteractive): taking a second
     * could deadlock the gate, every slot held by a request waiting for its own second one.
     */
    holdsSlot = false,
  ): Promise<T | InputRequiredResult> {
    const instanceId = auth.instance.instanceId;
    const capabilities = clientCapabilities(ctx, session);
    const state = ctx.mcpReq.requestState<unknown>();
    const opened = typeof state === "string" ? await states.open(instanceId, method, state) : {};
    const inputResponses = ctx.mcpReq.inputResponses;
    // A 2026-07-28 client (its request has an envelope) is asked for input by input_required results:
    // a 2025-era upstream's own requests for input are held for its retry.
    const modernClient = !session && ctx.mcpReq.envelope !== undefined;
    const remote = holdsSlot ? withRemoteNow : withRemote;
    const upstreamCall = (hold: InflightCall["hold"], signal: AbortSignal) =>
      remote(auth, signal, (client, redactor) =>
        routing.during(
          client,
          instanceId,
          redactor,
          { ctx, session, capabilities, hold },
          (): Promise<unknown> => {
            const modern = isModern(client);
            const meta = (params._meta ?? {}) as Record<string, unknown>;
            const upstreamParams = {
              ...params,
              ...(modern && inputResponses && { inputResponses }),
              ...(opened.upstreamState !== undefined && { requestState: opened.upstreamState }),
              ...(modern && {
                _meta: {
                  ...meta,
                  [CLIENT_CAPABILITIES_META_KEY]: capabilities,
                  ...logLevelMeta(ctx, session),
                },
              }),
            };
            const options = {
              // A held call's own deadline runs per round (HeldCalls), the client's think time excluded.
              timeout: hold ? REQUEST_STATE_TTL_MS : deps.limits.upstreamTimeoutMs,
              signal,
              allowInputRequired: true,
              // The server's progress message is its own text: redacted like its answer.
              ...(onprogress && {
                onprogress: (progress: Parameters<typeof onprogress>[0]) =>
                  onprogress(redactor.value(progress)),
                resetTimeoutOnProgress: false,
              }),
            };
            // tools/call goes through the SDK's callTool, which mirrors the arguments a tool declares with
            // `x-mcp-header` into Mcp-Param-* headers (SEP-2243), from the tool as the relay last listed it
            // (its input schema only: with an output schema the SDK would check the result, which the relay
            // passes on as the server gave it, for the client to check).
            if (method === "tools/call") {
              const name = String(params.name);
              const inputSchema = toolSchemas.get(instanceId)?.byName.get(name) ?? { type: "object" };
              const toolDefinition = { name, inputSchema } as Tool;
              return client.callTool(upstreamParams as Parameters<Client["callTool"]>[0], {
                ...options,
                toolDefinition,
              });
            }
            return client.request({ method, params: upstreamParams }, options);
          },
        ),
      );
    let answer: unknown;
    if (opened.held || modernClient) {
      let outcome: HeldOutcome;
      try {
        outcome = opened.held
          ? await held.resume(opened.held, inputResponses ?? {})
          : await held.start(ctx.mcpReq.signal, upstreamCall);
      } catch (error) {
        // A 2025-era server's "open this page, then call again" (-32042), which the 2026-07-28 revision asks
        // with input_required: the retry makes the call afresh, as the server expects.
        const inputRequests = urlElicitations(error);
        if (!inputRequests) throw error;
        return inputRequired({ inputRequests, requestState: states.seal(instanceId, method, undefined) });
      }
      if ("input" in outcome) {
        return inputRequired({
          inputRequests: outcome.input,
          requestState: states.seal(instanceId, method, undefined, outcome.held),
        });
      }
      answer = outcome.done;
    } else {
      answer = await upstreamCall(undefined, ctx.mcpReq.signal);
    }
    if (isInputRequiredResult(answer)) {
      return inputRequired({
        ...(answer.inputRequests && { inputRequests: answer.inputRequests }),
        requestState: states.seal(instanceId, method, answer.requestState),
      });
    }
    return answer as T;
  }

  /** Relays `interactive` with relay()'s error mapping (resources/read, prompts/get). */
  const relayInteractive = <T>(
    auth: InstanceAuth,
    ctx: ServerContext,
    session: Session | undefined,
    method: "prompts/get" | "resources/read",
    params: Record<string, unknown>,
  ) =>
    relay(auth, ctx.mcpReq.signal, `did not answer ${method}`, () =>
      interactive<T>(auth, ctx, session, method, params, undefined, true),
    );

  /**
   * A 2026-07-28 client listens for this instance's changes: the upstream's are followed until it stops
   * (the connection, or the stdio process, is held meanwhile). An upstream that cannot be reached leaves
   * the stream open with nothing to tell.
   */
  async function followLists(
    auth: InstanceAuth,
    signal: AbortSignal,
    resources: readonly string[] = [],
  ): Promise<void> {
    const secret = deps.resolver.credential(auth.instance);
    const opened = secret ? await source.open(auth, secret).catch(() => undefined) : undefined;
    if (!opened) return;
    const { client, redactor } = opened;
    const instanceId = auth.instance.instanceId;
    const stop = await routing.followLists(client, instanceId, redactor).catch(() => undefined);
    // The resources the client listens for, subscribed upstream for as long as it listens (shared with the
    // instance's other listeners and sessions); one the server (or a bound) refuses is left out. One at a
    // time: a listen's hundred resources are not a hundred requests at once outside the relay's bounds.
    const owner = `listen:${randomUUID()}`;
    const options = { timeout: deps.limits.upstreamTimeoutMs };
    const subscribed: string[] = [];
    for (const uri of resources) {
      if (signal.aborted) break;
      const ok = await routing.subscribe(client, instanceId, redactor, uri, options, owner).then(
        () => true,
        () => false,
      );
      if (ok) subscribed.push(uri);
    }
    const unpin = opened.pin?.();
    const end = () => {
      stop?.();
      for (const uri of subscribed) void routing.unsubscribe(client, uri, owner).catch(() => {});
      unpin?.();
      opened.release(false);
    };
    if (signal.aborted) end();
    else signal.addEventListener("abort", end, { once: true });
  }

  // List changes reach 2025-era sessions on their GET stream and 2026-07-28 clients on their
  // subscriptions/listen stream (./instance-bus.ts).
  const capabilities = {
    tools: { listChanged: true },
    resources: { listChanged: true, subscribe: true },
    prompts: { listChanged: true },
    completions: {},
    logging: {},
  };
  const handler = createInstanceHandler(
    deps,
    source.info,
    {
      capabilities,
      sessions: true,
      toolSchemas: (auth) => {
        const listed = toolSchemas.get(auth.instance.instanceId);
        return listed?.declaresHeaders ? (name) => listed.byName.get(name) : undefined;
      },
      onListen: followLists,
    },
    (server, auth, session) => {
      server.setRequestHandler("resources/list", (req, c) =>
        relay(auth, c.mcpReq.signal, "did not answer resources/list", (client, o) =>
          listPage(client, "resources/list", req.params, o),
        ),
      );
      server.setRequestHandler("resources/templates/list", (req, c) =>
        relay(auth, c.mcpReq.signal, "did not answer resources/templates/list", (client, o) =>
          listPage(client, "resources/templates/list", req.params, o),
        ),
      );
      server.setRequestHandler("resources/read", (req, c) =>
        relayInteractive(auth, c, session, "resources/read", {
          uri: req.params.uri,
          ...withClientMeta(req.params),
        }),
      );
      // Subscriptions belong to a 2025-era session: the upstream is subscribed, the session remembers the
      // URI, and the upstream's updates reach the session's GET stream (./sessions.ts).
      server.setRequestHandler("resources/subscribe", async (req, c) => {
        if (!session)
          throw new ProtocolError(ProtocolErrorCode.InvalidRequest, "Subscriptions need a session");
        const uri = req.params.uri.slice(0, 2048);
        const subscribed = session.record.subscriptions ?? [];
        if (!subscribed.includes(uri) && subscribed.length >= MAX_SUBSCRIPTIONS) {
          throw new ProtocolError(
            ProtocolErrorCode.InvalidParams,
            `At most ${MAX_SUBSCRIPTIONS} subscriptions`,
          );
        }
        await relay(auth, c.mcpReq.signal, "did not answer resources/subscribe", (client, o, redactor) =>
          routing.subscribe(client, auth.instance.instanceId, redactor, uri, o, `session:${session.hash}`),
        );
        await sessions().update(session, (record) => {
          const subs = new Set(record.subscriptions ?? []);
          subs.add(uri);
          record.subscriptions = [...subs].slice(-MAX_SUBSCRIPTIONS);
        });
        return {};
      });
      server.setRequestHandler("resources/unsubscribe", async (req, c) => {
        if (!session)
          throw new ProtocolError(ProtocolErrorCode.InvalidRequest, "Subscriptions need a session");
        const uri = req.params.uri.slice(0, 2048);
        await relay(auth, c.mcpReq.signal, "did not answer resources/unsubscribe", (client) =>
          routing.unsubscribe(client, uri, `session:${session.hash}`),
        );
        await sessions().update(session, (record) => {
          record.subscriptions = (record.subscriptions ?? []).filter((s) => s !== uri);
        });
        return {};
      });
      server.setRequestHandler("prompts/list", (req, c) =>
        relay(auth, c.mcpReq.signal, "did not answer prompts/list", (client, o) =>
          listPage(client, "prompts/list", req.params, o),
        ),
      );
      server.setRequestHandler("prompts/get", (req, c) =>
        relayInteractive(auth, c, session, "prompts/get", {
          name: req.params.name,
          ...(req.params.arguments && { arguments: req.params.arguments }),
          ...withClientMeta(req.params),
        }),
      );
      server.setRequestHandler("completion/complete", (req, c) =>
        relay(auth, c.mcpReq.signal, "did not answer completion/complete", (client, o) =>
          client.complete(req.params, o),
        ),
      );
      server.setRequestHandler("logging/setLevel", async (req, c) => {
        // The session's level filters what the upstream logs during this session's calls.
        if (session) {
          await sessions().update(session, (record) => {
            record.level = req.params.level;
          });
        }
        await relay(auth, c.mcpReq.signal, "did not answer logging/setLevel", async (client, o) => {
          try {
            await client.setLoggingLevel(req.params.level, o);
          } catch (error) {
            // A 2026-07-28 server has no session log level (the method left the protocol): nothing to set.
            const unsupported =
              error instanceof SdkError && error.code === SdkErrorCode.MethodNotSupportedByProtocolVersion;
            if (!unsupported) throw error;
          }
        });
        return {};
      });
      server.setRequestHandler("tools/list", async (req, c) => {
        const listed = await relay(auth, c.mcpReq.signal, "did not list its tools", (client, o) =>
          listPage(client, "tools/list", req.params, o),
        );
        if (listed.tools.length > MAX_CUSTOM_TOOLS) {
          throw new ProtocolError(
            ProtocolErrorCode.InternalError,
            `${Label} listed more than ${MAX_CUSTOM_TOOLS} tools in one page`,
          );
        }
        // A first page starts the instance's list afresh; later pages add to it.
        const known: ListedSchemas = (req.params?.cursor && toolSchemas.get(auth.instance.instanceId)) || {
          byName: new Map(),
          declaresHeaders: false,
        };
        for (const tool of listed.tools) {
          if (known.byName.size >= MAX_CUSTOM_TOOLS * 10) break;
          known.byName.set(tool.name, tool.inputSchema as Record<string, unknown>);
          // Anywhere in the schema, even where the SDK would not honour it: a false alarm only means the check runs.
          known.declaresHeaders ||= JSON.stringify(tool.inputSchema).includes('"x-mcp-header"');
        }
        toolSchemas.set(auth.instance.instanceId, known);
        if (auth.instance.readOnly === true) {
          const key = poolKey(auth.instance);
          const hints = (req.params?.cursor && readOnlyHints.get(key)) || new Set<string>();
          for (const tool of listed.tools) if (tool.annotations?.readOnlyHint === true) hints.add(tool.name);
          readOnlyHints.set(key, hints);
        }
        // An instance whose settings restrict its tools lists only those (./tool-filter.ts).
        const tools = allowedTools(auth.instance, listed.tools);
        const meta = ownMeta(listed._meta);
        return {
          tools: [...tools],
          ...(listed.nextCursor && { nextCursor: listed.nextCursor }),
          ...(meta && { _meta: meta }),
        };
      });
      server.setRequestHandler("tools/call", async (req, c) => {
        // A tool the instance's settings leave out: the platform's unknown-tool answer, nothing sent upstream.
        if (
          restrictsTools(auth.instance) &&
          !(await relayedToolAllowed(auth, c.mcpReq.signal, req.params.name))
        ) {
          throw unknownTool(req.params.name);
        }
        const started = performance.now();
        const tool = req.params.name.slice(0, 128);
        // A proxied service's tool names are metric labels once its server listed them (see recordToolCall).
        const listed = toolSchemas.get(auth.instance.instanceId)?.byName.has(req.params.name) === true;
        const record = (status: string, latencyMs: number) =>
          recordToolCall(deps, auth.instance, { tool, status, latencyMs, requestId: auth.requestId, listed });
        let result: CallToolResult;
        let status = "ok";
        // A proxied service the health monitor marked down: answered now, not after the upstream's timeout.
        if (!isServiceAvailable(deps, auth.instance.serviceType)) {
          record("SERVICE_UNAVAILABLE", 0);
          return errorResult(`${Label} is down (health check failed). Try again shortly.`, {
            code: "SERVICE_UNAVAILABLE",
          });
        }
        try {
          // Progress the server reports for this call goes out on this call's own stream, under the
          // caller's progress token (the relay's own token upstream is the SDK's).
          const progressToken = req.params._meta?.progressToken;
          const onprogress =
            progressToken === undefined
              ? undefined
              : atMost(
                  MAX_RELAYED_PROGRESS,
                  (progress: { progress: number; total?: number; message?: string }) =>
                    void c.mcpReq
                      .notify({ method: "notifications/progress", params: { ...progress, progressToken } })
                      .catch(() => {}),
                );
          const answer = await interactive<CallToolResult>(
            auth,
            c,
            session,
            "tools/call",
            { name: req.params.name, arguments: req.params.arguments ?? {}, ...withClientMeta(req.params) },
            onprogress,
          );
          if (isInputRequiredResult(answer)) {
            record("INPUT_REQUIRED", Math.round(performance.now() - started));
            return answer;
          }
          const { content, structuredContent, isError } = answer;
          result = { content: content ?? [] };
          if (structuredContent) result.structuredContent = structuredContent;
          const meta = ownMeta(answer._meta);
          if (meta) result._meta = meta;
          if (isError) {
            // The design's code beside the server's own _meta (a code of the server's own wins).
            result.isError = true;
            result._meta = { code: "UPSTREAM_ERROR", ...meta };
            status = "UPSTREAM_ERROR";
          }
        } catch (error) {
          if (error instanceof ProtocolError) {
            record("BAD_REQUEST", Math.round(performance.now() - started));
            throw error;
          }
          if (error instanceof CredentialUnopened) {
            status = error.unopened.status;
            result = errorResult(error.message, { code: error.unopened.status });
          } else if (error instanceof RemoteRejected) {
            await deps.resolver.markNeedsReauth(auth.instance);
            status = "EXPIRED_CREDENTIALS";
            result = errorResult(rejectedMessage(Label), { code: "EXPIRED_CREDENTIALS" });
          } else {
            status = "SERVICE_UNAVAILABLE";
            const detail =
              error instanceof RemoteUnavailable
                ? error.message
                : (upstreamRefusal(error) ?? "it did not answer the call");
            result = errorResult(`${Label} is unavailable right now (${detail}). Try again shortly.`, {
              code: "SERVICE_UNAVAILABLE",
            });
          }
        }
        record(status, Math.round(performance.now() - started));
        return result;
      });
    },
  );
  const sessions = () => {
    if (!handler.sessions) throw new Error("relay handler without sessions");
    return handler.sessions;
  };
  return {
    handler,
    async close() {
      held.close();
      await source.close();
      await handler.close();
    },
  };
}
