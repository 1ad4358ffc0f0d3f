import type { ResolvedInstance } from "@mcp/core";
import type { ServiceDefinition } from "@mcp/services";
import { createMcpHandler, type McpHttpHandler, Server } from "@modelcontextprotocol/server";
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/server/validators/ajv";
import type { EdgeDeps } from "../deps.ts";
import { callTool } from "./call-tool.ts";
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

/**
 * One MCP handler per service, built once: the tool list is computed once, and each request gets a
 * cheap low-level Server (the SDK's per-request model) whose handlers read the caller's instance from
 * authInfo. Serves 2026-07-28 and, statelessly, the 2025 era on the same URL.
 */
export function createServiceHandler(service: ServiceDefinition, deps: EdgeDeps): McpHttpHandler {
  const tools = service.mcpTools.map((t) => ({ ...t }));
  const info = {
    name: `mcp-platform-${service.type}`,
    title: `${service.name} (MCP platform)`,
    version: "0.1.0",
  };
  return createMcpHandler(
    (ctx) => {
      const auth = ctx.authInfo?.extra as InstanceAuth | undefined;
      if (!auth) throw new Error("MCP handler called without an instance");
      const server = new Server(info, {
        capabilities: { tools: { listChanged: false } },
        supportedProtocolVersions: SUPPORTED_VERSIONS,
        jsonSchemaValidator,
        instructions: `Tools for ${service.name}, run with the connected account's own credentials.`,
      });
      advertiseAllVersions(server);
      server.setRequestHandler("tools/list", () => ({ tools }));
      server.setRequestHandler("tools/call", (req, c) =>
        callTool(
          { deps, service, instance: auth.instance, requestId: auth.requestId, signal: c.mcpReq.signal },
          req.params.name,
          req.params.arguments ?? {},
        ),
      );
      return server;
    },
    {
      legacy: "stateless",
      maxRequestBodySize: deps.limits.maxBodyBytes,
      onerror: (error) => deps.log.debug("mcp request rejected", { error: error.message }),
    },
  );
}
