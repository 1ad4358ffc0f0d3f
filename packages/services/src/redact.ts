/**
 * Removes a user's secrets from anything an upstream sends back before it reaches a client, a cache or a
 * log. Upstreams echo what they were sent (an error quoting the token, a "whoami" body, a debug field),
 * sometimes encoded, so each secret is matched in every form it plausibly takes: as is, JSON-escaped,
 * URL-encoded (either hex case, `+` for spaces), and base64/base64url — including inside a longer base64
 * string such as a Basic credential, at any byte alignment — and each of those as written inside a JSON
 * string; and the secret itself, or its bytes in hex, in any letter case, whole or cut short (a prefix of at
 * least half of it and 16 characters: an error quoting the start of the key it was sent).
 */
export interface Redactor {
  /** True when some form of some secret occurs in the text. */
  found(input: string): boolean;
  /** The text with every form of every secret replaced by `[redacted]`. */
  text(input: string): string;
  /**
   * A JSON-like value with every string (and object key) redacted — never a number or the structure, so
   * JSON stays JSON; the same value back when it holds no secret.
   */
  value<T>(input: T): T;
  /**
   * Where to cut `input` at `at` or before so that no form of a secret in it is split: `at`, or the start of
   * the form that spans it. Text arriving in pieces (a long stderr line) is cut there, so neither piece holds
   * part of a secret that the redactor, seeing only that piece, would not recognise.
   */
  safeCut(input: string, at: number): number;
  /** Characters of the longest form matched: a secret still arriving starts within this many of the end. */
  readonly longest: number;
}

export const REDACTED = "[redacted]";

/** Shorter values are not secrets worth the name, and redacting them would shred ordinary text. */
const MIN_SECRET_CHARS = 4;
/** A cookie's value is a secret from this length on (a session id); shorter ones are preferences. */
const MIN_COOKIE_SECRET_CHARS = 8;
/** A partial base64 form must be this long before it is matched on its own (no false positives). */
const MIN_PARTIAL_BASE64 = 8;
/** A cut-short secret is matched from this many characters (and half the secret) on: shorter runs may be public. */
const MIN_PREFIX_CHARS = 16;
/** Longer secrets (a service account's JSON) are matched whole only: a prefix pattern nests per character. */
const MAX_PREFIX_SECRET_CHARS = 128;
/** Depth bound for walking a parsed body (JSON nests deeper only in hostile input). */
const MAX_DEPTH = 64;

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

function base64Forms(secret: string): string[] {
  const bytes = Buffer.from(secret, "utf8");
  const forms = new Set<string>([bytes.toString("base64"), bytes.toString("base64url")]);
  // Inside a longer encoding the secret starts at some offset mod 3; the run of whole 3-byte groups
  // from the first aligned byte encodes the same way whatever surrounds it.
  for (let skip = 0; skip < 3; skip++) {
    const groups = Math.floor((bytes.length - skip) / 3);
    if (groups <= 0) continue;
    const aligned = bytes.subarray(skip, skip + groups * 3);
    for (const enc of [aligned.toString("base64"), aligned.toString("base64url")]) {
      if (enc.length >= MIN_PARTIAL_BASE64) forms.add(enc);
    }
  }
  return [...forms];
}

/** Every form of one secret worth matching. */
export function secretForms(secret: string): string[] {
  const forms = new Set<string>([secret]);
  forms.add(JSON.stringify(secret).slice(1, -1));
  const uri = encodeURIComponent(secret);
  forms.add(uri);
  forms.add(uri.replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase()));
  forms.add(new URLSearchParams({ v: secret }).toString().slice(2));
  for (const form of base64Forms(secret)) {
    forms.add(form);
    // Base64 sent in a URL or a form: `+`, `/` and `=` percent-encoded.
    forms.add(encodeURIComponent(form));
  }
  // Each form as it reads inside a JSON string, so the text of a JSON body is covered before parsing.
  for (const form of [...forms]) forms.add(JSON.stringify(form).slice(1, -1));
  return [...forms];
}

/** A pattern matching `s` in any letter case. */
function anyCase(s: string): string {
  let out = "";
  for (const ch of s) {
    const lower = ch.toLowerCase();
    const upper = ch.toUpperCase();
    out += lower === upper || lower.length > 1 || upper.length > 1 ? escapeRegExp(ch) : `[${lower}${upper}]`;
  }
  return out;
}

/**
 * Patterns for what literal forms miss: the secret and its hex in any letter case, and the secret cut short
 * (its first half, and at least `MIN_PREFIX_CHARS`, then as much more of it as follows).
 */
export function secretPatterns(secret: string): string[] {
  const hex = Buffer.from(secret, "utf8").toString("hex");
  const patterns = [anyCase(hex)];
  const chars = [...secret];
  const from = Math.max(MIN_PREFIX_CHARS, Math.ceil(chars.length / 2));
  if (chars.length <= from || chars.length > MAX_PREFIX_SECRET_CHARS) return [...patterns, anyCase(secret)];
  let rest = "";
  for (let i = chars.length - 1; i >= from; i--) rest = `(?:${anyCase(chars[i] ?? "")}${rest})?`;
  return [...patterns, `${anyCase(chars.slice(0, from).join(""))}${rest}`];
}

