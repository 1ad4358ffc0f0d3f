// Abuse limits on the control plane: sign-in attempts per email, upstream key checks per user.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { newUser, rest, trpc } from "./client.ts";
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
    const viaRest = await rest(stack, "POST", "/services/figma/authenticate", {
      body: { apiKey: "figd_x" },
      auth: { cookie: user.cookie },
    });
    expect(viaRest.status).toBe(429);
    expect(viaRest.body).toMatchObject({ code: "RATE_LIMIT_EXCEEDED" });
    expect(Number(viaRest.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  });
});

describe("per-address limits and batches", () => {
  let strict: Stack;
  beforeAll(async () => {
    strict = await startStack({ controlPlaneLimits: { signUpPerIp: 3, signInPerIp: 5, maxBatchSize: 10 } });
  });
  afterAll(() => strict.stop());

  test("sign-ups from one address: 3 a minute, then 429 and no account is made", async () => {
    for (let i = 0; i < 3; i++) await newUser(strict);
    const email = `late-${crypto.randomUUID()}@example.test`;
    const limited = await trpc(strict, "auth.signUp", { email, password: "correct horse battery" });
    expect(limited.status).toBe(429);
    expect(limited.body.error?.data.appCode).toBe("RATE_LIMIT_EXCEEDED");
    const signIn = await trpc(strict, "auth.signIn", { email, password: "correct horse battery" });
    expect(signIn.status).toBe(401); // the account does not exist
  });

  test("sign-ins from one address across many emails: at most 5 a minute", async () => {
    const answers = [];
    for (let i = 0; i < 6; i++) {
      answers.push(
        (
          await trpc(strict, "auth.signIn", {
            email: `x${i}-${crypto.randomUUID()}@e.test`,
            password: "whatever-pass",
          })
        ).status,
      );
    }
    const first = answers.indexOf(429);
    expect(first).toBeGreaterThanOrEqual(0);
    expect(first).toBeLessThanOrEqual(5);
    expect(answers.slice(0, first).every((s) => s === 401)).toBe(true);
    expect(answers.slice(first).every((s) => s === 429)).toBe(true);
  });

  test("a tRPC batch over 10 calls is refused whole, before any procedure runs", async () => {
    const paths = Array.from({ length: 11 }, () => "services.list").join(",");
    const input = JSON.stringify(Object.fromEntries(Array.from({ length: 11 }, (_, i) => [i, {}])));
    const res = await fetch(
      `${strict.controlPlaneUrl}/trpc/${paths}?batch=1&input=${encodeURIComponent(input)}`,
    );
    expect(res.status).toBe(400);
    const ok = await fetch(
      `${strict.controlPlaneUrl}/trpc/services.list,services.list?batch=1&input=${encodeURIComponent('{"0":{},"1":{}}')}`,
    );
    expect(ok.status).toBe(200);
  });
});
