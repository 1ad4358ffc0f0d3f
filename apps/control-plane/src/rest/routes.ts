import { AppError, ERRORS } from "@mcp/core";
import { TRPCError } from "@trpc/server";
import { type Context, Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { z } from "zod";
import type { HonoEnv } from "../deps.ts";
import { errorBody } from "../middleware/errors.ts";
import { contextFromHono } from "../trpc/context.ts";
import { appCodeOf, issueMessage } from "../trpc/init.ts";
import { createCaller, type RouterInputs } from "../trpc/router.ts";

/**
 * Plain REST for non-TypeScript clients: thin adapters over the same tRPC procedures, so validation,
 * scoping and errors are the same by construction.
 */
export function restRoutes(): Hono<HonoEnv> {
  const rest = new Hono<HonoEnv>();
  const caller = (c: Context<HonoEnv>) => createCaller(contextFromHono(c, new Headers()));

  rest.get("/services", async (c) => c.json({ services: await caller(c).services.list() }));
  rest.get("/services/:serviceType/health", async (c) =>
    c.json(await caller(c).services.health({ serviceType: c.req.param("serviceType") })),
  );

  rest.post("/services/:serviceType/authenticate", async (c) => {
    const body = await readJson(c);
    // The procedure's zod schema validates the body; the cast only hands it over.
    const input = {
      ...body,
      serviceType: c.req.param("serviceType"),
    } as RouterInputs["instances"]["connect"];
    const issued = await caller(c).instances.connect(input);
    return c.json({
      instanceId: issued.instanceId,
      instanceUrl: issued.instanceUrl,
      message: `Connected ${issued.serviceType}. Keep this URL secret: whoever holds it can use the connected account.`,
    });
  });

  // A new key for an existing instance; the URL stays the same.
  rest.put("/services/:serviceType/credentials", async (c) => {
    const body = await readJson(c);
    const input = {
      ...body,
      serviceType: c.req.param("serviceType"),
    } as RouterInputs["instances"]["updateCredentials"];
    const updated = await caller(c).instances.updateCredentials(input);
    return c.json({
      ...updated,
      message: `Updated the ${updated.serviceType} credentials; the instance URL is unchanged.`,
    });
  });

  rest.get("/services/:serviceType/instance", async (c) => {
    const inst = await caller(c).instances.get({ serviceType: c.req.param("serviceType") });
    return c.json({
      instanceId: inst.instanceId,
      serviceType: inst.serviceType,
      status: inst.status,
      isActive: inst.isActive,
      account: inst.account,
      createdAt: inst.createdAt,
      lastUsed: inst.lastUsedAt,
    });
  });

  rest.delete("/services/:serviceType/instance", async (c) => {
    const serviceType = c.req.param("serviceType");
    const { instanceId } = await caller(c).instances.revoke({ serviceType });
    return c.json({ message: `Revoked the ${serviceType} instance; its URL no longer works.`, instanceId });
  });

  rest.get("/user/instances", async (c) => c.json({ instances: await caller(c).instances.list() }));

  rest.onError((err, c) => {
    if (!(err instanceof TRPCError)) throw err;
    const cause = err.cause;
    if (cause instanceof AppError) throw cause;
    if (cause instanceof z.ZodError) {
      const body = {
        ...errorBody("BAD_REQUEST", issueMessage(cause.issues), c.var.requestId),
        issues: cause.issues.map((i) => ({ path: i.path.map(String), message: i.message })),
      };
      return c.json(body, 400);
    }
    const code = appCodeOf(err);
    if (code === "INTERNAL") throw err;
    return c.json(errorBody(code, err.message, c.var.requestId), ERRORS[code].status as ContentfulStatusCode);
  });
  return rest;
}

async function readJson(c: Context<HonoEnv>): Promise<Record<string, unknown>> {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    throw new AppError("BAD_REQUEST", "Body must be JSON");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new AppError("BAD_REQUEST", "Body must be a JSON object");
  }
  return body as Record<string, unknown>;
}