/**
 * The parts of a header value that are secret: the whole value, the credentials after an auth scheme
 * (`Bearer xyz` → `xyz`), and a Basic credential's decoded `user:password` and password.
 */
export function headerSecrets(value: string, name = ""): string[] {
  const out = [value];
  // A Cookie header is a list of `name=value` pairs: a server may echo one value alone. Short values are
  // preferences (`theme=dark`), not credentials, and redacting them would shred ordinary text.
  if (name.toLowerCase() === "cookie") {
    for (const pair of value.split(";")) {
      const eq = pair.indexOf("=");
      const cookie = pair.slice(eq + 1).trim();
      if (eq > 0 && cookie.length >= MIN_COOKIE_SECRET_CHARS) out.push(cookie, pair.trim());
    }
    return out;
  }
  const scheme = /^([A-Za-z][\w-]*)\s+(\S+)$/.exec(value.trim());
  if (!scheme?.[2]) return out;
  out.push(scheme[2]);
  if (scheme[1]?.toLowerCase() === "basic") {
    const decoded = Buffer.from(scheme[2], "base64").toString("utf8");
    out.push(decoded);
    const password = decoded.slice(decoded.indexOf(":") + 1);
    if (decoded.includes(":")) out.push(password);
  }
  return out;
}

/** A redactor for these secrets (values shorter than 4 characters are ignored). */
export function createRedactor(secrets: Iterable<string | undefined>): Redactor {
  const forms = new Set<string>();
  const patterns = new Set<string>();
  let longest = 0;
  for (const secret of secrets) {
    if (typeof secret !== "string" || secret.length < MIN_SECRET_CHARS) continue;
    for (const form of secretForms(secret)) forms.add(form);
    for (const pattern of secretPatterns(secret)) patterns.add(pattern);
    // The patterns match the secret (any case, or a prefix of it) and its hex, two characters a byte.
    longest = Math.max(longest, Buffer.byteLength(secret, "utf8") * 2);
  }
  if (forms.size === 0)
    return { found: () => false, text: (s) => s, value: (v) => v, safeCut: (_, at) => at, longest: 0 };
  for (const form of forms) longest = Math.max(longest, form.length);
  // Longest first, so a form that contains another is replaced whole; the literal forms before the patterns,
  // so a whole form (a JSON-escaped one, say) is not cut where a prefix pattern would stop.
  const ordered = [...forms].sort((a, b) => b.length - a.length);
  const pattern = new RegExp([...ordered.map(escapeRegExp), ...patterns].join("|"), "g");
  const found = (input: string): boolean => {
    pattern.lastIndex = 0;
    const hit = pattern.test(input);
    pattern.lastIndex = 0;
    return hit;
  };
  const text = (input: string): string => input.replace(pattern, REDACTED);
  const walk = (input: unknown, depth: number): unknown => {
    if (typeof input === "string") return text(input);
    if (typeof input !== "object" || input === null) return input;
    // Past the depth bound nothing is relayed as is: the whole subtree is withheld.
    if (depth > MAX_DEPTH) return REDACTED;
    if (Array.isArray(input)) {
      let changed = false;
      const out = input.map((item) => {
        const next = walk(item, depth + 1);
        if (next !== item) changed = true;
        return next;
      });
      return changed ? out : input;
    }
    let changed = false;
    const entries = Object.entries(input).map(([key, item]) => {
      const k = text(key);
      const next = walk(item, depth + 1);
      if (k !== key || next !== item) changed = true;
      return [k, next] as const;
    });
    // fromEntries defines own properties, so a `__proto__` key stays data, never a prototype.
    return changed ? Object.fromEntries(entries) : input;
  };
  /** Walking a large value costs more than serialising it once: only a value that holds a form is walked. */
  const clean = (input: unknown): boolean => {
    if (typeof input !== "object" || input === null) return typeof input !== "string" || !found(input);
    try {
      return !found(JSON.stringify(input));
    } catch {
      return false;
    }
  };
  const safeCut = (input: string, at: number): number => {
    pattern.lastIndex = 0;
    try {
      for (let match = pattern.exec(input); match; match = pattern.exec(input)) {
        if (match.index >= at) break;
        if (match.index + match[0].length > at) return match.index;
        // An empty match cannot happen (every form has 4+ characters); guard the loop anyway.
        if (match[0].length === 0) pattern.lastIndex++;
      }
      return at;
    } finally {
      pattern.lastIndex = 0;
    }
  };
  return {
    found,
    text,
    value: <T>(input: T): T => (clean(input) ? input : (walk(input, 0) as T)),
    safeCut,
    longest,
  };
}
