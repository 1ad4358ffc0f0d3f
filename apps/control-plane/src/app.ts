import { existsSync } from "node:fs";
import { join } from "node:path";
import { trpcServer } from "@hono/trpc-server";
import { AppError, backendsReachable } from "@mcp/core";
import { clientIp, hostGuard, requestId } from "@mcp/http";
import { Hono, type Context as HonoContext } from "hono";
import { bodyLimit } from "hono/body-limit";
import { serveStatic } from "hono/bun";
import { secureHeaders } from "hono/secure-headers";
import { type ControlPlaneDeps, DEFAULT_LIMITS, type HonoEnv } from "./deps.ts";
import { authenticate, statusHeaders } from "./middleware/auth.ts";
import { logFailure, onError } from "./middleware/errors.ts";
import { idempotency } from "./middleware/idempotency.ts";
import { jsonInput } from "./middleware/json-input.ts";
import { sameOrigin } from "./middleware/origin.ts";
import { docsRoutes } from "./rest/docs.ts";
import { restRoutes } from "./rest/routes.ts";
import { contextFromHono } from "./trpc/context.ts";
import { appRouter } from "./trpc/router.ts";

const MAX_BODY = 64 * 1024;
// Thrown, not answered here, so `onError` renders it in the shape of the route (REST or tRPC).
const tooLarge = (): never => {
  throw new AppError("PAYLOAD_TOO_LARGE", "Request body too large");
};

export function createApp(deps: ControlPlaneDeps): Hono<HonoEnv> {
  const app = new Hono<HonoEnv>();
  app.onError(onError());
  app.use(async (c, next) => {
    c.set("deps", deps);
    await next();
  });
  app.use(requestId());
  // DNS rebinding: on a loopback bind only local names (and the public URL's host) are served at all.
  app.use(
    hostGuard({
      allowed: deps.allowedHosts ?? [],
      reject: () => {
        throw new AppError("FORBIDDEN", "Host not allowed");
      },
    }),
  );
  app.use(
    secureHeaders({
      crossOriginResourcePolicy: "same-origin",
      // The dashboard is all same-origin files: nothing inline, nothing from elsewhere, never framed.
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", "data:"],
        // The dashboard's "Test connection" calls the edge (the edge answers CORS for allowed origins).
        connectSrc: ["'self'", ...edgeOrigins(deps)],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    }),
  );
  // As on the edge: /health 503 when the kv or the database is unreachable; /ready whether to send traffic.
  app.get("/health", async (c) => {
    const { kv, database } = await backendsReachable(deps);
    const ok = kv && database;
    return c.json({ status: ok ? "ok" : "unavailable", kv, database }, ok ? 200 : 503);
  });
  app.get("/ready", async (c) => {
    const { kv, database } = await backendsReachable(deps);
    const ready = kv && database;
    return c.json({ ready, kv, database }, ready ? 200 : 503);
  });

  for (const path of ["/trpc/*", "/api/*"]) {
    app.use(path, statusHeaders());
    app.use(path, bodyLimit({ maxSize: MAX_BODY, onError: tooLarge }));
    app.use(path, sameOrigin());
    if (path === "/trpc/*") app.use(path, jsonInput());
    app.use(path, clientIp({ trustProxy: deps.trustProxy ?? false }));
    app.use(path, authenticate());
    app.use(path, idempotency());
  }
  app.use(
    "/trpc/*",
    trpcServer({
      router: appRouter,
      endpoint: "/trpc",
      maxBatchSize: deps.limits?.maxBatchSize ?? DEFAULT_LIMITS.maxBatchSize,
      createContext: (opts, c) => contextFromHono(c as HonoContext<HonoEnv>, opts.resHeaders),
      onError: ({ error, path, ctx }) => {
        const app = error.cause instanceof AppError ? error.cause : undefined;
        if (!app && error.code === "INTERNAL_SERVER_ERROR") {
          deps.log.error("procedure failed", {
            path,
            requestId: ctx?.requestId,
            error: error.cause ?? error,
          });
        } else if (app) logFailure(deps.log, app, { path, requestId: ctx?.requestId });
      },
    }),
  );
  app.route("/api/v1", restRoutes());
  app.route("/api/docs", docsRoutes());
  app.all("/api/*", () => {
    throw new AppError("NOT_FOUND", "No such endpoint");
  });

  if (deps.dashboardDir && existsSync(join(deps.dashboardDir, "index.html"))) {
    const root = deps.dashboardDir;
    app.use("/assets/*", serveStatic({ root }));
    // A build's file that is not there (an old chunk a page loaded before a deploy asks for) is a 404, not
    // the page: HTML in place of a script or a style sheet is an error the browser cannot make sense of.
    app.all("/assets/*", () => {
      throw new AppError("NOT_FOUND", "No such file");
    });
    app.get("*", serveStatic({ root, path: "index.html" }));
  }
  return app;
}

/** The origins instance URLs are handed out on: PUBLIC_EDGE_URL's and each SERVICE_<TYPE>_PUBLIC_URL's. */
function edgeOrigins(deps: Pick<ControlPlaneDeps, "publicEdgeUrl" | "servicePublicUrls">): string[] {
  const origins = new Set<string>();
  for (const url of [deps.publicEdgeUrl, ...Object.values(deps.servicePublicUrls ?? {})]) {
    try {
      if (url) origins.add(new URL(url).origin);
    } catch {
      // Not a URL: nothing to allow.
    }
  }
  return [...origins];
}
