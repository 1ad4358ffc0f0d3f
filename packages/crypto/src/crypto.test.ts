import { describe, expect, test } from "bun:test";
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateKeySpec, type Keyring, loadKeyring, parseKeyring } from "./keyring.ts";
import { type KeyProvider, keyProvider, LocalKeyProvider } from "./provider.ts";
import { aadFor, ENVELOPE_PREFIX, isEnvelope, needsReseal, open, rewrap, type Sealed, seal } from "./seal.ts";
import { hashToken, isInstanceToken, mintApiKey, mintInstanceToken, safeEqual, sha256 } from "./token.ts";

const v1 = generateKeySpec(1);
const v2 = generateKeySpec(2);
const ring = parseKeyring(`${v2},${v1}`);
const onlyV1 = parseKeyring(v1);
const onlyV2 = parseKeyring(v2);
const aad = aadFor("user-1", "figma", "cred-1");

function flip(b64: string, index: number): string {
  const raw = Buffer.from(b64, "base64url");
  raw[index] = (raw[index] ?? 0) ^ 0x01;
  return raw.toString("base64url");
}

/** The three parts of an envelope, decoded. */
function parts(s: Sealed): { wrapped: string; body: string } {
  const [prefix, wrapped, body, extra] = s.ciphertext.split(".");
  if (`${prefix}.` !== ENVELOPE_PREFIX || !wrapped || !body || extra !== undefined)
    throw new Error("not an envelope");
  return { wrapped, body };
}
const envelope = (wrapped: string, body: string) => `${ENVELOPE_PREFIX}${wrapped}.${body}`;

/**
 * A value in the format sealed before envelopes, built here with node:crypto (not our code): AES-256-GCM
 * directly under the master key, base64url(nonce ‖ ciphertext ‖ tag).
 */
function legacySeal(keys: Keyring, version: number, plaintext: string, rowAad: Buffer): Sealed {
  const key = keys.key(version);
  if (!key) throw new Error("no such key");
  const nonce = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, nonce, { authTagLength: 16 });
  cipher.setAAD(rowAad);
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final(), cipher.getAuthTag()]);
  return { keyVersion: version, ciphertext: Buffer.concat([nonce, body]).toString("base64url") };
}

/**
 * A provider that is not the keyring: its own master keys, held the way a KMS-backed provider would hold its
 * key-encryption keys. Shows callers need no keyring, and that legacy values need one.
 */
class OtherProvider implements KeyProvider {
  readonly current = 7;
  readonly calls: string[] = [];
  private readonly keys = new Map([[7, randomBytes(32)]]);
  versions() {
    return [7];
  }
  wrap(dataKey: Uint8Array, wrapAad: Uint8Array) {
    this.calls.push(`wrap:${dataKey.length}`);
    const nonce = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.keys.get(7) ?? Buffer.alloc(32), nonce);
    cipher.setAAD(wrapAad);
    const ct = Buffer.concat([cipher.update(dataKey), cipher.final()]);
    return { keyVersion: 7, wrapped: Buffer.concat([nonce, cipher.getAuthTag(), ct]) };
  }
  unwrap(version: number, wrapped: Uint8Array, wrapAad: Uint8Array) {
    this.calls.push(`unwrap:${version}`);
    const key = this.keys.get(version);
    if (!key) return null;
    try {
      const d = createDecipheriv("aes-256-gcm", key, wrapped.subarray(0, 12));
      d.setAAD(wrapAad);
      d.setAuthTag(wrapped.subarray(12, 28));
      return Buffer.concat([d.update(wrapped.subarray(28)), d.final()]);
    } catch {
      return null;
    }
  }
}

