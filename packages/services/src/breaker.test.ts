import { afterEach, describe, expect, setSystemTime, test } from "bun:test";
import {
  breakersFor,
  Circuit,
  circuitState,
  credentialBreakerCount,
  credentialCircuitState,
  HALF_OPEN_AFTER_MS,
  MAX_CREDENTIAL_BREAKERS,
  OPEN_AFTER_FAILURES,
  TRIAL,
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

describe("an open circuit is tried again after HALF_OPEN_AFTER_MS", () => {
  afterEach(() => setSystemTime());
  const opened = async (service: ReturnType<typeof figma>) => {
    for (let i = 0; i < 5; i++) {
      fake().failNext(503);
      await getMe(service, ADA);
    }
    expect(circuitState(service)).toBe("open");
    return fake().requests.length;
  };
  /** Ada's own breaker opened by five 500s. */
  const ownOpened = async (service: ReturnType<typeof figma>) => {
    for (let i = 0; i < 5; i++) {
      fake().failNext(500);
      await getMe(service, ADA);
    }
    expect(credentialCircuitState(service, ADA)).toBe("open");
  };

  test("until then nothing is sent; then one call goes through, and its success closes the circuit", async () => {
    const service = figma();
    const sent = await opened(service);
    // Read once the circuit opened: on a loaded machine opening it can take more than the margins below.
    const start = Date.now();
    setSystemTime(start + HALF_OPEN_AFTER_MS - 1_000);
    expect(await getMe(service, BOB)).toMatchObject({ ok: false, error: "SERVICE_UNAVAILABLE" });
    expect(fake().requests).toHaveLength(sent);
    setSystemTime(start + HALF_OPEN_AFTER_MS + 1_000);
    expect(await getMe(service, BOB)).toMatchObject({ ok: true, data: { handle: "Bob" } });
    expect(fake().requests).toHaveLength(sent + 1);
    expect(circuitState(service)).toBe("closed");
    expect(await getMe(service, ADA)).toMatchObject({ ok: true });
    expect(fake().requests).toHaveLength(sent + 2);
  });

  test("a trial that fails opens it for another HALF_OPEN_AFTER_MS", async () => {
    const service = figma();
    const sent = await opened(service);
    // Read once the circuit opened: on a loaded machine opening it can take more than the margins below.
    const start = Date.now();
    setSystemTime(start + HALF_OPEN_AFTER_MS + 1_000);
    fake().failNext(503);
    expect(await getMe(service, ADA)).toMatchObject({ error: "SERVICE_UNAVAILABLE", status: 503 });
    expect(fake().requests).toHaveLength(sent + 1);
    expect(circuitState(service)).toBe("open");
    setSystemTime(start + 2 * HALF_OPEN_AFTER_MS);
    expect(await getMe(service, ADA)).toMatchObject({ ok: false, error: "SERVICE_UNAVAILABLE" });
    expect(fake().requests).toHaveLength(sent + 1);
    setSystemTime(start + 2 * HALF_OPEN_AFTER_MS + 2_000);
    expect(await getMe(service, ADA)).toMatchObject({ ok: true });
    expect(circuitState(service)).toBe("closed");
  });

  test("calls arriving during the trial are refused at once, none waits on it", async () => {
    const service = figma();
    const sent = await opened(service);
    // Read once the circuit opened: on a loaded machine opening it can take more than the margins below.
    const start = Date.now();
    setSystemTime(start + HALF_OPEN_AFTER_MS + 1_000);
    fake().delayMs = 200;
    const trial = getMe(service, ADA);
    expect(circuitState(service)).toBe("half-open");
    const during = await getMe(service, BOB);
    expect(during).toMatchObject({ ok: false, error: "SERVICE_UNAVAILABLE" });
    expect(during.ok ? "" : during.message).toMatch(/is failing; calls are paused/);
    expect(await trial).toMatchObject({ ok: true });
    expect(fake().requests).toHaveLength(sent + 1);
    expect(circuitState(service)).toBe("closed");
  });

  test("a trial the caller hangs up on decides nothing: the next call is the trial", async () => {
    const service = figma();
    const sent = await opened(service);
    // Read once the circuit opened: on a loaded machine opening it can take more than the margins below.
    const start = Date.now();
    setSystemTime(start + HALF_OPEN_AFTER_MS + 1_000);
    fake().delayMs = 300;
    const hangUp = new AbortController();
    const trial = getMe(service, ADA, { signal: hangUp.signal });
    await Bun.sleep(50);
    hangUp.abort();
    expect(await trial).toMatchObject({ ok: false, error: "SERVICE_UNAVAILABLE" });
    expect(circuitState(service)).toBe("open");
    // Let the abandoned request finish on the fake first.
    await Bun.sleep(300);
    fake().delayMs = 0;
    expect(await getMe(service, BOB)).toMatchObject({ ok: true });
    expect(fake().requests).toHaveLength(sent + 2);
    expect(circuitState(service)).toBe("closed");
  });

  test("a credential's trial refused by the service's open breaker decides nothing: the next call is its trial", async () => {
    const service = figma();
    const start = Date.now();
    await ownOpened(service);
    // The service's breaker opens 5 s later (Bob's calls meet 503s).
    setSystemTime(start + 5_000);
    for (let i = 0; i < 5; i++) {
      fake().failNext(503);
      await getMe(service, BOB);
    }
    expect(circuitState(service)).toBe("open");
    const sent = fake().requests.length;
    // Ada's own breaker would try again; the service's refuses.
    setSystemTime(start + HALF_OPEN_AFTER_MS + 1_000);
    const refused = await getMe(service, ADA);
    expect(refused.ok ? "" : refused.message).toMatch(/is failing; calls are paused/);
    expect(credentialCircuitState(service, ADA)).toBe("open");
    // Both may try again now: Ada's call is the trial of each, and closes both.
    setSystemTime(start + 5_000 + HALF_OPEN_AFTER_MS + 1_000);
    expect(await getMe(service, ADA)).toMatchObject({ ok: true });
    expect(fake().requests).toHaveLength(sent + 1);
    expect(credentialCircuitState(service, ADA)).toBe("closed");
    expect(circuitState(service)).toBe("closed");
  });

  test("a credential's own breaker recovers the same way, and alone", async () => {
    const service = figma();
    const start = Date.now();
    await ownOpened(service);
    setSystemTime(start + HALF_OPEN_AFTER_MS + 1_000);
    expect(await getMe(service, ADA)).toMatchObject({ ok: true });
    expect(credentialCircuitState(service, ADA)).toBe("closed");
    expect(circuitState(service)).toBe("closed");
  });
});

describe("Circuit", () => {
  afterEach(() => setSystemTime());
  const failing = (r: unknown) => r === "bad";
  /** `times` calls let through and failed, one after another. */
  const fail = (c: Circuit, times: number) => {
    for (let i = 0; i < times; i++) {
      const pass = c.enter();
      if (pass === undefined) throw new Error("refused");
      c.settle(pass, "bad");
    }
  };
  const later = (ms: number) => setSystemTime(new Date(Date.now() + ms));

  test("opens after OPEN_AFTER_FAILURES failures in a row, not fewer", () => {
    const c = new Circuit(failing);
    fail(c, OPEN_AFTER_FAILURES - 1);
    expect(c.state).toBe("closed");
    expect(c.enter()).not.toBe(TRIAL);
    fail(c, 1);
    expect(c.state).toBe("open");
    expect(c.enter()).toBeUndefined();
  });

  test("a call let through before it opened, answered while it is open, changes nothing: not the trial's time", () => {
    const c = new Circuit(failing);
    const early = [c.enter(), c.enter()];
    fail(c, OPEN_AFTER_FAILURES);
    later(HALF_OPEN_AFTER_MS - 1_000);
    for (const pass of early) c.settle(pass ?? TRIAL, "bad");
    c.settle(c.enter() ?? -2, "good");
    expect(c.state).toBe("open");
    later(2_000);
    expect(c.enter()).toBe(TRIAL);
  });

  test("nor once a trial has closed it again: its failures do not count there", () => {
    const c = new Circuit(failing);
    const early = Array.from({ length: OPEN_AFTER_FAILURES }, () => c.enter());
    fail(c, OPEN_AFTER_FAILURES);
    later(HALF_OPEN_AFTER_MS + 1);
    const trial = c.enter();
    expect(trial).toBe(TRIAL);
    c.settle(TRIAL, "good");
    expect(c.state).toBe("closed");
    for (const pass of early) c.settle(pass ?? TRIAL, "bad");
    expect(c.state).toBe("closed");
    fail(c, OPEN_AFTER_FAILURES - 1);
    expect(c.state).toBe("closed");
  });

  test("an abandoned call changes nothing; an abandoned trial lets the next call be the trial", () => {
    const c = new Circuit(failing);
    fail(c, OPEN_AFTER_FAILURES - 1);
    c.abandon(c.enter() ?? TRIAL);
    fail(c, 1);
    expect(c.state).toBe("open");
    later(HALF_OPEN_AFTER_MS + 1);
    expect(c.enter()).toBe(TRIAL);
    expect(c.state).toBe("half-open");
    expect(c.enter()).toBeUndefined();
    c.abandon(TRIAL);
    expect(c.state).toBe("open");
    expect(c.enter()).toBe(TRIAL);
    c.settle(TRIAL, "bad");
    expect(c.state).toBe("open");
    expect(c.enter()).toBeUndefined();
    later(HALF_OPEN_AFTER_MS + 1);
    expect(c.enter()).toBe(TRIAL);
    c.settle(TRIAL, "good");
    expect(c.state).toBe("closed");
    // Closed afresh: the failures before it no longer count.
    fail(c, OPEN_AFTER_FAILURES - 1);
    expect(c.state).toBe("closed");
  });
});
