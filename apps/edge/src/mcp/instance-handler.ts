import { isInstanceTokenRetired, type ResolvedInstance } from "@mcp/core";
import {
  type CallToolResult,
  createMcpHandler,
  type Implementation,
  isInitializeRequest,
  isLegacyRequest,
  type McpHttpHandler,
  McpServer,
  Server,
  type ServerCapabilities,
} from "@modelcontextprotocol/server";
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/server/validators/ajv";
import type { EdgeDeps } from "../deps.ts";
import { InstanceEventBus } from "./instance-bus.ts";
import type { ReadAhead } from "./read-cache.ts";
import {
  createLegacySessions,
  MAX_SUBSCRIPTIONS,
  type Session,
  type SessionStore,
  TokenStreams,
  watch,
} from "./sessions.ts";
import { advertiseAllVersions, SUPPORTED_VERSIONS } from "./versions.ts";

/** What the edge middleware hands the MCP handler for one request (via the SDK's authInfo pass-through). */
export interface InstanceAuth {
  instance: ResolvedInstance;
  requestId: string;
  /** A `tools/call`'s cache slot, already read with the rate-limit charge (./read-cache.ts). */
  readAhead?: ReadAhead;
}

// One validator for every Server instance. Measured with SDK 2.4: a Server costs ~2 µs to build either
// way (AJV compiles lazily), so the per-request Server is cheap; what must be built once is the tool list
// and the compiled input validators, which the service registry does at start-up.
const jsonSchemaValidator = new AjvJsonSchemaValidator();

/**
 * An McpServer that knows no tools of its own but reports the relayed tools' input schemas, so the SDK's
 * HTTP entry checks a 2026-07-28 client's Mcp-Param-* headers against the tool's `x-mcp-header`
 * declarations before dispatch (SEP-2243), exactly as for its own tools. Every handler is set on the
 * low-level `server`. (`toolInputSchemaJson` is what the entry calls; the proxied conformance test fails
 * if an SDK upgrade stops calling it.)
 */
class RelayedToolsServer extends McpServer {
  constructor(
    info: Implementation,
    options: ConstructorParameters<typeof McpServer>[1],
    private readonly schemaOf: (name: string) => Record<string, unknown> | undefined,
  ) {
    super(info, options);
  }

  override toolInputSchemaJson(name: string): Record<string, unknown> | undefined {
    return this.schemaOf(name);
  }
}

/**
 * An `initialize` request (which opens a 2025-era session). The method is compared first: the SDK's schema check
 * costs a relayed call about 1 % of its CPU, and no other method can pass it.
 */
const opensSession = (body: unknown) =>
  (body as { method?: unknown } | null)?.method === "initialize" && isInitializeRequest(body);

/** What a program can act on in a tool error result (`_meta`), beside the text written for the model. */
export type ToolErrorCode =
  /**
   * The arguments do not fit the tool's input schema (or a cursor is not one the platform issued): nothing
   * was sent upstream, and the text says what to change, so the model can correct its call (a tool execution
   * error, as the MCP spec asks since 2025-11-25 and as the SDK's own servers answer in every era).
   */
  | "BAD_REQUEST"
  | "EXPIRED_CREDENTIALS"
  | "SERVICE_UNAVAILABLE"
  | "RATE_LIMIT_EXCEEDED"
  /** The upstream refused this resource; the stored credentials are still valid. */
  | "FORBIDDEN"
  /** The upstream answered with an error of its own (or a relayed server's tool failed). */
  | "UPSTREAM_ERROR";

export interface ToolErrorMeta {
  code: ToolErrorCode;
  /** How long to wait before trying again, when known. */
  retryAfterMs?: number;
}

/**
 * A tool failure as MCP wants it (a result with `isError`), carrying the design's error code in `_meta`
 * (`{ code, retryAfterMs? }`, plus any `extra` keys) so clients can act on it without parsing the text.
 */
export const errorResult = (
  text: string,
  meta: ToolErrorMeta = { code: "UPSTREAM_ERROR" },
  extra: Record<string, unknown> = {},
): CallToolResult => ({
  content: [{ type: "text", text }],
  isError: true,
  _meta: { ...extra, ...meta },
});

/**
 * The resource URIs a `subscriptions/listen` request asks to hear updates of (`notifications.resourceSubscriptions`),
 * read before the SDK has checked the request (which refuses it if it is malformed, ending the listen): strings
 * only, at most MAX_SUBSCRIPTIONS of them, each at most 2048 characters, none twice.
 */
function listenedResources(body: object | null | undefined): string[] {
  const asked = (
    (body as { params?: unknown } | null | undefined)?.params as
      | { notifications?: { resourceSubscriptions?: unknown } }
      | undefined
  )?.notifications?.resourceSubscriptions;
  if (!Array.isArray(asked)) return [];
  const uris = new Set<string>();
  for (const uri of asked.slice(0, MAX_SUBSCRIPTIONS)) {
    if (typeof uri === "string" && uri.length <= 2048) uris.add(uri);
  }
  return [...uris];
}

/**
 * The one way the edge serves MCP: an SDK v2 handler (2026-07-28 and the 2025 era on the same URL) whose
 * per-request low-level Server lists every version in `server/discover` and gets its handlers from
 * `register`, with the caller's instance read from the authInfo pass-through.
 *
 * 2025-era traffic is served statelessly, or, with `sessions`, through 2025-era sessions kept in the kv
 * (./sessions.ts): what a relayed server needs for server-to-client requests, subscriptions and
 * resumable streams. `register` then also gets the request's session.
 */
