import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** A set of versioned 256-bit master keys: the highest version seals, every version opens. */
export interface Keyring {
  readonly current: number;
  key(version: number): Buffer | undefined;
  versions(): number[];
}

const ENTRY = /^v(\d{1,6}):([A-Za-z0-9+/_-]+={0,2})$/;

/** Parses `v2:<base64 32 bytes>,v1:<base64 32 bytes>`. Throws on anything malformed (names the entry, never the key). */
export function parseKeyring(spec: string): Keyring {
  const keys = new Map<number, Buffer>();
  for (const [i, raw] of spec.split(",").entries()) {
    const entry = raw.trim();
    const m = ENTRY.exec(entry);
    if (!m?.[1] || !m[2]) throw new Error(`ENCRYPTION_KEYS entry ${i + 1} is not of the form v<N>:<base64>`);
    const version = Number(m[1]);
    const key = Buffer.from(m[2], m[2].includes("-") || m[2].includes("_") ? "base64url" : "base64");
    if (key.length !== 32)
      throw new Error(`ENCRYPTION_KEYS v${version} must decode to 32 bytes, got ${key.length}`);
    if (version < 1) throw new Error("ENCRYPTION_KEYS versions start at v1");
    if (keys.has(version)) throw new Error(`ENCRYPTION_KEYS v${version} appears twice`);
    keys.set(version, key);
  }
  if (keys.size === 0) throw new Error("ENCRYPTION_KEYS holds no key");
  const current = Math.max(...keys.keys());
  return { current, key: (v) => keys.get(v), versions: () => [...keys.keys()].sort((a, b) => b - a) };
}

export function generateKeySpec(version = 1): string {
  return `v${version}:${randomBytes(32).toString("base64")}`;
}

/** Where `loadKeyring` keeps the development key of a data dir (`bun run keys:rotate --generate` reads it too). */
export const devKeyFile = (dataDir: string) => join(dataDir, "encryption-keys");

/**
 * The keyring for this process: `ENCRYPTION_KEYS` when set; otherwise (development only) a key
 * generated once into `<dataDir>/encryption-keys` and reused, with a warning. Production refuses
 * to start without explicit keys so a lost data dir can never silently orphan every credential.
 */
export function loadKeyring(
  env: { ENCRYPTION_KEYS?: string; NODE_ENV?: string },
  dataDir: string,
  warn: (msg: string) => void = console.warn,
): Keyring {
  if (env.ENCRYPTION_KEYS) return parseKeyring(env.ENCRYPTION_KEYS);
  if (env.NODE_ENV === "production") throw new Error("ENCRYPTION_KEYS is required when NODE_ENV=production");
  const file = devKeyFile(dataDir);
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, `${generateKeySpec(1)}\n`, { mode: 0o600 });
    warn(
      `ENCRYPTION_KEYS not set: generated a development key in ${file}. Set ENCRYPTION_KEYS in production.`,
    );
  }
  return parseKeyring(readFileSync(file, "utf8").trim());
}
