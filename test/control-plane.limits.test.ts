// Abuse limits on the control plane: sign-in attempts per address and failures per (email, address) and
// per email, upstream key checks per user, sign-ups per address, tRPC batch size.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { newUser, rest, trpc } from "./client.ts";
import { type Stack, startStack } from "./harness.ts";

let stack: Stack;

/** `auth.signIn` as sent from `ip` (the stacks here trust X-Forwarded-For). */
const signInFrom = (s: Stack, email: string, password: string, ip: string) =>
  trpc(s, "auth.signIn", { email, password }, { ip });

beforeAll(async () => {
  stack = await startStack({ trustProxy: true });
});
afterAll(() => stack.stop());

describe("rate limits", () => {
  test("sign-in: 10 wrong passwords a minute from one address, then 429 there even for the right one", async () => {
    const user = await newUser(stack);
    const attacker = "203.0.113.10";
    for (let i = 0; i < 10; i++) {
      const res = await signInFrom(stack, user.email, "wrong password!", attacker);
      expect(res.status).toBe(401);
    }
    for (const password of ["wrong password!", "correct horse battery"]) {
      const limited = await signInFrom(stack, user.email.toUpperCase(), password, attacker);
      expect(limited.status).toBe(429);
      expect(limited.body.error?.data.appCode).toBe("RATE_LIMIT_EXCEEDED");
      expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(limited.headers.get("set-cookie")).toBeNull();
    }
    // The owner, from their own address, is not locked out by the stranger's failures.
    const owner = await signInFrom(stack, user.email, "correct horse battery", "198.51.100.20");
    expect(owner.status).toBe(200);
    expect(owner.headers.get("set-cookie")).toContain("mcp_session=");
  });

  test("sign-in: 30 wrong passwords sent at once from one address: at most 10 are checked, the rest 429", async () => {
    const user = await newUser(stack);
    const answers = await Promise.all(
      Array.from({ length: 30 }, () => signInFrom(stack, user.email, "wrong password!", "203.0.113.44")),
    );
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(20);
  });

  test("sign-in: an IPv6 /64 is one address (hopping inside it does not reset the count)", async () => {
    const user = await newUser(stack);
    for (let i = 1; i <= 10; i++) {
      const res = await signInFrom(stack, user.email, "wrong password!", `2001:db8:5:6::${i.toString(16)}`);
      expect(res.status).toBe(401);
    }
    expect((await signInFrom(stack, user.email, "correct horse battery", "2001:db8:5:6::ffff")).status).toBe(
      429,
    );
    expect((await signInFrom(stack, user.email, "correct horse battery", "2001:db8:5:7::1")).status).toBe(
      200,
    );
  });

  test("sign-in: only failures count, and a success clears the caller's", async () => {
    const user = await newUser(stack);
    const ip = "198.51.100.30";
    const signIn = async (password: string) => (await signInFrom(stack, user.email, password, ip)).status;
    for (let i = 0; i < 12; i++) expect(await signIn("correct horse battery")).toBe(200);
    for (let i = 0; i < 9; i++) expect(await signIn("wrong password!")).toBe(401);
    expect(await signIn("correct horse battery")).toBe(200); // clears the 9
    for (let i = 0; i < 10; i++) expect(await signIn("wrong password!")).toBe(401);
    expect(await signIn("correct horse battery")).toBe(429);
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

describe("per-email bound on failures", () => {
  let spread: Stack;
  beforeAll(async () => {
    spread = await startStack({ trustProxy: true, controlPlaneLimits: { signInFailuresPerEmail: 12 } });
  });
  afterAll(() => spread.stop());

  test("wrong passwords for one email spread over many addresses: the per-email bound (12) stops them", async () => {
    const user = await newUser(spread);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      for (let j = 0; j < 4; j++) {
        statuses.push((await signInFrom(spread, user.email, "wrong password!", `192.0.2.${i}`)).status);
      }
    }
    expect(statuses.slice(0, 12).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(12).every((s) => s === 429)).toBe(true);
    const owner = await signInFrom(spread, user.email, "correct horse battery", "192.0.2.99");
    expect(owner.status).toBe(429);
  });

  test("one address alone cannot reach the per-email bound: its own bound (10) comes first", async () => {
    const user = await newUser(spread);
    const statuses: number[] = [];
    for (let i = 0; i < 14; i++) {
      const res = await signInFrom(spread, user.email, "wrong password!", "192.0.2.50");
      statuses.push(res.status);
    }
    expect(statuses).toEqual([...Array(10).fill(401), ...Array(4).fill(429)]);
    const owner = await signInFrom(spread, user.email, "correct horse battery", "192.0.2.51");
    expect(owner.status).toBe(200);
  });
});
