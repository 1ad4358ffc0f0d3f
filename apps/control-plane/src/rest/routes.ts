import { AppError, ERRORS } from "@mcp/core";
import { TRPCError } from "@trpc/server";
import { type Context, Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { z } from "zod";
import type { HonoEnv } from "../deps.ts";
import { errorBody } from "../middleware/errors.ts";
import { contextFromHono } from "../trpc/context.ts";
import { appCodeOf, issueMessage } from "../trpc/init.ts";
import { createCaller } from "../trpc/router.ts";
import type { QueryValue, RestRoute } from "./define.ts";
import { jsonSchema } from "./json-schema.ts";
import { ALL_ROUTES } from "./openapi.ts";

/**
 * Plain REST for non-TypeScript clients: thin adapters over the same tRPC procedures, so validation,
 * scoping and errors are the same by construction. Every route comes from the route table (`table.ts`, plus
 * the document's own route in `openapi.ts`), which also produces the document at /api/v1/openapi.json.
 */
export function restRoutes(): Hono<HonoEnv> {
  const rest = new Hono<HonoEnv>();
  for (const route of ALL_ROUTES) rest.on(route.method.toUpperCase(), route.path, (c) => serve(route, c));
  // A path that is served, called with another method: 405 with the methods it takes (RFC 9110, 15.5.6),
  // not the 404 of a path that does not exist. A GET route answers HEAD too (Hono runs it without the body).
  const methods = new Map<string, string[]>();
  for (const route of ALL_ROUTES) {
    const list = methods.get(route.path) ?? [];
    list.push(route.method.toUpperCase(), ...(route.method === "get" ? ["HEAD"] : []));
    methods.set(route.path, list);
  }
  for (const [path, list] of methods) {
    const allow = [...new Set(list)].join(", ");
    rest.all(path, (c) => {
      c.header("allow", allow);
      throw new AppError("METHOD_NOT_ALLOWED", `${c.req.method} is not allowed here; use ${allow}`);
    });
  }

  rest.onError((err, c) => {
    if (!(err instanceof TRPCError)) throw err;
    const cause = err.cause;
    if (cause instanceof AppError) throw cause;
    // A ZodError behind an INTERNAL_SERVER_ERROR is an answer failing its output schema: a bug, not a 400.
    if (cause instanceof z.ZodError && err.code === "BAD_REQUEST") {
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

async function serve(route: RestRoute, c: Context<HonoEnv>): Promise<Response> {
  // What a procedure sets on its response (the session cookie of sign-in, sign-up, sign-out) is kept.
  const resHeaders = new Headers();
  const call = createCaller(contextFromHono(c, resHeaders));
  const params = c.req.param() as Record<string, string>;
  const query = readQuery(route, c.req.query());
  const body = route.body ? await readJson(c) : await noBody(c);
  // A body field named like a path parameter would be overwritten by it, silently: refused, as any field the
  // procedure does not take is.
  for (const key of Object.keys(body)) {
    if (Object.hasOwn(params, key)) throw unknownField(key, `it is taken from the path, not the body`);
  }
  const answer = await route.handle({ call, params, query, body });
  for (const cookie of resHeaders.getSetCookie()) c.header("set-cookie", cookie, { append: true });
  resHeaders.forEach((value, name) => {
    if (name !== "set-cookie") c.header(name, value);
  });
  return c.json(answer as object, route.status ?? 200);
}

const numericFields = new WeakMap<RestRoute, Set<string>>();

/** A 400 naming a field the route does not take (as tRPC's strict input schemas answer one). */
const unknownField = (key: string, why: string) =>
  new AppError("BAD_REQUEST", `Unrecognized key: ${JSON.stringify(key.slice(0, 64))} (${why})`);

/**
 * The route's declared query fields; a numeric string where the schema says number becomes a number. A
 * parameter the route does not declare (a misspelt `limt`) is a 400 naming it, never silently dropped; the
 * values are the procedure's to validate, after its own auth and scope checks.
 */
function readQuery(route: RestRoute, raw: Record<string, string>): Record<string, QueryValue | undefined> {
  const declared = route.query?.shape ?? {};
  for (const key of Object.keys(raw)) {
    if (!Object.hasOwn(declared, key)) throw unknownField(key, "not a query parameter of this route");
  }
  if (!route.query) return {};
  let numeric = numericFields.get(route);
  if (!numeric) {
    const props = (jsonSchema(route.query, "input").properties ?? {}) as Record<string, { type?: unknown }>;
    numeric = new Set(
      Object.keys(props).filter((k) => props[k]?.type === "integer" || props[k]?.type === "number"),
    );
    numericFields.set(route, numeric);
  }
  const out: Record<string, QueryValue | undefined> = {};
  for (const key of Object.keys(route.query.shape)) {
    const value = raw[key];
    out[key] =
      value !== undefined && numeric.has(key) && /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value;
  }
  return out;
}

/**
 * A route that takes no body: none, or an empty JSON object, is accepted (clients that always send JSON send
 * `{}`); anything else is refused as tRPC refuses an input field the procedure does not take.
 */
async function noBody(c: Context<HonoEnv>): Promise<Record<string, never>> {
  if (c.req.method === "GET" || c.req.method === "HEAD") return {};
  const text = (await c.req.text()).trim();
  if (text === "") return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new AppError("BAD_REQUEST", "This route takes no body");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new AppError("BAD_REQUEST", "This route takes no body");
  }
  const [key] = Object.keys(body);
  if (key !== undefined) throw unknownField(key, "this route takes no body");
  return {};
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
