import { safeEqual } from "@mcp/crypto";
import { bearerToken, hostGuard } from "@mcp/http";
import type { Context } from "hono";
import { Hono } from "hono";
import type { EdgeMetrics } from "./metrics.ts";

/**
 * Where the Prometheus text is served. It names services, tools and traffic, so it is never public:
 * `METRICS_TOKEN` requires `Authorization: Bearer <token>` wherever it is served; `METRICS_PORT` serves
 * it on a listener of its own (and not on the MCP port). With neither, it is not served at all.
 */
export interface MetricsAccess {
  token?: string;
  /** Served by `metricsApp` on its own port instead of on the edge's port. */
  separatePort?: boolean;
}

const notServed = (c: Context) =>
  c.json(
    {
      error: "Metrics are served with METRICS_TOKEN or on METRICS_PORT",
      code: "NOT_FOUND",
      requestId: c.get("requestId"),
    },
    404,
  );

/**
 * The handler for `GET /metrics` where it is `served`, checking the token when one is set; a 404 where it
 * is not served.
 */
export function metricsHandler(metrics: EdgeMetrics, token: string | undefined, served: boolean) {
  return async (c: Context): Promise<Response> => {
    if (!served) return notServed(c);
    if (token) {
      if (!safeEqual(bearerToken(c.req.header("authorization")), token)) {
        c.header("www-authenticate", 'Bearer realm="metrics"');
        return c.json({ error: "Metrics need the METRICS_TOKEN bearer", code: "UNAUTHORIZED" }, 401);
      }
    }
    c.header("content-type", metrics.registry.contentType);
    return c.body(await metrics.registry.metrics());
  };
}

/**
 * The app for `METRICS_PORT`: `GET /metrics` and nothing else. Bound to loopback, it answers only to
 * loopback names (`allowedHosts`), so a DNS-rebinding page cannot read it either.
 */
export function metricsApp(metrics: EdgeMetrics, access: MetricsAccess, allowedHosts: string[] = []): Hono {
  const app = new Hono();
  app.use(
    hostGuard({
      allowed: allowedHosts,
      reject: (c) => c.json({ error: "Host not allowed", code: "FORBIDDEN" }, 403),
    }),
  );
  app.get("/metrics", metricsHandler(metrics, access.token, true));
  app.notFound((c) => c.json({ error: "Not found", code: "NOT_FOUND" }, 404));
  return app;
}
