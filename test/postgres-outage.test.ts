// PostgreSQL down, against the real server (DATABASE_URL) through a TCP proxy this file cuts and mends (the
// shared server and every other test keep their connections): control-plane reads and writes answer 503
// SERVICE_UNAVAILABLE with Retry-After (never a 500), a connect cut between its upstream check and its
// transaction leaves nothing behind and succeeds once when retried, and the edge keeps serving the
// instances it knows (their tool calls reach the audit log once the database is back). The embedded run has
// no server to cut (PGlite lives in the process).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { auditEvents, createDatabase, credentials, instances } from "@mcp/db";
import { eq } from "drizzle-orm";
import { connectFigma, data, figmaKeyFor, newUser, rest, type TestUser, trpc } from "./client.ts";
import { FAKE_FILE_KEY } from "./fakes/figma.ts";
import { startTcpProxy, type TcpProxy } from "./fakes/tcp-proxy.ts";
import { type Stack, startStack } from "./harness.ts";
import { until } from "./wait.ts";

const DATABASE_URL = process.env.DATABASE_URL;

async function callGetFile(url: string) {
  const res = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": "2025-06-18",
    },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: { name: "get_file", arguments: { file_key: FAKE_FILE_KEY } },
    }),
  });
  const text = await res.text();
  const json = text.startsWith("{") ? text : /^data: (.*)$/m.exec(text)?.[1];
  return { status: res.status, headers: res.headers, body: json ? JSON.parse(json) : undefined };
}

// One skipped test in the embedded run (not one per test and hook).
if (!DATABASE_URL)
  test.skip("PostgreSQL down (needs DATABASE_URL: the embedded run has no server to cut)", () => {});
