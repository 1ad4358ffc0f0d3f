// /health and /ready on the edge and the control plane: 200 while the kv and the database answer, 503 (with
// which one failed) when either is unreachable; the edge's /ready turns 503 once it is shutting down.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createApp } from "@mcp/control-plane";
import { createSessionStore } from "@mcp/core";
import { createDatabase } from "@mcp/db";
import { createEdge } from "@mcp/edge";
import { createKv } from "@mcp/kv";
import { type Stack, startStack } from "./harness.ts";

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ serviceEnv: { ENABLED_SERVICES: "figma,everything" } });
});
afterAll(async () => {
  await stack?.stop();
});

/** A kv of the configured kind (Redis when REDIS_URL is set), already closed: unreachable. */
async function closedKv() {
  const kv = createKv(
    { REDIS_URL: process.env.REDIS_URL },
    { prefix: `test:health-ep:${crypto.randomUUID()}:` },
  );
  await kv.close();
  return kv;
}

const controlPlane = (deps: Stack["platform"]["deps"]) =>
  createApp({ ...deps, sessions: createSessionStore(deps.db, { secureCookies: false }), allowedOrigins: [] });

describe("both backends up", () => {
  test("edge: /health 200 with its fields, /ready 200", async () => {
    const health = await fetch(`${stack.edgeUrl}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({
      status: "ok",
      kv: true,
      database: true,
      services: ["everything", "figma"],
    });
    const ready = await fetch(`${stack.edgeUrl}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true, kv: true, database: true });
  });

  test("control plane: /health 200, /ready 200", async () => {
    const health = await fetch(`${stack.controlPlaneUrl}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok", kv: true, database: true });
    const ready = await fetch(`${stack.controlPlaneUrl}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true, kv: true, database: true });
  });
});

describe("a backend unreachable", () => {
  test("edge with its kv closed: /health 503 { status: unavailable, kv: false }, /ready 503", async () => {
    const kv = createKv(
      { REDIS_URL: process.env.REDIS_URL },
      { prefix: `test:health-ep:${crypto.randomUUID()}:` },
    );
    const edge = await createEdge({ ...stack.platform.deps, kv });
    await kv.close();
    const health = await edge.app.request("/health");
    expect(health.status).toBe(503);
    expect(await health.json()).toEqual({
      status: "unavailable",
      kv: false,
      database: true,
      services: ["everything", "figma"],
    });
    const ready = await edge.app.request("/ready");
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ ready: false, kv: false, database: true });
    await edge.close().catch(() => {});
  });

  test("edge with its database closed: /health 503 { database: false }", async () => {
    const database = createDatabase({ memory: true });
    await database.close();
    const edge = await createEdge({ ...stack.platform.deps, db: database.db });
    const health = await edge.app.request("/health");
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ status: "unavailable", kv: true, database: false });
    expect((await edge.app.request("/ready")).status).toBe(503);
    await edge.close();
  });

  test("control plane with its kv closed: /health and /ready 503", async () => {
    const app = controlPlane({ ...stack.platform.deps, kv: await closedKv() });
    const health = await app.request("/health");
    expect(health.status).toBe(503);
    expect(await health.json()).toEqual({ status: "unavailable", kv: false, database: true });
    const ready = await app.request("/ready");
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ ready: false, kv: false, database: true });
  });

  test("control plane with its database closed: /health 503 { database: false }", async () => {
    const database = createDatabase({ memory: true });
    await database.close();
    const app = controlPlane({ ...stack.platform.deps, db: database.db });
    const health = await app.request("/health");
    expect(health.status).toBe(503);
    expect(await health.json()).toEqual({ status: "unavailable", kv: true, database: false });
  });
});

test("an edge shutting down: /ready 503 { closing: true } while /health still answers 200", async () => {
  const edge = await createEdge(stack.platform.deps);
  expect((await edge.app.request("/ready")).status).toBe(200);
  await edge.close();
  const ready = await edge.app.request("/ready");
  expect(ready.status).toBe(503);
  expect(await ready.json()).toEqual({ ready: false, kv: true, database: true, closing: true });
  expect((await edge.app.request("/health")).status).toBe(200);
});
