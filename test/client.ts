// Small helpers for black-box tests: raw tRPC and REST over HTTP (as any client would send them), sign-up,
// and the probe that proves an instance URL is dead.
import { expect } from "bun:test";
import { type Stack, TEST_METRICS_TOKEN } from "./harness.ts";

export interface TrpcAnswer {
  status: number;
  body: {
    result?: { data: unknown };
    error?: { message: string; data: { code: string; httpStatus: number; appCode: string } };
  };
  headers: Headers;
}

/** Who a call is made as: a session cookie, an API key (sent as a Bearer) and/or a raw Authorization header. */
export interface Auth {
  cookie?: string;
  apiKey?: string;
  /** Sent exactly as given (overrides `apiKey`), for malformed or foreign schemes. */
  authorization?: string;
  /** Sent as X-Forwarded-For: the caller's address on a stack started with `trustProxy`. */
  ip?: string;
  /** Sent as X-Org-Id: the organisation the call acts in. */
  orgId?: string;
}

/** Calls one procedure: queries as GET with ?input=, mutations as POST with a JSON body. */
export async function trpc(
  stack: Stack,
  path: string,
  input?: unknown,
  auth: Auth & { method?: "GET" | "POST"; origin?: string } = {},
): Promise<TrpcAnswer> {
  const method = auth.method ?? (isQuery(path) ? "GET" : "POST");
  const url = new URL(`${stack.controlPlaneUrl}/trpc/${path}`);
  if (method === "GET" && input !== undefined) url.searchParams.set("input", JSON.stringify(input));
  const headers = authHeaders(auth, auth.origin);
  const res = await fetch(url, {
    method,
    headers,
    body: method === "POST" ? JSON.stringify(input ?? null) : undefined,
  });
  return { status: res.status, body: (await res.json()) as TrpcAnswer["body"], headers: res.headers };
}

