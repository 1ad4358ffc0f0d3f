import { describe, expect, test } from "bun:test";
import {
  breakersFor,
  circuitState,
  credentialBreakerCount,
  credentialCircuitState,
  MAX_CREDENTIAL_BREAKERS,
} from "./breaker.ts";
import { executeTool } from "./executor.ts";
import { ADA, BOB, TWO_USERS, useFakeFigma } from "./test-fixtures.ts";

const { fake, figma } = useFakeFigma(TWO_USERS);

const getMe = (service: ReturnType<typeof figma>, key: string, opts = {}) =>
  executeTool(service, "get_me", {}, key, opts);

describe("one tenant cannot open the circuit for everyone", () => {
  test("Ada's 5 × 500 open only Ada's breaker; Bob's call still reaches the upstream", async () => {
    const service = figma();
    for (let i = 0; i < 5; i++) {
      fake().failNext(500, { status: 500, err: "Render timeout" });
      expect(await getMe(service, ADA)).toMatchObject({ error: "SERVICE_UNAVAILABLE", status: 500 });
    }
    expect(credentialCircuitState(service, ADA)).toBe("open");
    expect(credentialCircuitState(service, BOB)).toBe("closed");
    expect(circuitState(service)).toBe("closed");

    // Ada is paused without an upstream call.
    const paused = await getMe(service, ADA);
    expect(paused).toMatchObject({ ok: false, error: "SERVICE_UNAVAILABLE" });
    expect(paused.ok ? "" : paused.message).toMatch(/this account/);
    expect(fake().requests).toHaveLength(5);

    // Bob is not.
    expect(await getMe(service, BOB)).toMatchObject({ ok: true, data: { handle: "Bob" } });
    expect(fake().requests).toHaveLength(6);
    expect(fake().requests.at(-1)?.token).toBe(BOB);
  });

  test("Ada's 5 timeouts open Ada's breaker only", async () => {
    const service = figma();
    const delayMs = 300;
    fake().delayMs = delayMs;
    for (let i = 0; i < 5; i++) {
      expect(await getMe(service, ADA, { timeoutMs: 50 })).toMatchObject({ error: "SERVICE_UNAVAILABLE" });
    }
    fake().delayMs = 0;
    // Let the abandoned requests finish on the fake, so none of them takes a later test's failNext.
    await Bun.sleep(delayMs);
    expect(credentialCircuitState(service, ADA)).toBe("open");
    expect(circuitState(service)).toBe("closed");
    const sent = fake().requests.length;
    expect(await getMe(service, ADA)).toMatchObject({ ok: false, error: "SERVICE_UNAVAILABLE" });
    expect(fake().requests).toHaveLength(sent);
    expect(await getMe(service, BOB)).toMatchObject({ ok: true });
    expect(fake().requests).toHaveLength(sent + 1);
  });

  test("other user-inducible 5xx (501, 500 mixed) count per credential too", async () => {
    const service = figma();
    for (const status of [500, 501, 500, 507, 500]) {
      fake().failNext(status);
      await getMe(service, ADA);
    }
    expect(credentialCircuitState(service, ADA)).toBe("open");
    expect(circuitState(service)).toBe("closed");
  });

  test("a success in between resets the caller's count", async () => {
    const service = figma();
    for (let i = 0; i < 4; i++) {
      fake().failNext(500);
      await getMe(service, ADA);
    }
    expect(await getMe(service, ADA)).toMatchObject({ ok: true });
    fake().failNext(500);
    await getMe(service, ADA);
    expect(credentialCircuitState(service, ADA)).toBe("closed");
  });
});

describe("failures no caller can provoke still open the shared breaker", () => {
  test("5 connection failures pause the service for everyone", async () => {
    const service = figma();
    fake().down();
    try {
      for (let i = 0; i < 5; i++) {
        expect(await getMe(service, ADA)).toMatchObject({ ok: false, error: "SERVICE_UNAVAILABLE" });
      }
    } finally {
      fake().up();
    }
    expect(circuitState(service)).toBe("open");
    const bob = await getMe(service, BOB);
    expect(bob).toMatchObject({ ok: false, error: "SERVICE_UNAVAILABLE" });
    expect(bob.ok ? "" : bob.message).toMatch(/is failing; calls are paused/);
    expect(fake().requests).toHaveLength(0);
    // The shared outage is not held against Ada's own breaker.
    expect(credentialCircuitState(service, ADA)).toBe("closed");
  });

  test("502/503/504 from one user's calls open the shared breaker", async () => {
    const service = figma();
    for (const status of [502, 503, 504, 503, 502]) {
      fake().failNext(status);
      expect(await getMe(service, ADA)).toMatchObject({ error: "SERVICE_UNAVAILABLE", status });
    }
    expect(circuitState(service)).toBe("open");
    expect(await getMe(service, BOB)).toMatchObject({ ok: false, error: "SERVICE_UNAVAILABLE" });
    expect(fake().requests).toHaveLength(5);
  });
});

describe("per-credential breakers", () => {
  test("are bounded: the least recently used ones are dropped", () => {
    const service = figma();
    for (let i = 0; i < MAX_CREDENTIAL_BREAKERS + 50; i++) breakersFor(service, `figd_key_${i}`);
    expect(credentialBreakerCount(service)).toBe(MAX_CREDENTIAL_BREAKERS);
  });

  test("the same credential gets the same breaker; another credential another one", () => {
    const service = figma();
    const a = breakersFor(service, ADA);
    expect(breakersFor(service, ADA).own).toBe(a.own);
    expect(breakersFor(service, BOB).own).not.toBe(a.own);
    expect(breakersFor(service, BOB).shared).toBe(a.shared);
  });
});
