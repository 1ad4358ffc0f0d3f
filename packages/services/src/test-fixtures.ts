// Shared by the executor tests (not a test file itself): a fake Figma for the whole file, reset before
// each test, and fresh figma service definitions pointed at it.
import { afterAll, beforeAll, beforeEach } from "bun:test";
import { type FakeFigma, type FakeFigmaOptions, startFakeFigma } from "../../../test/fakes/figma.ts";
import { loadRegistry } from "./registry.ts";
import type { ServiceDefinition } from "./types.ts";

export interface FakeFigmaFixture {
  /** The running fake (started before the first test of the file). */
  fake(): FakeFigma;
  /** The figma definition from a fresh registry: a fresh circuit breaker, so failures never leak between tests. */
  figma(baseUrl?: string): ServiceDefinition;
}

/** Two users' keys, for tests that check whose key reached the upstream. */
export const ADA = "figd_ada_0123456789abcdef";
export const BOB = "figd_bob_fedcba9876543210";
export const TWO_USERS: FakeFigmaOptions = {
  keys: new Map([
    [ADA, { id: "1", email: "ada@example.com", handle: "Ada" }],
    [BOB, { id: "2", email: "bob@example.com", handle: "Bob" }],
  ]),
};

/** Starts a fake Figma for the calling test file, clears its requests and delay before each test. */
export function useFakeFigma(opts?: FakeFigmaOptions): FakeFigmaFixture {
  let running: FakeFigma | undefined;
  const fake = (): FakeFigma => {
    if (!running) throw new Error("the fake Figma is not running");
    return running;
  };
  beforeAll(async () => {
    running = await startFakeFigma(opts);
  });
  afterAll(() => fake().stop());
  beforeEach(() => {
    fake().requests.length = 0;
    fake().delayMs = 0;
  });
  return {
    fake,
    figma(baseUrl = fake().url) {
      const service = loadRegistry(undefined, { SERVICE_FIGMA_BASE_URL: baseUrl }).get("figma");
      if (!service) throw new Error("figma definition missing");
      return service;
    },
  };
}
