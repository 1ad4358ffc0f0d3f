import { type ApiKeyScope, ERRORS, type ErrorCode } from "@mcp/core";
import { z } from "zod";
import type { createCaller, RouterInputs } from "../trpc/router.ts";

/** Who may call a route: anyone, a session or an API key, a session only (API-key management). */
export type Access = "public" | "any" | "session";
export type Method = "get" | "post" | "put" | "patch" | "delete";
export type Caller = ReturnType<typeof createCaller>;

/** A procedure's input type, for handing a validated-later REST input over: `In<"orgs", "invite">`. */
export type In<N extends keyof RouterInputs, P extends keyof RouterInputs[N]> = RouterInputs[N][P];

/** `instances.get`, `apiKeys.create`, …: every procedure of the router, checked by the compiler. */
export type ProcedurePath = {
  [K in keyof RouterInputs & string]: `${K}.${keyof RouterInputs[K] & string}`;
}[keyof RouterInputs & string];

/** The fields of `o` that are set (a query's absent fields left out, so the procedure sees them absent). */
export const defined = <T extends object>(o: T) =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;

/** A query value: numbers where the route's query schema says number, else the string sent. */
export type QueryValue = string | number;

export interface RestRequest {
  /** The tRPC caller of this request: validation, scoping and errors are the procedures'. */
  call: Caller;
  /** Path parameters, as sent (the procedure validates them). */
  params: Record<string, string>;
  /** The query's declared fields, numeric strings read as numbers; the procedure validates them. */
  query: Record<string, QueryValue | undefined>;
  /** The JSON body (an object); the procedure validates it. */
  body: Record<string, unknown>;
}

/**
 * One REST route: the Hono route and its OpenAPI operation are both generated from this, so they cannot
 * drift. `params`, `query` and `body` describe the input (reused from the procedure's zod input) for the
 * document; the procedure validates what is sent, after its own auth and scope checks.
 */
export interface RestRoute<R extends z.ZodType = z.ZodType> {
  method: Method;
  /** Hono syntax under /api/v1, e.g. `/services/:serviceType/instance`. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tag: Tag;
  access: Access;
  /** The scope an API key needs (the procedure's `scopedProcedure`); a key without it gets 403. */
  scope?: ApiKeyScope;
  /** The procedure the route calls (documented as `x-trpc-procedure`). */
  procedure: ProcedurePath | null;
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodObject;
  /** Success status (default 200). */
  status?: 200 | 201;
  /** The answer's shape; where the REST answer differs from the procedure's, declared here with zod. */
  response: R;
  /** The route's own error codes; the ones every route (or every route with input) can answer are added. */
  errors: ErrorCode[];
  handle(req: RestRequest): Promise<z.output<R>>;
}

/** Types one route (its handler against its own schemas) and erases it for the table. */
export function defineRoute<R extends z.ZodType>(route: RestRoute<R>): RestRoute {
  return route as unknown as RestRoute;
}

export const TAGS = {
  services: "The catalogue of upstream services and their health (public).",
  instances: "Your personal MCP endpoints: connect a service, rotate, update the key, revoke.",
  "api-keys": "API keys for integrators. Managed from a signed-in session only, never with an API key.",
  auth: "Sign-up, sign-in (session cookie) and the current user.",
  activity: "Your audit trail and usage (API keys need the `audit:read` / `usage:read` scope).",
  account: "Your account: password, sessions, deletion. From a signed-in session only.",
  orgs: "Organisations: members and roles, single-use invitations, members' instances (owners and admins; API keys need `org:admin` and act only in their own organisation).",
  meta: "This document.",
} as const;
export type Tag = keyof typeof TAGS;

const issue = z.object({ path: z.array(z.union([z.string(), z.number()])), message: z.string() });
/** Every error answer: `{ error, code, requestId }`, plus the zod issues on a 400 from validation. */
export const ZRestError = z.object({
  error: z.string(),
  code: z.enum(Object.keys(ERRORS) as [ErrorCode, ...ErrorCode[]]),
  requestId: z.string().optional(),
  issues: z.array(issue).optional(),
});

/**
 * What every route may answer (a query parameter it does not take, bad bearer, Host/Origin refused, database
 * down, a bug).
 */
const EVERY_ROUTE: ErrorCode[] = [
  "BAD_REQUEST",
  "UNAUTHORIZED",
  "FORBIDDEN",
  "INTERNAL",
  "SERVICE_UNAVAILABLE",
];

/** The error codes a route documents, in the table's order of codes. */
export function errorCodesOf(route: RestRoute): ErrorCode[] {
  const codes = new Set<ErrorCode>([...route.errors, ...EVERY_ROUTE]);
  // A route without a body refuses one too, read under the same size limit.
  if (route.method !== "get") codes.add("PAYLOAD_TOO_LARGE");
  // `Idempotency-Key` on a state-changing request: malformed 400, still running 409, reused for another 422.
  if (route.method !== "get")
    for (const c of ["BAD_REQUEST", "CONFLICT", "IDEMPOTENCY_CONFLICT"] as const) codes.add(c);
  return (Object.keys(ERRORS) as ErrorCode[]).filter((c) => codes.has(c));
}
