import type { ServiceDefinition } from "@mcp/services";
import { type McpHttpHandler, ProtocolError, ProtocolErrorCode } from "@modelcontextprotocol/server";
import type { EdgeDeps } from "../deps.ts";
import { callContext, callTool } from "./call-tool.ts";
import { createFastPath, type FastPath } from "./fast-path.ts";
import { createInstanceHandler } from "./instance-handler.ts";
import { perInstance } from "./tool-filter.ts";

export type { InstanceAuth } from "./instance-handler.ts";

/**
 * One MCP handler per service, built once: the tool list is computed once, and each request's Server
 * answers `tools/list` from it and runs `tools/call` against the upstream with the caller's credential.
 */
export function createServiceHandler(
  service: ServiceDefinition,
  deps: EdgeDeps,
): McpHttpHandler & { fastPath: FastPath } {
  const tools = service.mcpTools.map((t) => ({ ...t }));
  const info = {
    name: `mcp-platform-${service.type}`,
    title: `${service.name} (MCP platform)`,
    version: "0.1.0",
  };
  const instructions = `Tools for ${service.name}, run with the connected account's own credentials.`;
  // An instance whose settings restrict its tools lists only those (see ./tool-filter.ts).
  const restricted = perInstance(service.mcpTools, (allowed) => allowed.map((t) => ({ ...t })));
  const handler = createInstanceHandler(deps, info, { instructions }, (server, auth) => {
    server.setRequestHandler("tools/list", (req) => {
      // The list is one page: a cursor was never handed out, so any is invalid (the spec's -32602).
      if (req.params?.cursor !== undefined) {
        throw new ProtocolError(
          ProtocolErrorCode.InvalidParams,
          "Invalid cursor: the tool list has one page",
        );
      }
      return { tools: restricted(auth.instance) ?? tools };
    });
    server.setRequestHandler("tools/call", (req, c) =>
      callTool(
        callContext(deps, service, auth, c.mcpReq.signal),
        req.params.name,
        req.params.arguments ?? {},
      ),
    );
  });
  // tools/list and tools/call of the canonical shape skip the per-request SDK server (./fast-path.ts).
  return Object.assign(handler, { fastPath: createFastPath(deps, service, info, tools) });
}
