// The life of an instance as production runs it: the control plane and two edges as separate processes
// (`apps/*/src/main.ts`) on one PostgreSQL and one Redis (skipped without DATABASE_URL and REDIS_URL: separate
// processes refuse the embedded backends; the embedded single process is `instances.lifecycle.test.ts`'s stack,
// composed as `bun run dev` composes it, whose start-up would also rebuild the dashboard). Rotation, revocation,
// new settings, a reconnect and deletion reach both edges at once.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import type { Subprocess } from "bun";
import { FAKE_FILE_KEY, type FakeFigma, startFakeFigma } from "./fakes/figma.ts";
import { until } from "./wait.ts";

const { DATABASE_URL, REDIS_URL } = process.env;
const shared = !!DATABASE_URL && !!REDIS_URL;
const root = resolve(import.meta.dir, "..");

let figma: FakeFigma;
const procs: Subprocess[] = [];
let cpUrl = "";
let edgeUrls: string[] = [];

async function freePort(): Promise<number> {
  const probe = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const { port } = probe;
  probe.stop(true);
  return port ?? 0;
}

function start(script: string, env: Record<string, string>): void {
  const proc = Bun.spawn([process.execPath, resolve(root, script)], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      DATABASE_URL: DATABASE_URL ?? "",
      REDIS_URL: REDIS_URL ?? "",
      ENCRYPTION_KEYS: "v1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
      PASSWORD_HASH_MEMORY_KIB: "19456",
      REDIS_TIMEOUT_MS: "2000",
      ENABLED_SERVICES: "figma",
      SERVICE_FIGMA_BASE_URL: figma.url,
      HEALTH_CHECK_INTERVAL_MS: "0",
      LOG_LEVEL: "error",
      NODE_ENV: "test",
      ...env,
    },
    stdout: "ignore",
    stderr: "inherit",
  });
  procs.push(proc);
}

beforeAll(async () => {
  if (!shared) return;
  figma = await startFakeFigma({ keys: new Map() });
  const [cpPort, edgePortA, edgePortB] = [await freePort(), await freePort(), await freePort()];
  cpUrl = `http://127.0.0.1:${cpPort}`;
  edgeUrls = [`http://127.0.0.1:${edgePortA}`, `http://127.0.0.1:${edgePortB}`];
  start("apps/control-plane/src/main.ts", { PORT: String(cpPort), PUBLIC_EDGE_URL: edgeUrls[0] ?? "" });
  start("apps/edge/src/main.ts", { PORT: String(edgePortA), PUBLIC_EDGE_URL: edgeUrls[0] ?? "" });
  start("apps/edge/src/main.ts", { PORT: String(edgePortB), PUBLIC_EDGE_URL: edgeUrls[1] ?? "" });
  const answers = async (url: string) => (await fetch(url).catch(() => undefined))?.ok === true;
  await until(
    async () => {
      if (!(await answers(`${cpUrl}/api/v1/services`))) return false;
      for (const edge of edgeUrls) if (!(await answers(`${edge}/ready`))) return false;
      return true;
    },
    "the control plane and both edges to serve",
    { timeoutMs: 60_000, everyMs: 200 },
  );
}, 90_000);

afterAll(async () => {
  for (const proc of procs) proc.kill("SIGTERM");
  await Promise.all(procs.map((proc) => proc.exited));
  figma?.stop();
});

interface Issued {
  instanceId: string;
  instanceUrl: string;
}
interface Answer {
  status: number;
  body: { result?: { data: Issued }; error?: { data: { appCode: string } } };
}

