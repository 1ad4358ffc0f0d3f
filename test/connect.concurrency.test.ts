// Issue 10's bad input "concurrent instances.connect for one user and service from 20 requests at once": one
// instance, one credential row, no 500 — and every answer hands back the one URL that works.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { credentials, instances } from "@mcp/db";
import { and, eq } from "drizzle-orm";
import { data, figmaKeyFor, newUser, trpc } from "./client.ts";
import { type Stack, startStack } from "./harness.ts";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ controlPlaneLimits: { connectPerUser: 1_000 } });
});
afterAll(() => stack.stop());

const AT_ONCE = 20;

async function rowsOf(userId: string) {
  const db = stack.platform.deps.db;
  const live = await db
    .select({ id: instances.id, status: instances.status })
    .from(instances)
    .where(and(eq(instances.userId, userId), eq(instances.serviceType, "figma")));
  const sealed = await db
    .select({ id: credentials.id })
    .from(credentials)
    .where(and(eq(credentials.userId, userId), eq(credentials.serviceType, "figma")));
  return { live, sealed };
}

describe("instances.connect, 20 at once for one user and service", () => {
  test("one instance, one credential row, every answer 200 with the same working URL", async () => {
    const user = await newUser(stack);
    const key = figmaKeyFor(stack, "racer");
    const answers = await Promise.all(
      Array.from({ length: AT_ONCE }, () =>
        trpc(stack, "instances.connect", { serviceType: "figma", apiKey: key }, { cookie: user.cookie }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(AT_ONCE).fill(200));
    const issued = answers.map((a) => data<{ instanceId: string; instanceUrl: string }>(a));
    expect(new Set(issued.map((i) => i.instanceId)).size).toBe(1);
    // Same key, same upstream account: the live instance keeps its URL, whichever request won.
    expect(new Set(issued.map((i) => i.instanceUrl)).size).toBe(1);

    const { live, sealed } = await rowsOf(user.userId);
    expect(live).toHaveLength(1);
    expect(live[0]?.status).toBe("active");
    expect(sealed).toHaveLength(1);

    const url = issued[0]?.instanceUrl ?? "";
    const res = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-protocol-version": "2025-06-18",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("get_file");
  });

  test("20 at once with 20 different accounts' keys: still one instance and one credential row", async () => {
    const user = await newUser(stack);
    const answers = await Promise.all(
      Array.from({ length: AT_ONCE }, (_, i) =>
        trpc(
          stack,
          "instances.connect",
          { serviceType: "figma", apiKey: figmaKeyFor(stack, `acct-${i}`) },
          { cookie: user.cookie },
        ),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(AT_ONCE).fill(200));
    const { live, sealed } = await rowsOf(user.userId);
    expect(live).toHaveLength(1);
    expect(sealed).toHaveLength(1);
    // Each account change issued a new URL; only the last one written still works.
    const list = data<{ instanceId: string; status: string }[]>(
      await trpc(stack, "instances.list", undefined, { cookie: user.cookie }),
    );
    expect(list.filter((i) => i.status === "active")).toHaveLength(1);
  });
});