else
  describe("PostgreSQL down", () => {
    let proxy: TcpProxy;
    let stack: Stack;
    /** Straight to the server, not through the proxy: what was really written. */
    let direct: ReturnType<typeof createDatabase>;
    let user: TestUser;
    let known: { instanceId: string; instanceUrl: string };
    let apiKey: string;
    /** The request id of a tool call the edge served while the database was down. */
    let servedWhileDown: string | null = null;

    beforeAll(async () => {
      const target = new URL(DATABASE_URL ?? "");
      proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
      const proxied = new URL(target);
      proxied.hostname = "127.0.0.1";
      proxied.port = String(proxy.port);
      stack = await startStack({ databaseUrl: proxied.toString() });
      direct = createDatabase({ DATABASE_URL, poolSize: 2 });
      user = await newUser(stack);
      known = await connectFigma(stack, user, figmaKeyFor(stack, "pg-known"));
      // Served once: the edge knows the instance.
      expect((await callGetFile(known.instanceUrl)).status).toBe(200);
      const created = await trpc(stack, "apiKeys.create", { name: "outage" }, { cookie: user.cookie });
      apiKey = data<{ key: string }>(created).key;
    });
    afterAll(async () => {
      await proxy?.up();
      await stack?.stop();
      await direct?.close();
      await proxy?.stop();
    });

    test("a connect cut between the upstream check and its write: 503 with Retry-After, nothing written, a retry connects once", async () => {
      const victim = await newUser(stack);
      const key = figmaKeyFor(stack, "pg-victim");
      stack.figma.delayMs = 300;
      const seen = stack.figma.requests.length;
      const pending = trpc(
        stack,
        "instances.connect",
        { serviceType: "figma", apiKey: key },
        { cookie: victim.cookie },
      );
      // The upstream has the key check; the database goes away before the answer comes back.
      await until(() => stack.figma.requests.length > seen, "the upstream key check");
      await proxy.down();
      const cut = await pending;
      stack.figma.delayMs = 0;
      expect(cut.status).toBe(503);
      expect(cut.headers.get("retry-after")).toBe("5");
      expect(cut.body.error?.data).toMatchObject({ appCode: "SERVICE_UNAVAILABLE", httpStatus: 503 });
      expect(JSON.stringify(cut.body)).not.toContain(key);
      await proxy.up();

      const rows = async () => ({
        instances: await direct.db.select().from(instances).where(eq(instances.userId, victim.userId)),
        credentials: await direct.db.select().from(credentials).where(eq(credentials.userId, victim.userId)),
      });
      expect(await rows()).toEqual({ instances: [], credentials: [] });

      const again = await trpc(
        stack,
        "instances.connect",
        { serviceType: "figma", apiKey: key },
        { cookie: victim.cookie },
      );
      expect(again.status).toBe(200);
      const after = await rows();
      expect(after.instances).toHaveLength(1);
      expect(after.credentials).toHaveLength(1);
      const url = data<{ instanceUrl: string }>(again).instanceUrl;
      expect((await callGetFile(url)).status).toBe(200);
    });

    describe("while it is down", () => {
      beforeAll(() => proxy.down());
      afterAll(() => proxy.up());

      test("tRPC reads and writes answer 503 SERVICE_UNAVAILABLE with Retry-After, never 500", async () => {
        const calls = [
          trpc(stack, "instances.list", undefined, { cookie: user.cookie }),
          trpc(stack, "instances.revoke", { serviceType: "figma" }, { cookie: user.cookie }),
          trpc(stack, "auth.signUp", {
            email: `pg-${crypto.randomUUID()}@example.test`,
            password: "correct horse battery",
          }),
          trpc(stack, "instances.list", undefined, { apiKey }),
        ];
        for (const answer of await Promise.all(calls)) {
          expect(answer.status).toBe(503);
          expect(answer.headers.get("retry-after")).toBe("5");
          expect(answer.body.error?.data.appCode).toBe("SERVICE_UNAVAILABLE");
          expect(answer.body.error?.message).toBe("Temporarily unavailable; try again shortly");
        }
      });

      test("REST answers 503 SERVICE_UNAVAILABLE with Retry-After and a request id", async () => {
        for (const [method, path] of [
          ["GET", "/user/instances"],
          ["DELETE", "/services/figma/instance"],
        ] as const) {
          const answer = await rest(stack, method, path, { auth: { apiKey } });
          expect(answer.status).toBe(503);
          expect(answer.headers.get("retry-after")).toBe("5");
          expect(answer.body).toMatchObject({ code: "SERVICE_UNAVAILABLE" });
          expect(typeof answer.body.requestId).toBe("string");
        }
      });

      test("health and readiness say the database is unreachable", async () => {
        const health = await fetch(`${stack.controlPlaneUrl}/health`);
        expect(health.status).toBe(503);
        expect(await health.json()).toMatchObject({ status: "unavailable", database: false });
        const ready = await fetch(`${stack.edgeUrl}/ready`);
        expect(ready.status).toBe(503);
      });

      test("the edge keeps serving the instance it knows; an unknown token is 503 with Retry-After", async () => {
        const served = await callGetFile(known.instanceUrl);
        expect(served.status).toBe(200);
        expect(served.body.result.isError).toBeUndefined();
        servedWhileDown = served.headers.get("x-request-id");
        // Its audit event: the writer (every second) tries, cannot reach the database, and keeps it.
        await until(
          () => stack.logs.some((line) => line.includes("audit flush deferred: database unavailable")),
          "an audit flush tried during the outage",
        );
        // Well-formed, never issued: only the database could tell.
        const unknown = known.instanceUrl.replace(/.{4}\/mcp$/, "zzzz/mcp");
        expect(unknown).not.toBe(known.instanceUrl);
        const refused = await callGetFile(unknown);
        expect(refused.status).toBe(503);
        expect(refused.headers.get("retry-after")).toBe("5");
        expect(refused.body).toMatchObject({ code: "SERVICE_UNAVAILABLE" });
      });
    });

    test("once it is back, the revoke refused during the outage works and nothing else changed", async () => {
      const listed = await trpc(stack, "instances.list", undefined, { cookie: user.cookie });
      expect(listed.status).toBe(200);
      const revoked = await trpc(
        stack,
        "instances.revoke",
        { serviceType: "figma" },
        { cookie: user.cookie },
      );
      expect(revoked.status).toBe(200);
      expect((await callGetFile(known.instanceUrl)).status).toBe(401);
    });

    test("a tool call served while it was down is in the audit log once it is back (kept, not dropped)", async () => {
      const requestId = servedWhileDown;
      expect(requestId).toBeString();
      const written = () =>
        direct.db
          .select({ action: auditEvents.action, status: auditEvents.status, tool: auditEvents.tool })
          .from(auditEvents)
          .where(eq(auditEvents.requestId, requestId ?? ""));
      // The edge's writer tries again every second.
      await until(async () => (await written()).length > 0, "the outage's tool call in the audit log");
      expect(await written()).toEqual([{ action: "tool.call", status: "ok", tool: "get_file" }]);
    });
  });
