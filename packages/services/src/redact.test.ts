import { describe, expect, test } from "bun:test";
import { createRedactor, headerSecrets, REDACTED, secretForms } from "./redact.ts";
import { remoteRedactor } from "./remote-mcp.ts";

const KEY = 'figd_Ab/+=9"x\\y~z_0123456789';

describe("createRedactor", () => {
  const r = createRedactor([KEY]);

  test.each([
    ["as is", KEY],
    ["JSON-escaped", JSON.stringify(KEY).slice(1, -1)],
    ["URL-encoded", encodeURIComponent(KEY)],
    ["URL-encoded, lower-case hex", encodeURIComponent(KEY).replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase())],
    ["form-encoded", new URLSearchParams({ k: KEY }).toString().slice(2)],
    ["base64", Buffer.from(KEY).toString("base64")],
    ["base64url", Buffer.from(KEY).toString("base64url")],
    ["base64, percent-encoded", encodeURIComponent(Buffer.from(KEY).toString("base64"))],
  ])("the key %s is replaced", (_, form) => {
    const out = r.text(`before ${form} after`);
    expect(out).toBe(`before ${REDACTED} after`);
  });

  test("inside a longer base64 string (a Basic credential) at every alignment, most of the key goes", () => {
    for (const user of ["a", "ab", "abc"]) {
      const basic = Buffer.from(`${user}:${KEY}`).toString("base64");
      const out = r.text(`Authorization: Basic ${basic}`);
      expect(out).toContain(REDACTED);
      // What is left of the encoding cannot decode back to more than a few bytes of the key.
      const leftover = out.replace("Authorization: Basic ", "").split(REDACTED).join("");
      expect(leftover.length).toBeLessThanOrEqual(12);
      expect(Buffer.from(leftover, "base64").toString("latin1")).not.toContain(KEY.slice(0, 6));
    }
  });

  test("every occurrence is replaced, the rest of the text is untouched", () => {
    expect(r.text(`${KEY}${KEY} and ${KEY}`)).toBe(`${REDACTED}${REDACTED} and ${REDACTED}`);
    expect(r.text("nothing secret here")).toBe("nothing secret here");
  });

  test("values: strings and keys at any depth; a clean value comes back as the same object", () => {
    const clean = { a: [1, { b: "x" }], c: null };
    expect(r.value(clean)).toBe(clean);
    const dirty = { [KEY]: { list: ["ok", `token=${KEY}`], n: 1 } };
    expect(r.value<unknown>(dirty)).toEqual({ [REDACTED]: { list: ["ok", `token=${REDACTED}`], n: 1 } });
    expect(JSON.stringify(r.value(dirty))).not.toContain(KEY);
  });

  test("found() tells whether any form occurs; numbers and structure are never rewritten", () => {
    expect(r.found(`x ${encodeURIComponent(KEY)} y`)).toBe(true);
    expect(r.found("nothing here")).toBe(false);
    const numeric = createRedactor(["123456"]);
    const value = { id: 123456, label: "account 123456", list: [123456] };
    expect(numeric.value<unknown>(value)).toEqual({
      id: 123456,
      label: `account ${REDACTED}`,
      list: [123456],
    });
  });

  test("a `__proto__` key stays an own property, never a prototype", () => {
    const parsed = JSON.parse(`{"__proto__": {"polluted": ${JSON.stringify(KEY)}}}`);
    const out = r.value(parsed) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(JSON.stringify(out)).toBe(`{"__proto__":{"polluted":"${REDACTED}"}}`);
  });

  test("hostile nesting is bounded: past the depth limit the subtree is withheld", () => {
    let deep: unknown = KEY;
    for (let i = 0; i < 200; i++) deep = [deep];
    expect(JSON.stringify(r.value(deep))).not.toContain("figd_");
  });

  test("several secrets; values under 4 characters are not secrets and are left alone", () => {
    const many = createRedactor(["alpha-secret", "us", undefined, "beta-secret"]);
    expect(many.text("alpha-secret / beta-secret / us")).toBe(`${REDACTED} / ${REDACTED} / us`);
    expect(createRedactor([]).text("anything")).toBe("anything");
  });

  test("in another letter case, in hex (either case), or cut short after half of it: all replaced", () => {
    const key = "figd_SECRETCANARY_0123456789abcdef";
    const k = createRedactor([key]);
    const hex = Buffer.from(key).toString("hex");
    for (const form of [key.toUpperCase(), key.toLowerCase(), hex, hex.toUpperCase(), key.slice(0, 30)]) {
      expect([form, k.text(`token ${form}… rest`)]).toEqual([form, `token ${REDACTED}… rest`]);
    }
    // Cut at exactly half (17 characters): still the key's; shorter, it is just text (a public prefix).
    expect(k.text(key.slice(0, 17))).toBe(REDACTED);
    expect(k.text(key.slice(0, 15))).toBe(key.slice(0, 15));
    // A whole JSON-escaped form is replaced whole, not cut where the prefix pattern would stop.
    const quoted = createRedactor(['tok_0123456789abcdef"quoted\\tail']);
    expect(quoted.text(JSON.stringify('x tok_0123456789abcdef"quoted\\tail y'))).toBe(`"x ${REDACTED} y"`);
    // A long secret (a service account's JSON) is matched whole, in any case, not by its prefixes.
    const long = `{"private_key":"${"k".repeat(200)}"}`;
    const l = createRedactor([long]);
    expect(l.text(long.toUpperCase())).toBe(REDACTED);
    expect(l.text(long.slice(0, 150))).toBe(long.slice(0, 150));
  });

  test("forms are literal, not patterns", () => {
    const tricky = createRedactor(["a.b*c(d)"]);
    expect(tricky.text("aXbbbc(d) a.b*c(d)")).toBe(`aXbbbc(d) ${REDACTED}`);
    expect(secretForms("a.b*c(d)")).toContain("a.b*c(d)");
  });
});

