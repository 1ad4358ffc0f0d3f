// Small helpers for black-box tests: raw tRPC over HTTP (as any client would send it) and sign-up.
import type { Stack } from "./harness.ts";

export interface TrpcAnswer {
  status: number;
  body: {
    result?: { data: unknown };
    error?: { message: string; data: { code: string; httpStatus: number; appCode: string } };
  };
  headers: Headers;
}

/** Calls one procedure: queries as GET with ?input=, mutations as POST with a JSON body. */
export async function trpc(
  stack: Stack,
  path: string,
  input?: unknown,
  auth: { cookie?: string; apiKey?: string; method?: "GET" | "POST" } = {},
): Promise<TrpcAnswer> {
  const method = auth.method ?? (isQuery(path) ? "GET" : "POST");
  const url = new URL(`${stack.controlPlaneUrl}/trpc/${path}`);
  if (method === "GET" && input !== undefined) url.searchParams.set("input", JSON.stringify(input));
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (auth.cookie) headers.cookie = auth.cookie;
  if (auth.apiKey) headers.authorization = `Bearer ${auth.apiKey}`;
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

const isQuery = (path: string) => /\.(list|get|me)$/.test(path);

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
): Promise<{ instanceId: string; instanceUrl: string }> {
  const res = await trpc(
    stack,
    "instances.connect",
    { serviceType: "figma", apiKey: key },
    { cookie: user.cookie },
  );
  if (res.status !== 200) throw new Error(`connect failed: ${res.status} ${JSON.stringify(res.body)}`);
  return data<{ instanceId: string; instanceUrl: string }>(res);
}
