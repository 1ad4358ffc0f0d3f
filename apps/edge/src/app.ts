import { AppError, backendsReachable, CUSTOM_SERVICE, DATABASE_RETRY_AFTER_MS } from "@mcp/core";
import { requestId } from "@mcp/http";
import type { McpHttpHandler } from "@modelcontextprotocol/server";
import { Hono } from "hono";
import type { EdgeDeps, EdgeEnv } from "./deps.ts";
import { createCustomHandler, createProxiedServiceHandler } from "./mcp/custom.ts";
import type { FastPath } from "./mcp/fast-path.ts";
import { createServiceHandler, type InstanceAuth } from "./mcp/server.ts";
import { metricsHandler } from "./metrics-route.ts";
import { originAndHost, readBody } from "./middleware/guards.ts";
import { invalidInstance, resolveInstance, TokenGuessing } from "./middleware/instance.ts";
import { protocolRules } from "./middleware/protocol.ts";
import { rateLimit } from "./middleware/rate-limit.ts";

/** The data plane: `/:token/mcp` for every instance, plus health and metrics. */
export function createEdgeApp(deps: EdgeDeps): { app: Hono<EdgeEnv>; close(): Promise<void> } {
  const handlers = new Map<string, McpHttpHandler>();
  const fastPaths = new Map<string, FastPath>();
  const relays: { close(): Promise<void> }[] = [];
  // A per-service process (MCP_TYPE) builds only its own service's handler: no relay pools, stdio children or
  // compiled validators for services it never serves.
  const serves = (type: string) => !deps.mcpType || deps.mcpType === type;
  if (serves(CUSTOM_SERVICE.type)) {
    const custom = createCustomHandler(deps);
    relays.push(custom);
    handlers.set(CUSTOM_SERVICE.type, custom.handler);
  }
  for (const service of deps.registry.list()) {
    if (!serves(service.type)) continue;
    if (service.kind === "rest") {
      const handler = createServiceHandler(service, deps);
      handlers.set(service.type, handler);
      if (deps.fastPath) fastPaths.set(service.type, handler.fastPath);
    } else {
      const relay = createProxiedServiceHandler(deps, service);
      relays.push(relay);
      handlers.set(service.type, relay.handler);
    }
  }

  const app = new Hono<EdgeEnv>();
  app.use(async (c, next) => {
    c.set("deps", deps);
    await next();
  });
  app.use(requestId());
  const guessing = new TokenGuessing();
  // /health: can this process serve (kv and database reachable)? /ready: should it get traffic now
  // (healthy and not shutting down)? Both 503 when not, so a load balancer or PM2 can act on the status.
  let closing = false;
  app.get("/health", async (c) => {
    const { kv, database } = await backendsReachable(deps);
    const ok = kv && database;
    const services = [...handlers.keys()].filter((type) => type !== CUSTOM_SERVICE.type || !!deps.mcpType);
    return c.json({ status: ok ? "ok" : "unavailable", kv, database, services }, ok ? 200 : 503);
  });
  app.get("/ready", async (c) => {
    const { kv, database } = await backendsReachable(deps);
    const ready = kv && database && !closing;
    return c.json({ ready, kv, database, ...(closing && { closing }) }, ready ? 200 : 503);
  });
  // On the MCP port only with a token, and never when METRICS_PORT serves it instead.
  const { token, separatePort } = deps.metricsAccess;
  app.get("/metrics", metricsHandler(deps.metrics, token, !separatePort && !!token));

  app.all(
    "/:token/mcp",
    originAndHost(),
    resolveInstance(guessing),
    readBody(),
    protocolRules(),
    rateLimit(),
    async (c) => {
      const instance = c.get("instance");
      const reqId = c.get("requestId");
      const handler = handlers.get(instance.serviceType);
      if (!handler) throw new AppError("SERVICE_UNAVAILABLE", "Service is not served by this edge");
      const extra: InstanceAuth = { instance, requestId: reqId };
      const fast = fastPaths.get(instance.serviceType)?.serve(c.req.raw, c.get("parsedBody"), extra);
      if (fast) {
        const res = await fast;
        deps.metrics.requests.inc({ status: String(res.status) });
        return res;
      }
      // The body was read once by readBody; a body that is not JSON goes to the SDK as bytes, so it
      // answers with its own parse or media-type error.
      const raw =
        c.get("bodyBytes") && c.get("parsedBody") === undefined
          ? withBody(c.req.raw, c.get("bodyBytes"))
          : c.req.raw;
      const res = await handler.fetch(raw, {
        authInfo: { token: "", clientId: instance.instanceId, scopes: [], extra: { ...extra } },
        ...(c.get("parsedBody") !== undefined && { parsedBody: c.get("parsedBody") }),
      });
      deps.metrics.requests.inc({ status: String(res.status) });
      return res;
    },
  );

  app.notFound((c) => {
    // An MCP path without a usable token segment (`/mcp`, `//mcp`, `/a/b/mcp`) is a missing instance.
    if (/\/mcp\/?$/.test(c.req.path)) return invalidInstance(c);
    return c.json({ error: "Not found", code: "NOT_FOUND", requestId: c.get("requestId") }, 404);
  });
  app.onError((err, c) => {
    const app = err instanceof AppError ? err : new AppError("INTERNAL", "Internal error");
    if (app.code === "INTERNAL")
      deps.log.error("edge request failed", { requestId: c.get("requestId"), error: err });
    else
      deps.log.warn("edge request failed", {
        requestId: c.get("requestId"),
        code: app.code,
        error: app.message,
      });
    // A 503 says when to come back: the cause's own wait, or the database's retry delay.
    if (app.status === 503) {
      const ms = app.retryAfterMs ?? DATABASE_RETRY_AFTER_MS;
      c.header("retry-after", String(Math.max(1, Math.ceil(ms / 1000))));
    }
    return c.json(
      { error: app.message, code: app.code, requestId: c.get("requestId") },
      app.status === 503 ? 503 : 500,
    );
  });
  return {
    app,
    async close() {
      closing = true;
      for (const relay of relays) await relay.close();
      await Promise.all([...handlers.values()].map((h) => h.close()));
    },
  };
}

const withBody = (req: Request, body: Uint8Array<ArrayBuffer>) =>
  new Request(req.url, { method: req.method, headers: req.headers, body, signal: req.signal });