describe("headerSecrets", () => {
  test("the whole value, the credential after a scheme, and a Basic credential decoded", () => {
    expect(headerSecrets("Bearer tok_123456")).toEqual(["Bearer tok_123456", "tok_123456"]);
    const basic = `Basic ${Buffer.from("me:pa55word").toString("base64")}`;
    expect(headerSecrets(basic)).toEqual([basic, basic.slice(6), "me:pa55word", "pa55word"]);
    expect(headerSecrets("plain-value")).toEqual(["plain-value"]);
  });
  test("a Cookie header: each cookie's value (and pair) long enough to be a credential, not preferences", () => {
    const cookie = "session=s3cr3t-0123456789abcdefXYZ; theme=dark; lang=en";
    expect(headerSecrets(cookie, "Cookie")).toEqual([
      cookie,
      "s3cr3t-0123456789abcdefXYZ",
      "session=s3cr3t-0123456789abcdefXYZ",
    ]);
  });
});

describe("safeCut", () => {
  const secret = "sk_live_ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  const r = createRedactor([secret]);
  test("a cut inside a form of a secret moves to where it starts; elsewhere it stays", () => {
    const text = `head ${secret} tail ${Buffer.from(secret).toString("base64")} end`;
    const start = text.indexOf(secret);
    expect(r.safeCut(text, start + 5)).toBe(start);
    expect(r.safeCut(text, start)).toBe(start);
    expect(r.safeCut(text, start + secret.length)).toBe(start + secret.length);
    const b64 = text.indexOf(Buffer.from(secret).toString("base64"));
    expect(r.safeCut(text, b64 + 3)).toBe(b64);
    expect(r.safeCut("nothing here", 4)).toBe(4);
    expect(createRedactor([]).safeCut("anything", 3)).toBe(3);
  });
  test("longest covers every form matched (the hex form is two characters a byte)", () => {
    expect(r.longest).toBeGreaterThanOrEqual(secret.length * 2);
    expect(createRedactor([]).longest).toBe(0);
  });
});

describe("remoteRedactor", () => {
  test("credential headers, query values and long path segments; descriptive headers are left alone", () => {
    const r = remoteRedactor({
      name: "mine",
      url: "https://mcp.example.com/s/sk_live_0123456789abcdef/mcp?key=q-secret-value",
      headers: {
        authorization: "Bearer tok_abcdef123456",
        "x-api-key": "xk_0011223344",
        accept: "application/json",
        "notion-version": "2022-06-28",
      },
    });
    const out = r.text(
      "tok_abcdef123456 xk_0011223344 q-secret-value sk_live_0123456789abcdef application/json 2022-06-28 mcp",
    );
    expect(out).toBe(`${REDACTED} ${REDACTED} ${REDACTED} ${REDACTED} application/json 2022-06-28 mcp`);
  });
  test("a cookie's value echoed alone is redacted; a short preference is not", () => {
    const r = remoteRedactor({
      name: "mine",
      url: "https://mcp.example.com/mcp",
      headers: { Cookie: "session=s3cr3t-0123456789abcdefXYZ; theme=dark" },
    });
    expect(r.text("invalid session s3cr3t-0123456789abcdefXYZ in dark mode")).toBe(
      `invalid session ${REDACTED} in dark mode`,
    );
  });
});