describe("seal/open (envelope)", () => {
  test("round-trips under the current key, records its version, and is an envelope", () => {
    const s = seal(ring, "figd_secret", aad);
    expect(s.keyVersion).toBe(2);
    expect(isEnvelope(s.ciphertext)).toBe(true);
    expect(s.ciphertext).toMatch(/^e1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(s.ciphertext).not.toContain("figd_secret");
    expect(Buffer.from(parts(s).wrapped, "base64url")).toHaveLength(12 + 32 + 16);
    expect(open(ring, s, aad)).toBe("figd_secret");
    expect(open(onlyV2, s, aad)).toBe("figd_secret");
    expect(open(new LocalKeyProvider(ring), s, aad)).toBe("figd_secret");
  });

  test("a fresh data key and nonces each time", () => {
    const a = parts(seal(ring, "x", aad));
    const b = parts(seal(ring, "x", aad));
    expect(a.wrapped).not.toBe(b.wrapped);
    expect(a.body).not.toBe(b.body);
  });

  test("10,000 seals of one plaintext never repeat a nonce, a wrapped key or a ciphertext, and all open", () => {
    const count = 10_000;
    const sealed = Array.from({ length: count }, () => seal(ring, "figd_secret", aad));
    const nonce = (part: string) => Buffer.from(part, "base64url").subarray(0, 12).toString("hex");
    expect(new Set(sealed.map((s) => nonce(parts(s).body))).size).toBe(count);
    expect(new Set(sealed.map((s) => nonce(parts(s).wrapped))).size).toBe(count);
    expect(new Set(sealed.map((s) => parts(s).wrapped)).size).toBe(count);
    expect(new Set(sealed.map((s) => s.ciphertext)).size).toBe(count);
    const unopened = sealed.filter((s) => open(ring, s, aad) !== "figd_secret");
    expect(unopened).toEqual([]);
  });

  test("tampering with the wrapped key, the nonce, the ciphertext, the tag or the framing fails", () => {
    const s = seal(ring, "figd_secret", aad);
    const { wrapped, body } = parts(s);
    const bodyLen = Buffer.from(body, "base64url").length;
    for (const i of [0, 11, 12, bodyLen - 17, bodyLen - 1]) {
      expect(open(ring, { ...s, ciphertext: envelope(wrapped, flip(body, i)) }, aad)).toBeNull();
    }
    for (const i of [0, 11, 12, 43, 44, 59]) {
      expect(open(ring, { ...s, ciphertext: envelope(flip(wrapped, i), body) }, aad)).toBeNull();
    }
    for (const bad of [
      `${s.ciphertext}.x`,
      envelope(wrapped, ""),
      envelope("", body),
      envelope(wrapped, `${body.slice(0, -2)}!!`),
      `e2.${wrapped}.${body}`,
      s.ciphertext.slice(0, 40),
    ]) {
      expect(open(ring, { ...s, ciphertext: bad }, aad)).toBeNull();
    }
    // Another value's wrapped data key (same row AAD, same master key) does not open this payload.
    const other = parts(seal(ring, "figd_secret", aad));
    expect(open(ring, { ...s, ciphertext: envelope(other.wrapped, body) }, aad)).toBeNull();
  });

  test("another row's AAD fails", () => {
    const s = seal(ring, "figd_secret", aad);
    expect(open(ring, s, aadFor("user-2", "figma", "cred-1"))).toBeNull();
    expect(open(ring, s, aadFor("user-1", "github", "cred-1"))).toBeNull();
    // length-prefixing keeps ("ab","c") and ("a","bc") apart
    expect(aadFor("ab", "c").equals(aadFor("a", "bc"))).toBe(false);
  });

  test("wrong or unknown key version fails", () => {
    const s = seal(ring, "figd_secret", aad);
    expect(open(ring, { ...s, keyVersion: 1 }, aad)).toBeNull();
    expect(open(ring, { ...s, keyVersion: 9 }, aad)).toBeNull();
    expect(open(onlyV1, s, aad)).toBeNull();
  });

  test("a wrapped data key is never readable as a legacy value, nor a payload as a wrapped key", () => {
    const s = seal(ring, "figd_secret", aad);
    const { wrapped, body } = parts(s);
    // The wrapped key is AES-GCM under the master key, but bound to a "dek" label beside the row's AAD.
    expect(open(ring, { keyVersion: 2, ciphertext: wrapped }, aad)).toBeNull();
    expect(open(ring, { ...s, ciphertext: envelope(body, wrapped) }, aad)).toBeNull();
  });

  test("any KeyProvider can seal and open; it only ever sees 32-byte data keys", () => {
    const kms = new OtherProvider();
    const s = seal(kms, "figd_secret", aad);
    expect(s.keyVersion).toBe(7);
    expect(open(kms, s, aad)).toBe("figd_secret");
    expect(open(kms, s, aadFor("user-2", "figma", "cred-1"))).toBeNull();
    expect(open(ring, s, aad)).toBeNull();
    expect(kms.calls).toEqual(["wrap:32", "unwrap:7", "unwrap:7"]);
    // Legacy values were sealed directly under a master key: only the keyring's provider opens them.
    expect(open(kms, legacySeal(ring, 2, "old", aad), aad)).toBeNull();
  });

  test("a keyring is adapted once", () => {
    expect(keyProvider(ring)).toBe(keyProvider(ring));
    const kms = new OtherProvider();
    expect(keyProvider(kms)).toBe(kms);
  });
});

describe("legacy values (sealed before envelopes)", () => {
  test("still open, under their own version only, bound to their row", () => {
    const old = legacySeal(ring, 1, "legacy", aad);
    expect(isEnvelope(old.ciphertext)).toBe(false);
    expect(open(ring, old, aad)).toBe("legacy");
    expect(open(onlyV1, old, aad)).toBe("legacy");
    expect(open(onlyV2, old, aad)).toBeNull();
    expect(open(ring, { ...old, keyVersion: 2 }, aad)).toBeNull();
    expect(open(ring, old, aadFor("user-2", "figma", "cred-1"))).toBeNull();
  });

  test("tampered legacy values fail", () => {
    const old = legacySeal(ring, 1, "legacy", aad);
    const len = Buffer.from(old.ciphertext, "base64url").length;
    for (const i of [0, 11, 12, len - 17, len - 1]) {
      expect(open(ring, { ...old, ciphertext: flip(old.ciphertext, i) }, aad)).toBeNull();
    }
    expect(open(ring, { ...old, ciphertext: old.ciphertext.slice(0, 10) }, aad)).toBeNull();
    expect(open(ring, { ...old, ciphertext: `${old.ciphertext}!` }, aad)).toBeNull();
  });
});

describe("rewrap (key rotation)", () => {
  test("an envelope under v1 gets its data key wrapped under v2; the payload bytes are unchanged", () => {
    const s = seal(onlyV1, "figd_secret", aad);
    expect(s.keyVersion).toBe(1);
    expect(needsReseal(ring, s)).toBe(true);
    const r = rewrap(ring, s, aad);
    if (!r) throw new Error("rewrap failed");
    expect(r.keyVersion).toBe(2);
    expect(parts(r).body).toBe(parts(s).body);
    expect(parts(r).wrapped).not.toBe(parts(s).wrapped);
    expect(needsReseal(ring, r)).toBe(false);
    // v1 can go: the rewrapped value opens under v2 alone, the old one no longer does.
    expect(open(onlyV2, r, aad)).toBe("figd_secret");
    expect(open(onlyV2, s, aad)).toBeNull();
    // Rewrapping again changes nothing.
    expect(rewrap(ring, r, aad)).toEqual(r);
  });

  test("a legacy value becomes an envelope under v2", () => {
    const old = legacySeal(ring, 1, "legacy", aad);
    expect(needsReseal(ring, old)).toBe(true);
    // Legacy under the current version is still work for the rotation (it is not an envelope).
    expect(needsReseal(ring, legacySeal(ring, 2, "legacy", aad))).toBe(true);
    const r = rewrap(ring, old, aad);
    if (!r) throw new Error("rewrap failed");
    expect(r.keyVersion).toBe(2);
    expect(isEnvelope(r.ciphertext)).toBe(true);
    expect(open(onlyV2, r, aad)).toBe("legacy");
  });

  test("what does not open is not rewrapped: unknown version, wrong AAD, tampered payload", () => {
    const s = seal(onlyV1, "figd_secret", aad);
    expect(rewrap(onlyV2, s, aad)).toBeNull();
    expect(rewrap(ring, s, aadFor("user-2", "figma", "cred-1"))).toBeNull();
    const { wrapped, body } = parts(s);
    expect(rewrap(ring, { ...s, ciphertext: envelope(wrapped, flip(body, 20)) }, aad)).toBeNull();
    expect(rewrap(ring, legacySeal(ring, 1, "x", aad), aadFor("other"))).toBeNull();
  });
});

describe("keyring", () => {
  test("rejects malformed specs without echoing key material", () => {
    expect(() => parseKeyring("")).toThrow();
    expect(() => parseKeyring("v1:short")).toThrow(/32 bytes/);
    expect(() => parseKeyring("k1:abc")).toThrow(/entry 1/);
    const k = generateKeySpec(1);
    expect(() => parseKeyring(`${k},${k}`)).toThrow(/twice/);
  });

  test("dev keys are generated once and reused; production requires keys", () => {
    const dir = mkdtempSync(join(tmpdir(), "keys-"));
    const warnings: string[] = [];
    const a = loadKeyring({}, dir, (m) => warnings.push(m));
    const b = loadKeyring({}, dir, (m) => warnings.push(m));
    expect(a.key(1)?.equals(b.key(1) ?? Buffer.alloc(0))).toBe(true);
    expect(warnings).toHaveLength(1);
    expect(readFileSync(join(dir, "encryption-keys"), "utf8")).toMatch(/^v1:/);
    expect(() => loadKeyring({ NODE_ENV: "production" }, dir)).toThrow(/ENCRYPTION_KEYS/);
  });
});

describe("tokens", () => {
  test("instance tokens carry the prefix and 256 bits", () => {
    const t = mintInstanceToken("fig");
    expect(t).toMatch(/^mcp_fig_[A-Za-z0-9_-]{43}$/);
    expect(isInstanceToken(t)).toBe(true);
    expect(mintInstanceToken("fig")).not.toBe(t);
    expect(() => mintInstanceToken("F!")).toThrow();
  });

  test("malformed tokens are rejected by shape", () => {
    for (const bad of [
      "",
      "mcp_fig_",
      "mcp_fig_short",
      `xyz_fig_${"a".repeat(43)}`,
      `mcp_FIG_${"a".repeat(43)}`,
    ]) {
      expect(isInstanceToken(bad)).toBe(false);
    }
  });

  test("hashes are stable, hex, and differ for one changed character", () => {
    const t = mintApiKey();
    expect(hashToken(t)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashToken(t)).toBe(hashToken(t));
    const forged = t.slice(0, -1) + (t.endsWith("A") ? "B" : "A");
    expect(hashToken(forged)).not.toBe(hashToken(t));
    expect(safeEqual(hashToken(t), hashToken(t))).toBe(true);
    expect(safeEqual(hashToken(t), hashToken(forged))).toBe(false);
    expect(safeEqual("a", "ab")).toBe(false);
    // SHA-256 of the token's UTF-8 (the hashes already stored stay valid): a known vector, and node:crypto's digest.
    expect(hashToken("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(hashToken(t)).toBe(createHash("sha256").update(t, "utf8").digest("hex"));
    const text = JSON.stringify({ file_key: "é✓", ids: "1:2" });
    expect(sha256(text, "base64url")).toBe(createHash("sha256").update(text, "utf8").digest("base64url"));
  });
});
