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

// A self-signed certificate for rebind.invalid only (valid 2020-2120), for the https pinning test.
export const REBIND_CERT = `-----BEGIN CERTIFICATE-----
MIIBZDCCAQqgAwIBAgIULTjvXlImqrNIkxQunbZwVsOFz1wwCgYIKoZIzj0EAwIw
GTEXMBUGA1UEAwwOcmViaW5kLmludmFsaWQwIBcNMjAwMTAxMDAwMDAwWhgPMjEy
MDAxMDEwMDAwMDBaMBkxFzAVBgNVBAMMDnJlYmluZC5pbnZhbGlkMFkwEwYHKoZI
zj0CAQYIKoZIzj0DAQcDQgAEgiLjcbnYwmPeJkkWC1DO/Ctgj1qyq0vLvI2OPMee
4hrOIdBA/+1A6SpmPxEJfZVIAGCQfPm64ZF6FfK9HeAtD6MuMCwwGQYDVR0RBBIw
EIIOcmViaW5kLmludmFsaWQwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNI
ADBFAiBNbu003ptos2TNOVawtJyPU8Pxz8CYTneI+fy8VtY8zgIhAKT5ASrVswkw
EuH/ODOfT8zKVD+x0rolT35jQvQP7ayP
-----END CERTIFICATE-----
`;
export const REBIND_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgnjnhOKuc0tT8Lmbn
PmitWPDoTEb6ZsdhwfQF8F0YlUOhRANCAASCIuNxudjCY94mSRYLUM78K2CPWrKr
S8u8jY48x57iGs4h0ED/7UDpKmY/EQl9lUgAYJB8+brhkXoV8r0d4C0P
-----END PRIVATE KEY-----
`;

// A self-signed certificate for localhost and 127.0.0.1 (valid until 2126): trusted only by a process started
// with it in NODE_EXTRA_CA_CERTS, for the HTTP/1.1 client's TLS tests.
export const LOCALHOST_CERT = `-----BEGIN CERTIFICATE-----
MIIBmzCCAUGgAwIBAgIUYv6b+AUjfV3TrI+JgNWQSXjVRMcwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTIwMjA3NTQ1M1oYDzIxMjYxMTA4
MDc1NDUzWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAASITX5lCb5QxVsgL3dhfCmOmx17VruuUr03lTtdeuQa7ujJ265WDfG9
2zBeIR3Gxa7IoJNdMBsj/VerDvghJqSOo28wbTAdBgNVHQ4EFgQUAvO0oW9xukD/
6HVXJ40LvwQrTEcwHwYDVR0jBBgwFoAUAvO0oW9xukD/6HVXJ40LvwQrTEcwDwYD
VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwCgYIKoZI
zj0EAwIDSAAwRQIgC+4w8EHazWUe8FeBZNBN/DSWIXV8wI3a3nrGiLUqW4ECIQDH
/7odRc1Ozul6381Drr+vNGPMA8jVpmaHcWPBHYztOQ==
-----END CERTIFICATE-----
`;
export const LOCALHOST_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgpJJwT+8vcYC4oMWa
7JTNwnvpLXhUx0TDMkSHKRG6L0+hRANCAASITX5lCb5QxVsgL3dhfCmOmx17Vruu
Ur03lTtdeuQa7ujJ265WDfG92zBeIR3Gxa7IoJNdMBsj/VerDvghJqSO
-----END PRIVATE KEY-----
`;