export function createInstanceHandler(
  deps: EdgeDeps,
  info: Implementation,
  opts: {
    instructions?: string;
    capabilities?: ServerCapabilities;
    sessions?: boolean;
    /**
     * A 2026-07-28 client opens `subscriptions/listen` on an instance: resolves once the upstream's own
     * changes are followed, and stops following them when `signal` aborts.
     */
    onListen?: (auth: InstanceAuth, signal: AbortSignal, resources?: readonly string[]) => Promise<void>;
    /**
     * The relayed tools' input schemas (as the upstream listed them), for SEP-2243 header checks; undefined
     * when none of the instance's listed tools declares an `x-mcp-header` (a plain Server then serves the
     * request: the SDK's entry checks headers only against declarations, and builds an McpServer's tool,
     * resource and prompt handlers, which `register` replaces, for nothing).
     */
    toolSchemas?: (auth: InstanceAuth) => ((name: string) => Record<string, unknown> | undefined) | undefined;
  },
  register: (server: Server, auth: InstanceAuth, session?: Session) => void,
): McpHttpHandler & { sessions?: SessionStore } {
  const build = (auth: InstanceAuth, session?: Session) => {
    const options = {
      capabilities: opts.capabilities ?? { tools: { listChanged: false } },
      supportedProtocolVersions: SUPPORTED_VERSIONS,
      jsonSchemaValidator,
      ...(opts.instructions && { instructions: opts.instructions }),
    };
    const schemaOf = opts.toolSchemas?.(auth);
    const product = schemaOf ? new RelayedToolsServer(info, options, schemaOf) : new Server(info, options);
    const server = product instanceof McpServer ? product.server : product;
    advertiseAllVersions(server);
    register(server, auth, session);
    return { product, server };
  };
  const onerror = (error: Error) => deps.log.debug("mcp request rejected", { error: error.message });
  const maxRequestBodySize = deps.limits.maxBodyBytes;
  // Relayed instances' listen streams hear their own instance's upstream changes only.
  const bus = opts.sessions ? new InstanceEventBus(deps.kv, onerror) : undefined;
  const handler = createMcpHandler(
    (ctx) => {
      const auth = ctx.authInfo?.extra as InstanceAuth | undefined;
      if (!auth) throw new Error("MCP handler called without an instance");
      return build(auth).product;
    },
    { legacy: "stateless", maxRequestBodySize, onerror, ...(bus && { bus }) },
  );
  if (!opts.sessions) return handler;
  // The long-lived streams of each instance URL (2025-era sessions' streams and exchanges, 2026-07-28 listen
  // streams) end when its token is retired, here and in every other edge process: whoever held a leaked URL
  // hears nothing more of the instance once its owner rotated or revoked it. (A call in flight ends within its
  // timeout.) An invalidation that only refreshes the entry (new settings, a new key) leaves them open.
  const streams = new TokenStreams();
  deps.resolver.onInvalidate((tokenHash) => {
    if (!streams.holds(tokenHash)) return;
    void isInstanceTokenRetired(deps, tokenHash)
      // The kv cannot tell: end them (a client whose URL still works opens its stream again).
      .catch(() => true)
      .then((retired) => retired && streams.closeAll(tokenHash));
  });
  const legacy = createLegacySessions(deps.kv, (auth, session) => build(auth, session).server, {
    maxRequestBodySize,
    onerror,
    streams,
    ...(opts.onListen && { onListen: opts.onListen }),
  });
  return {
    ...handler,
    sessions: legacy.store,
    async fetch(request, options) {
      // A body that is not JSON is answered by the SDK's own legacy leg (its parse or media-type error),
      // and so is a 2025-era POST outside any session (served statelessly, as every instance serves
      // it: what needs a session, such as server-to-client requests, is then unavailable).
      const body = options?.parsedBody as { method?: unknown } | null | undefined;
      const sessionless =
        request.method === "POST" &&
        (body === undefined || (!request.headers.has("mcp-session-id") && !opensSession(body)));
      if (!sessionless && (await isLegacyRequest(request, options?.parsedBody, { maxRequestBodySize }))) {
        return legacy.fetch(request, options);
      }
      const auth = options?.authInfo?.extra as unknown as InstanceAuth;
      const run = () =>
        bus
          ? bus.run(auth.instance.instanceId, () => handler.fetch(request, options))
          : handler.fetch(request, options);
      if (body?.method !== "subscriptions/listen" || !opts.onListen) return run();
      // The upstream's changes are followed for as long as the listen stream lasts: until the client
      // goes away or the stream ends.
      const following = new AbortController();
      const stop = () => following.abort();
      request.signal.addEventListener("abort", stop, { once: true });
      await opts.onListen(auth, following.signal, listenedResources(body));
      const response = await run().catch((error: unknown) => {
        stop();
        throw error;
      });
      if (!response.body) {
        stop();
        return response;
      }
      const cut = new AbortController();
      const release = streams.hold(auth.instance.tokenHash, () => cut.abort());
      const end = () => {
        release();
        stop();
      };
      return new Response(watch(response.body, end, end, cut.signal), response);
    },
    close: () => handler.close(),
  };
}
