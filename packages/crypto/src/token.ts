import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

const TOKEN_BYTES = 32; // 256 bits → 43 base64url characters

/** Instance tokens: `mcp_<service prefix>_<43 base64url chars>`. */
export const INSTANCE_TOKEN = /^mcp_([a-z]{2,8})_([A-Za-z0-9_-]{43,128})$/;
/** Control-plane API keys: `mcpsk_<43 base64url chars>`. */
export const API_KEY = /^mcpsk_[A-Za-z0-9_-]{43}$/;

export function randomSecret(bytes = TOKEN_BYTES): string {
  return randomBytes(bytes).toString("base64url");
}

export function mintInstanceToken(prefix: string): string {
  if (!/^[a-z]{2,8}$/.test(prefix)) throw new Error("service prefix must be 2-8 lowercase letters");
  return `mcp_${prefix}_${randomSecret()}`;
}

export function mintApiKey(): string {
  return `mcpsk_${randomSecret()}`;
}

/** SHA-256 hex: enough for 256-bit random tokens, which cannot be brute-forced from their hash. */
export function hashToken(token: string): string {
  return sha256(token, "hex");
}

/**
 * SHA-256 of a string's UTF-8. Hot paths hash on every request (the URL's token, a cached read's arguments):
 * Bun's one-shot SHA-256 costs a seventh of node:crypto's `createHash` (no hash object built per call); the
 * same digest either way.
 */
export function sha256(text: string, encoding: "hex" | "base64url"): string {
  if (typeof Bun !== "undefined") return Bun.SHA256.hash(text, encoding);
  return createHash("sha256").update(text, "utf8").digest(encoding);
}

export function isInstanceToken(token: string): boolean {
  return INSTANCE_TOKEN.test(token);
}

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
