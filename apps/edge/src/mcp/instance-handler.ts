import type { ResolvedInstance } from "@mcp/core";
import {
  type CallToolResult,
  createMcpHandler,
  type Implementation,
  isInitializeRequest,
  isLegacyRequest,
  type McpHttpHandler,
  Server,
  type ServerCapabilities,
} from "@modelcontextprotocol/server";
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/server/validators/ajv";
import type { EdgeDeps } from "../deps.ts";
import { createLegacySessions, type Session, type SessionStore } from "./sessions.ts";
import { advertiseAllVersions, SUPPORTED_VERSIONS } from "./versions.ts";

/** What the edge middleware hands the MCP handler for one request (via the SDK's authInfo pass-through). */
export interface InstanceAuth {
  instance: ResolvedInstance;
  requestId: string;
}

// One validator for every Server instance. Measured with SDK 2.4: a Server costs ~2 µs to build either
// way (AJV compiles lazily), so the per-request Server is cheap; what must be built once is the tool list
// and the compiled input validators, which the service registry does at start-up.
const jsonSchemaValidator = new AjvJsonSchemaValidator();

export const errorResult = (text: string): CallToolResult => ({
  content: [{ type: "text", text }],
  isError: true,
});

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
  opts: { instructions?: string; capabilities?: ServerCapabilities; sessions?: boolean },
  register: (server: Server, auth: InstanceAuth, session?: Session) => void,
): McpHttpHandler & { sessions?: SessionStore } {
  const build = (auth: InstanceAuth, session?: Session) => {
    const server = new Server(info, {
      capabilities: opts.capabilities ?? { tools: { listChanged: false } },
      supportedProtocolVersions: SUPPORTED_VERSIONS,
      jsonSchemaValidator,
      ...(opts.instructions && { instructions: opts.instructions }),
    });
    advertiseAllVersions(server);
    register(server, auth, session);
    return server;
  };
  const onerror = (error: Error) => deps.log.debug("mcp request rejected", { error: error.message });
  const maxRequestBodySize = deps.limits.maxBodyBytes;
  const handler = createMcpHandler(
    (ctx) => {
      const auth = ctx.authInfo?.extra as InstanceAuth | undefined;
      if (!auth) throw new Error("MCP handler called without an instance");
      return build(auth);
    },
    { legacy: "stateless", maxRequestBodySize, onerror },
  );
  if (!opts.sessions) return handler;
  const legacy = createLegacySessions(deps.kv, build, { maxRequestBodySize, onerror });
  return {
    ...handler,
    sessions: legacy.store,
    async fetch(request, options) {
      // A body that is not JSON is answered by the SDK's own legacy leg (its parse or media-type error),
      // and so is a 2025-era POST outside any session (served statelessly, as every instance serves
      // it: what needs a session, such as server-to-client requests, is then unavailable).
      const sessionless =
        request.method === "POST" &&
        (options?.parsedBody === undefined ||
          (!request.headers.has("mcp-session-id") && !isInitializeRequest(options.parsedBody)));
      if (!sessionless && (await isLegacyRequest(request, options?.parsedBody, { maxRequestBodySize }))) {
        return legacy.fetch(request, options);
      }
      return handler.fetch(request, options);
    },
    close: () => handler.close(),
  };
}
