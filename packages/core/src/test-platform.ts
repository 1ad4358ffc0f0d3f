// Shared by the core tests (not a test file itself): a platform on a real database (PGlite in memory, or
// DATABASE_URL) and the configured kv (Redis when REDIS_URL is set), with its own kv prefix.
import { createPlatform, type Platform } from "./bootstrap.ts";
import { parseEnv } from "./env.ts";

export function testPlatform(opts: {
  encryptionKeys: string;
  kvPrefix: string;
  serviceEnv?: Record<string, string>;
}): Promise<Platform> {
  const env = parseEnv({
    DATABASE_URL: process.env.DATABASE_URL,
    REDIS_URL: process.env.REDIS_URL,
    ENCRYPTION_KEYS: opts.encryptionKeys,
    // OWASP's minimum argon2id cost (a third of the default's time): tests sign up hundreds of users.
    PASSWORD_HASH_MEMORY_KIB: "19456",
    LOG_LEVEL: "error",
  });
  return createPlatform(env, {
    memoryDb: true,
    kvPrefix: `${opts.kvPrefix}${crypto.randomUUID()}:`,
    edgeUrl: "http://edge.test",
    serviceEnv: opts.serviceEnv,
  });
}
