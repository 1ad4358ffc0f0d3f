// Abuse limits on the control plane: sign-in attempts per email, upstream key checks per user.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { newUser, trpc } from "./client.ts";
import { type Stack, startStack } from "./harness.ts";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.stop());

describe("rate limits", () => {
  test("sign-in: 10 attempts a minute per email, then 429 with Retry-After, even with the right password", async () => {
    const user = await newUser(stack);
    for (let i = 0; i < 10; i++) {
      const res = await trpc(stack, "auth.signIn", { email: user.email, password: "wrong password!" });
      expect(res.status).toBe(401);
    }
    const limited = await trpc(stack, "auth.signIn", {
      email: user.email.toUpperCase(),
      password: "correct horse battery",
    });
    expect(limited.status).toBe(429);
    expect(limited.body.error?.data.appCode).toBe("RATE_LIMIT_EXCEEDED");
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(limited.headers.get("set-cookie")).toBeNull();
    // Another account is unaffected.
    const other = await newUser(stack);
    expect(
      (await trpc(stack, "auth.signIn", { email: other.email, password: "correct horse battery" })).status,
    ).toBe(200);
  });

  test("connect: 20 upstream key checks a minute per user, then 429 before any upstream call", async () => {
    const user = await newUser(stack);
    for (let i = 0; i < 20; i++) {
      await trpc(
        stack,
        "instances.connect",
        { serviceType: "figma", apiKey: `figd_bad_${i}` },
        { cookie: user.cookie },
      );
    }
    const before = stack.figma.requests.length;
    const limited = await trpc(
      stack,
      "instances.connect",
      { serviceType: "figma", apiKey: "figd_x" },
      { cookie: user.cookie },
    );
    expect(limited.status).toBe(429);
    expect(limited.body.error?.data.appCode).toBe("RATE_LIMIT_EXCEEDED");
    expect(stack.figma.requests.length).toBe(before);
    const rest = await fetch(`${stack.controlPlaneUrl}/api/v1/services/figma/authenticate`, {
      method: "POST",
      headers: { cookie: user.cookie, "content-type": "application/json" },
      body: JSON.stringify({ apiKey: "figd_x" }),
    });
    expect(rest.status).toBe(429);
    expect(await rest.json()).toMatchObject({ code: "RATE_LIMIT_EXCEEDED" });
    expect(Number(rest.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  });
});