/** The `result.data` of a successful answer; throws when the call failed. */
export function data<T>(answer: TrpcAnswer): T {
  if (!answer.body.result) throw new Error(`call failed: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body.result.data as T;
}

const isQuery = (path: string) =>
  /\.(list|get|me|health|members|invitations|memberInstances|summary|sessions)$/.test(path);

function authHeaders(auth: Auth = {}, origin?: string): Record<string, string> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (auth.cookie) headers.cookie = auth.cookie;
  if (auth.apiKey) headers.authorization = `Bearer ${auth.apiKey}`;
  if (auth.authorization) headers.authorization = auth.authorization;
  if (auth.ip) headers["x-forwarded-for"] = auth.ip;
  if (auth.orgId) headers["x-org-id"] = auth.orgId;
  if (origin) headers.origin = origin;
  return headers;
}

export interface RestAnswer {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

/** One call to the REST API under /api/v1: `body` is sent as JSON, `raw` exactly as given. */
export async function rest(
  stack: Stack,
  method: string,
  path: string,
  opts: { body?: unknown; raw?: string; auth?: Auth; origin?: string } = {},
): Promise<RestAnswer> {
  const headers = authHeaders(opts.auth, opts.origin);
  const body = opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
  const res = await fetch(`${stack.controlPlaneUrl}/api/v1${path}`, { method, headers, body });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

export interface TestUser {
  email: string;
  cookie: string;
  userId: string;
}

/** Signs up a brand-new user (unique email) and returns its session cookie. */
export async function newUser(stack: Stack, password = "correct horse battery"): Promise<TestUser> {
  const email = `u-${crypto.randomUUID()}@example.test`;
  const res = await trpc(stack, "auth.signUp", { email, password });
  if (res.status !== 200) throw new Error(`sign-up failed: ${res.status} ${JSON.stringify(res.body)}`);
  const cookie = (res.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
  return { email, cookie, userId: data<{ id: string }>(res).id };
}

/** A Figma key the fake upstream accepts, owned by `who`. */
export function figmaKeyFor(stack: Stack, who: string): string {
  const key = `figd_${crypto.randomUUID()}`;
  stack.figma.addKey(key, { id: `fig-${who}`, email: `${who}@figma.test`, handle: who });
  return key;
}

export async function connectFigma(
  stack: Stack,
  user: TestUser,
  key: string,
  /** The organisation to connect in (X-Org-Id); the user's personal one when omitted. */
  orgId?: string,
): Promise<{ instanceId: string; instanceUrl: string }> {
  const res = await trpc(
    stack,
    "instances.connect",
    { serviceType: "figma", apiKey: key },
    { cookie: user.cookie, orgId },
  );
  if (res.status !== 200) throw new Error(`connect failed: ${res.status} ${JSON.stringify(res.body)}`);
  return data<{ instanceId: string; instanceUrl: string }>(res);
}

/**
 * Proves an instance URL dead while checking that the upstream was not called. The default `probe` is a raw
 * JSON-RPC `tools/list` POST that must get 401 INVALID_INSTANCE; a test may pass its own, stricter one.
 */
export async function expectInstanceDead(
  stack: Stack,
  instanceUrl: string,
  probe: (url: string) => Promise<void> = expectToolsListRejected,
): Promise<void> {
  const mark = stack.figma.requests.length;
  await probe(instanceUrl);
  expect(stack.figma.requests.length).toBe(mark);
}

async function expectToolsListRejected(instanceUrl: string): Promise<void> {
  const res = await fetch(instanceUrl, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
  });
  expect(res.status).toBe(401);
  expect(await res.json()).toMatchObject({ code: "INVALID_INSTANCE" });
}

/** The edge's Prometheus text, read with the stack's metrics token. */
export async function metricsText(stack: Stack): Promise<string> {
  const res = await fetch(`${stack.edgeUrl}/metrics`, {
    headers: { authorization: `Bearer ${TEST_METRICS_TOKEN}` },
  });
  expect(res.status).toBe(200);
  return res.text();
}

/** A finished child process's exit code and everything it wrote (a Bun.spawn with both streams piped). */
export async function outputOf(proc: {
  stdout: ReadableStream<Uint8Array>;
  stderr: ReadableStream<Uint8Array>;
  exited: Promise<number>;
}): Promise<{ code: number; stdout: string; stderr: string }> {
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, stdout, stderr };
}

/** A tRPC error answer: its status, our code in `data.appCode` (and `data.httpStatus`), a message, no result. */
export function expectTrpcError(
  res: Pick<TrpcAnswer, "status" | "body">,
  status: number,
  code: string,
): void {
  expect({ status: res.status, appCode: res.body.error?.data.appCode }).toEqual({ status, appCode: code });
  expect(res.body.error?.data.httpStatus).toBe(status);
  expect(res.body.error?.message).toBeString();
  expect(res.body.result).toBeUndefined();
}

/** A REST error answer: `{ error, code, requestId }` with the status, the request id also in X-Request-Id. */
export function expectRestError(res: RestAnswer, status: number, code: string): void {
  expect({ status: res.status, code: res.body.code }).toEqual({ status, code });
  expect(res.body.error).toBeString();
  expect(res.body.requestId).toBeString();
  expect(res.headers.get("x-request-id")).toBe(res.body.requestId as string);
}

/**
 * A `tools/call` POST as a 2026-07-28 client sends it (routing headers, the `_meta` envelope: the shape the edge's
 * fast path takes), with `extraMeta` added to the envelope.
 */
export function toolCallRequest(
  name: string,
  args: Record<string, unknown> = {},
  extraMeta: Record<string, unknown> = {},
  clientName = "test",
): RequestInit {
  const version = "2026-07-28";
  return {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": version,
      "mcp-method": "tools/call",
      "mcp-name": name,
    },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: {
        name,
        arguments: args,
        _meta: {
          "io.modelcontextprotocol/protocolVersion": version,
          "io.modelcontextprotocol/clientCapabilities": {},
          "io.modelcontextprotocol/clientInfo": { name: clientName, version: "1" },
          ...extraMeta,
        },
      },
    }),
  };
}

/** One `tools/call` of Figma's `get_me` through the edge in the current protocol (2026-07-28): its HTTP status. */
export async function callGetMe(instanceUrl: string, clientName = "test"): Promise<number> {
  const res = await fetch(instanceUrl, toolCallRequest("get_me", {}, {}, clientName));
  await res.body?.cancel();
  return res.status;
}
