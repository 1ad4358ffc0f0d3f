// Shared by the per-service suites (test/services/<type>.test.ts): a whole stack whose service points at a
// fake upstream, users connecting their own keys, and a real MCP SDK client calling the tools.
import { expect } from "bun:test";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { data, newUser, type TestUser, type TrpcAnswer, trpc } from "../client.ts";
import type { RecordedUpstreamRequest } from "../fakes/upstream.ts";
import { type Stack, startStack } from "../harness.ts";

export type { TestUser } from "../client.ts";
export { newUser } from "../client.ts";

/** A stack whose `type` service talks to `fakeUrl` (SERVICE_<TYPE>_BASE_URL). */
export function startServiceStack(
  type: string,
  fakeUrl: string,
  opts: Parameters<typeof startStack>[0] = {},
): Promise<Stack> {
  const name = `SERVICE_${type.toUpperCase().replaceAll("-", "_")}_BASE_URL`;
  // Only this service (and Figma, which every stack has a fake of) is loaded: other definitions are
  // other suites' business.
  return startStack({
    ...opts,
    serviceEnv: { ENABLED_SERVICES: `figma,${type}`, [name]: fakeUrl, ...opts.serviceEnv },
  });
}

export interface Connected {
  instanceId: string;
  instanceUrl: string;
}

/** `instances.connect` as the user; the raw answer (for tests of refusals). */
export function connectRaw(
  stack: Stack,
  user: TestUser,
  serviceType: string,
  apiKey: string,
  additionalCredentials?: Record<string, string>,
): Promise<TrpcAnswer> {
  return trpc(
    stack,
    "instances.connect",
    { serviceType, apiKey, additionalCredentials },
    { cookie: user.cookie },
  );
}

/** `instances.connect` that must succeed. */
export async function connect(
  stack: Stack,
  user: TestUser,
  serviceType: string,
  apiKey: string,
  additionalCredentials?: Record<string, string>,
): Promise<Connected> {
  const res = await connectRaw(stack, user, serviceType, apiKey, additionalCredentials);
  if (res.status !== 200) throw new Error(`connect failed: ${res.status} ${JSON.stringify(res.body)}`);
  return data<Connected>(res);
}

/** A signed-up user with `serviceType` connected: their instance URL and an MCP client on it. */
export async function userWithInstance(
  stack: Stack,
  serviceType: string,
  apiKey: string,
  additionalCredentials?: Record<string, string>,
): Promise<{ user: TestUser; instance: Connected; client: Client }> {
  const user = await newUser(stack);
  const instance = await connect(stack, user, serviceType, apiKey, additionalCredentials);
  return { user, instance, client: await mcpClient(instance.instanceUrl) };
}

/** A real MCP SDK client (current spec, falling back to the 2025 era) connected to an instance URL. */
export async function mcpClient(instanceUrl: string): Promise<Client> {
  const client = new Client({ name: "service-suite", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(instanceUrl)));
  return client;
}

export interface ToolAnswer {
  isError: boolean;
  /** The text content (what the model reads). */
  text: string;
  /** The text parsed as JSON; undefined when it is not JSON (an error message, a cut result). */
  json: unknown;
  meta: Record<string, unknown> | undefined;
}

/** Calls a tool and reads its single text content. */
export async function callTool(
  client: Client,
  name: string,
  args: Record<string, unknown> = {},
): Promise<ToolAnswer> {
  const result = await client.callTool({ name, arguments: args });
  const content = (result.content ?? []) as { type: string; text?: string }[];
  const text = content.map((c) => c.text ?? "").join("");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return {
    isError: result.isError === true,
    text,
    json,
    meta: result._meta as Record<string, unknown> | undefined,
  };
}

/**
 * Arguments the tool's schema refuses: a tool error the model can correct (`isError`, `_meta.code`
 * `BAD_REQUEST`), not a protocol error. Returns its text.
 */
export async function expectInvalidParams(
  client: Client,
  name: string,
  args: Record<string, unknown>,
): Promise<string> {
  const result = (await client.callTool({ name, arguments: args })) as {
    isError?: boolean;
    _meta?: { code?: string };
    content?: { text?: string }[];
  };
  expect({ name, isError: result.isError, code: result._meta?.code }).toEqual({
    name,
    isError: true,
    code: "BAD_REQUEST",
  });
  const text = result.content?.[0]?.text ?? "";
  expect(text).toStartWith(`Invalid arguments for tool ${name}: `);
  return text;
}

/** Every recorded request carried exactly `expected` in `header` (lower-case name): nobody else's key. */
export function expectOnlyCredential(
  requests: readonly RecordedUpstreamRequest[],
  header: string,
  expected: string,
): void {
  expect(requests.length).toBeGreaterThan(0);
  for (const req of requests) expect(req.headers[header]).toBe(expected);
}
