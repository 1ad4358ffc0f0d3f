import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateKeySpec, loadKeyring, parseKeyring } from "./keyring.ts";
import { aadFor, needsReseal, open, seal } from "./seal.ts";
import { hashToken, isInstanceToken, mintApiKey, mintInstanceToken, safeEqual } from "./token.ts";

const ring = parseKeyring(`${generateKeySpec(2)},${generateKeySpec(1)}`);
const aad = aadFor("user-1", "figma", "cred-1");

function flip(b64: string, index: number): string {
  const raw = Buffer.from(b64, "base64url");
  raw[index] = (raw[index] ?? 0) ^ 0x01;
  return raw.toString("base64url");
}

describe("seal/open", () => {
  test("round-trips under the current key and records its version", () => {
    const s = seal(ring, "figd_secret", aad);
    expect(s.keyVersion).toBe(2);
    expect(s.ciphertext).not.toContain("figd_secret");
    expect(open(ring, s, aad)).toBe("figd_secret");
  });

  test("a fresh nonce each time", () => {
    expect(seal(ring, "x", aad).ciphertext).not.toBe(seal(ring, "x", aad).ciphertext);
  });

  test("10,000 seals of one plaintext never repeat a nonce or a ciphertext, and all open", () => {
    const count = 10_000;
    const sealed = Array.from({ length: count }, () => seal(ring, "figd_secret", aad));
    const nonces = new Set(
      sealed.map((s) => Buffer.from(s.ciphertext, "base64url").subarray(0, 12).toString("hex")),
    );
    expect(nonces.size).toBe(count);
    expect(new Set(sealed.map((s) => s.ciphertext)).size).toBe(count);
    const unopened = sealed.filter((s) => open(ring, s, aad) !== "figd_secret");
    expect(unopened).toEqual([]);
  });

  test("tampered nonce, ciphertext or tag fails", () => {
    const s = seal(ring, "figd_secret", aad);
    const len = Buffer.from(s.ciphertext, "base64url").length;
    for (const i of [0, 11, 12, len - 17, len - 1]) {
      expect(open(ring, { ...s, ciphertext: flip(s.ciphertext, i) }, aad)).toBeNull();
    }
    expect(open(ring, { ...s, ciphertext: s.ciphertext.slice(0, 10) }, aad)).toBeNull();
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
  });

  test("rotation: old versions still open, and are flagged for re-seal", () => {
    const old = parseKeyring(`v1:${ring.key(1)?.toString("base64")}`);
    const s = seal(old, "legacy", aad);
    expect(s.keyVersion).toBe(1);
    expect(open(ring, s, aad)).toBe("legacy");
    expect(needsReseal(ring, s)).toBe(true);
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
  });
});
