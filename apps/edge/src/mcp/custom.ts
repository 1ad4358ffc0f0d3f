import { createHash } from "node:crypto";
import type { ResolvedInstance } from "@mcp/core";
import { connectRemoteMcp, type RemoteMcpConfig } from "@mcp/services";
import type { Client } from "@modelcontextprotocol/client";
import {
  type CallToolResult,
  createMcpHandler,
  type McpHttpHandler,
  ProtocolError,
  ProtocolErrorCode,
  Server,
} from "@modelcontextprotocol/server";
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/server/validators/ajv";
import { LRUCache } from "lru-cache";
import type { EdgeDeps } from "../deps.ts";
import { recordToolCall } from "./record.ts";
import type { InstanceAuth } from "./server.ts";
import { advertiseAllVersions, SUPPORTED_VERSIONS } from "./versions.ts";

const jsonSchemaValidator = new AjvJsonSchemaValidator();
const errorResult = (text: string): CallToolResult => ({ content: [{ type: "text", text }], isError: true });

/**
 * Connections to users' own MCP servers, reused across requests: one per instance and sealed config
 * (a reconnect with another URL or headers gets a new one), bounded, closed when idle or evicted.
 */
class RemotePool {
  private readonly clients = new LRUCache<string, Promise<Client>>({
    max: 500,
    ttl: 5 * 60_000,
    updateAgeOnGet: true,
    dispose: (pending) => void pending.then((c) => c.close()).catch(() => {}),
  });

  constructor(private readonly deps: EdgeDeps) {}

  key(instance: ResolvedInstance): string {
    return `${instance.instanceId}:${createHash("sha256").update(instance.sealed.ciphertext).digest("base64url")}`;
  }

  get(instance: ResolvedInstance, config: RemoteMcpConfig): Promise<Client> {
    const key = this.key(instance);
    let pending = this.clients.get(key);
    if (!pending) {
      pending = connectRemoteMcp(config, {
        allowPrivate: this.deps.allowPrivateUpstreams,
        timeoutMs: this.deps.limits.upstreamTimeoutMs,
      }).then((conn) => {
        if (!conn.ok) throw new RemoteUnavailable(conn.message);
        return conn.client;
      });
      this.clients.set(key, pending);
      pending.catch(() => this.clients.delete(key));
    }
    return pending;
  }

  drop(instance: ResolvedInstance): void {
    this.clients.delete(this.key(instance));
  }

  close(): void {
    this.clients.clear();
  }
}

class RemoteUnavailable extends Error {}

/**
 * The handler for `custom` instances: the platform's MCP endpoint in front of the user's own server,
 * so any client (either protocol era) reaches a server of either era through one stable, revocable URL.
 * Tools are listed and called through; the user's headers never leave the edge except to that server.
 */
export function createCustomHandler(deps: EdgeDeps): { handler: McpHttpHandler; close(): Promise<void> } {
  const pool = new RemotePool(deps);

  async function withRemote<T>(auth: InstanceAuth, run: (client: Client) => Promise<T>): Promise<T> {
    const config = deps.resolver.credential(auth.instance)?.custom;
    if (!config) throw new RemoteUnavailable("The stored server settings cannot be used; reconnect it.");
    const client = await pool.get(auth.instance, config);
    try {
      return await run(client);
    } catch (error) {
      pool.drop(auth.instance); // a broken connection is not reused; the next request reconnects
      throw error;
    }
  }

  const handler = createMcpHandler(
    (ctx) => {
      const auth = ctx.authInfo?.extra as InstanceAuth | undefined;
      if (!auth) throw new Error("MCP handler called without an instance");
      const server = new Server(
        { name: "mcp-platform-custom", version: "0.1.0" },
        {
          capabilities: { tools: { listChanged: false } },
          supportedProtocolVersions: SUPPORTED_VERSIONS,
          jsonSchemaValidator,
        },
      );
      advertiseAllVersions(server);
      server.setRequestHandler("tools/list", async (req) => {
        try {
          const listed = await withRemote(auth, (c) =>
            c.listTools(req.params?.cursor ? { cursor: req.params.cursor } : undefined, {
              timeout: deps.limits.upstreamTimeoutMs,
            }),
          );
          return { tools: listed.tools, ...(listed.nextCursor && { nextCursor: listed.nextCursor }) };
        } catch (error) {
          const message =
            error instanceof RemoteUnavailable ? error.message : "The MCP server did not list its tools";
          throw new ProtocolError(ProtocolErrorCode.InternalError, message);
        }
      });
      server.setRequestHandler("tools/call", async (req, c) => {
        const started = performance.now();
        let result: CallToolResult;
        let status = "ok";
        try {
          const answer = await withRemote(auth, (client) =>
            client.callTool(
              { name: req.params.name, arguments: req.params.arguments ?? {} },
              { timeout: deps.limits.upstreamTimeoutMs, signal: c.mcpReq.signal },
            ),
          );
          const { content, structuredContent, isError } = answer as CallToolResult;
          result = { content: content ?? [] };
          if (structuredContent) result.structuredContent = structuredContent;
          if (isError) result.isError = true;
          if (isError) status = "UPSTREAM_ERROR";
        } catch (error) {
          status = "SERVICE_UNAVAILABLE";
          const detail = error instanceof RemoteUnavailable ? error.message : "it did not answer the call";
          result = errorResult(`Your MCP server is unavailable right now (${detail}). Try again shortly.`);
        }
        const latencyMs = Math.round(performance.now() - started);
        recordToolCall(deps, auth.instance, {
          tool: req.params.name.slice(0, 128),
          status,
          latencyMs,
          requestId: auth.requestId,
        });
        return result;
      });
      return server;
    },
    {
      legacy: "stateless",
      maxRequestBodySize: deps.limits.maxBodyBytes,
      onerror: (error) => deps.log.debug("mcp request rejected", { error: error.message }),
    },
  );
  return {
    handler,
    async close() {
      pool.close();
      await handler.close();
    },
  };
}
