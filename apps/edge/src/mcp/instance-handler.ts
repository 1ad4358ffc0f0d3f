import type { ResolvedInstance } from "@mcp/core";
import {
  type CallToolResult,
  createMcpHandler,
  type Implementation,
  type McpHttpHandler,
  Server,
  type ServerCapabilities,
} from "@modelcontextprotocol/server";
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/server/validators/ajv";
import type { EdgeDeps } from "../deps.ts";
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
 * The one way the edge serves MCP: an SDK v2 handler (2026-07-28 and, statelessly, the 2025 era on the
 * same URL) whose per-request low-level Server lists every version in `server/discover` and gets its
 * tool handlers from `register`, with the caller's instance read from the authInfo pass-through.
 */
export function createInstanceHandler(
  deps: EdgeDeps,
  info: Implementation,
  opts: { instructions?: string; capabilities?: ServerCapabilities },
  register: (server: Server, auth: InstanceAuth) => void,
): McpHttpHandler {
  return createMcpHandler(
    (ctx) => {
      const auth = ctx.authInfo?.extra as InstanceAuth | undefined;
      if (!auth) throw new Error("MCP handler called without an instance");
      const server = new Server(info, {
        capabilities: opts.capabilities ?? { tools: { listChanged: false } },
        supportedProtocolVersions: SUPPORTED_VERSIONS,
        jsonSchemaValidator,
        ...(opts.instructions && { instructions: opts.instructions }),
      });
      advertiseAllVersions(server);
      register(server, auth);
      return server;
    },
    {
      legacy: "stateless",
      maxRequestBodySize: deps.limits.maxBodyBytes,
      onerror: (error) => deps.log.debug("mcp request rejected", { error: error.message }),
    },
  );
}
