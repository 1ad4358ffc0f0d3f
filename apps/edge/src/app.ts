import { AppError, backendsReachable, CUSTOM_SERVICE } from "@mcp/core";
import { hostAllowed, type PeerSource, requestId } from "@mcp/http";
import type { McpHttpHandler } from "@modelcontextprotocol/server";
import { Hono } from "hono";
import type { EdgeDeps, EdgeEnv } from "./deps.ts";
import { createCustomHandler, createProxiedServiceHandler } from "./mcp/custom.ts";
import type { FastPath } from "./mcp/fast-path.ts";
import { createServiceHandler, type InstanceAuth } from "./mcp/server.ts";
import { metricsHandler } from "./metrics-route.ts";
import { invalidInstance } from "./route/instance.ts";
import { createMcpRoute, failure, mcpToken } from "./route/route.ts";

/**
 * The data plane: `/:token/mcp` for every instance (the MCP route, outside Hono: see route/route.ts), and
 * health, readiness, metrics and the answers to every other path (a Hono app). `fetch` serves both.
 */
export function createEdgeApp(
  deps: EdgeDeps,
  /** Told of every request on the MCP route as it arrives and once it is answered (`IdleCollector`). */
  mcpRequests?: { request(): void; done(): void },
): {
  app: Hono<EdgeEnv>;
  fetch(req: Request, server?: PeerSource): Response | Promise<Response>;
  /** Shutting down: `/ready` answers 503 `closing` from now on, while requests in flight finish. */
  drain(): void;
  close(): Promise<void>;
} {
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

  const mcpRoute = createMcpRoute(
    deps,
    async (call, instance) => {
      const handler = handlers.get(instance.serviceType);
      if (!handler) throw new AppError("SERVICE_UNAVAILABLE", "Service is not served by this edge");
      const { req, parsedBody, bodyBytes } = call;
      const extra: InstanceAuth = {
        instance,
        requestId: call.requestId,
        ...(call.readAhead && { readAhead: call.readAhead }),
      };
      const fast = fastPaths.get(instance.serviceType)?.serve(req, parsedBody, extra);
      // The body was read once by readBody; a body that is not JSON goes to the SDK as bytes, so it answers
      // with its own parse or media-type error.
      const res = await (fast ??
        handler.fetch(bodyBytes && parsedBody === undefined ? withBody(req, bodyBytes) : req, {
          authInfo: { token: "", clientId: instance.instanceId, scopes: [], extra: { ...extra } },
          ...(parsedBody !== undefined && { parsedBody }),
        }));
      deps.metrics.requests.inc({ status: String(res.status) });
      return res;
    },
    (call, instance) => fastPaths.get(instance.serviceType)?.readAheadSlot(call.parsedBody, instance),
  );

  const app = new Hono<EdgeEnv>();
  app.use(requestId());
  // DNS rebinding: on a loopback bind, health, readiness, metrics and unknown paths answer only to our own
  // names, as the MCP route does (which checks the same list itself, first, with its JSON-RPC-shaped 403). A
  // request made in process (`app.request`) may carry no Host: its URL's host stands in.
  app.use(async (c, next) => {
    if (mcpToken(c.req.url) !== null) return next();
    if (hostAllowed(c.req.header("host") ?? new URL(c.req.url).host, deps.allowedHosts)) return next();
    return c.json({ error: "Host not allowed", code: "FORBIDDEN", requestId: c.get("requestId") }, 403);
  });
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

  // The same route for a caller of the Hono app itself (`app.request` in tests, an embedder's own server);
  // `fetch` below sends MCP paths straight to it, without Hono's routing and middleware.
  app.all("/:token/mcp", (c) =>
    mcpRoute(c.req.raw, c.env as PeerSource | undefined, c.req.param("token"), c.get("requestId")),
  );
  app.notFound((c) => {
    // An MCP path without a usable token segment (`/mcp`, `//mcp`, `/a/b/mcp`) is a missing instance.
    if (/\/mcp\/?$/.test(c.req.path)) return invalidInstance(deps, c.get("requestId"));
    return c.json({ error: "Not found", code: "NOT_FOUND", requestId: c.get("requestId") }, 404);
  });
  app.onError((err, c) => failure(deps, err, c.get("requestId")));
  return {
    app,
    fetch(req, server) {
      const token = mcpToken(req.url);
      if (token === null) return app.fetch(req, server);
      if (!mcpRequests) return mcpRoute(req, server, token);
      mcpRequests.request();
      return mcpRoute(req, server, token).finally(() => mcpRequests.done());
    },
    drain() {
      closing = true;
    },
    async close() {
      closing = true;
      for (const relay of relays) await relay.close();
      await Promise.all([...handlers.values()].map((h) => h.close()));
    },
  };
}

const withBody = (req: Request, body: Uint8Array<ArrayBuffer>) =>
  new Request(req.url, { method: req.method, headers: req.headers, body, signal: req.signal });
