import { describe, expect, test } from "bun:test";
import type { Instance, Service } from "../trpc.ts";
import { accountLabel, instanceState, serviceHealth } from "./status.ts";

const service = (over: Partial<Service>): Service => ({ healthy: true, ...over }) as Service;
const health = (over: Partial<NonNullable<Service["health"]>>) =>
  ({
    healthy: true,
    responseTimeMs: 120,
    lastCheck: new Date().toISOString(),
    lastCheckedAt: new Date().toISOString(),
    lastError: null,
    ...over,
  }) as NonNullable<Service["health"]>;
const instance = (over: Partial<Instance>): Instance =>
  ({ status: "active", isActive: true, account: null, ...over }) as Instance;

describe("service health badge", () => {
  test("green when the last check passed quickly, with when and how fast", () => {
    const h = serviceHealth(service({ health: health({}) }));
    expect(h.tone).toBe("green");
    expect(h.detail).toMatch(/^last check .+, 120 ms$/);
  });
  test("amber when slow or not checked yet", () => {
    expect(serviceHealth(service({ health: health({ responseTimeMs: 4000 }) })).label).toBe("Slow");
    expect(serviceHealth(service({})).tone).toBe("amber");
  });
  test("red when the service is known to be down, with the monitor's error", () => {
    const h = serviceHealth(
      service({ healthy: false, health: health({ healthy: false, error: "HTTP 503" }) }),
    );
    expect(h).toMatchObject({ tone: "red", label: "Unavailable" });
    expect(h.detail).toContain("HTTP 503");
  });
});

describe("instance status", () => {
  test("three live states and revoked", () => {
    expect(instanceState(instance({}), service({}))).toBe("working");
    expect(instanceState(instance({ status: "needs_reauth" }), service({}))).toBe("needs_reauth");
    // A key problem outranks an outage: the user has something to do.
    expect(instanceState(instance({ status: "needs_reauth" }), service({ healthy: false }))).toBe(
      "needs_reauth",
    );
    expect(instanceState(instance({}), service({ healthy: false }))).toBe("upstream_down");
    expect(instanceState(instance({ status: "revoked", isActive: false }), service({}))).toBe("revoked");
    // A custom server has no catalogue entry: no outage is assumed.
    expect(instanceState(instance({}), undefined)).toBe("working");
  });
  test("connected-as label", () => {
    expect(accountLabel({ name: "Ada", email: "ada@x.test" })).toBe("Ada (ada@x.test)");
    expect(accountLabel({ email: "ada@x.test" })).toBe("ada@x.test");
    expect(accountLabel(null)).toBeUndefined();
  });
});