/** `result.data` of a call that must succeed. */
function issued(answer: Answer): Issued {
  if (!answer.body.result) throw new Error(`call failed: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body.result.data;
}

async function trpc(cookie: string, path: string, input: unknown): Promise<Answer> {
  const query = path.endsWith(".get") || path.endsWith(".list");
  const url = new URL(`${cpUrl}/trpc/${path}`);
  if (query) url.searchParams.set("input", JSON.stringify(input));
  const res = await fetch(url, {
    method: query ? "GET" : "POST",
    headers: { "content-type": "application/json", cookie, origin: cpUrl },
    body: query ? undefined : JSON.stringify(input),
  });
  return { status: res.status, body: (await res.json()) as Answer["body"] };
}

async function signUp(): Promise<string> {
  const res = await fetch(`${cpUrl}/trpc/auth.signUp`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: cpUrl },
    body: JSON.stringify({
      email: `p-${crypto.randomUUID()}@example.test`,
      password: "correct horse battery",
    }),
  });
  expect(res.status).toBe(200);
  return (res.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
}

const pathOf = (instanceUrl: string) => new URL(instanceUrl).pathname;

const HEADERS_2026 = (method: string, name?: string) => ({
  "content-type": "application/json",
  accept: "application/json, text/event-stream",
  "mcp-protocol-version": "2026-07-28",
  "mcp-method": method,
  ...(name && { "mcp-name": name }),
});
const META = {
  "io.modelcontextprotocol/protocolVersion": "2026-07-28",
  "io.modelcontextprotocol/clientCapabilities": {},
};

async function callOn(edge: string, instanceUrl: string, tool: string, args: Record<string, unknown> = {}) {
  const res = await fetch(`${edge}${pathOf(instanceUrl)}`, {
    method: "POST",
    headers: HEADERS_2026("tools/call", tool),
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: { name: tool, arguments: args, _meta: META },
    }),
  });
  return {
    status: res.status,
    body: (await res.json()) as {
      code?: string;
      result?: { isError?: boolean };
      error?: { code: number; message: string };
    },
  };
}

async function expectServed(instanceUrl: string): Promise<void> {
  for (const edge of edgeUrls) {
    const answer = await callOn(edge, instanceUrl, "get_file", { file_key: FAKE_FILE_KEY });
    expect(answer.status).toBe(200);
    expect(answer.body.result?.isError).toBeFalsy();
  }
}

async function expectDead(instanceUrl: string): Promise<void> {
  const mark = figma.requests.length;
  for (const edge of edgeUrls) {
    const answer = await callOn(edge, instanceUrl, "get_file", { file_key: FAKE_FILE_KEY });
    expect(answer.status).toBe(401);
    expect(answer.body.code).toBe("INVALID_INSTANCE");
  }
  expect(figma.requests.length).toBe(mark);
}

describe.skipIf(!shared)("control plane and two edges as processes", () => {
  test("rotate, revoke, reconnect, settings and delete reach every edge at once", async () => {
    const cookie = await signUp();
    const key = `figd_${crypto.randomUUID()}`;
    figma.addKey(key, { id: "fig-proc", email: "proc@figma.test", handle: "proc" });
    const first = issued(await trpc(cookie, "instances.connect", { serviceType: "figma", apiKey: key }));
    await expectServed(first.instanceUrl);

    const rotated = issued(await trpc(cookie, "instances.rotate", { serviceType: "figma" }));
    expect(rotated.instanceId).toBe(first.instanceId);
    await expectDead(first.instanceUrl);
    await expectServed(rotated.instanceUrl);

    await trpc(cookie, "instances.updateSettings", { serviceType: "figma", toolAllowlist: ["get_me"] });
    for (const edge of edgeUrls) {
      const refused = await callOn(edge, rotated.instanceUrl, "get_file", { file_key: FAKE_FILE_KEY });
      expect(refused.body.error).toMatchObject({ code: -32602, message: "Unknown tool: get_file" });
    }
    await trpc(cookie, "instances.updateSettings", { serviceType: "figma", toolAllowlist: null });
    await expectServed(rotated.instanceUrl);

    expect((await trpc(cookie, "instances.revoke", { serviceType: "figma" })).status).toBe(200);
    await expectDead(rotated.instanceUrl);
    const back = issued(await trpc(cookie, "instances.connect", { serviceType: "figma", apiKey: key }));
    expect(back.instanceId).toBe(first.instanceId);
    expect(back.instanceUrl).not.toBe(rotated.instanceUrl);
    await expectDead(rotated.instanceUrl);
    await expectServed(back.instanceUrl);

    expect((await trpc(cookie, "instances.delete", { serviceType: "figma" })).status).toBe(200);
    await expectDead(back.instanceUrl);
  }, 90_000);
});
