/** A small structured logger: JSON lines, with secret-looking fields redacted before they are written. */
export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SECRET_KEY = /pass|secret|token|apikey|api_key|authorization|cookie|credential|ciphertext|key$/i;
const SECRET_VALUE = /(mcp_[a-z]{2,8}_|mcpsk_)[A-Za-z0-9_-]{8,}/g;

// Drizzle puts a failed query's parameters (emails, password hashes, ciphertexts) into its message.
const QUERY_PARAMS = /\n?params: [\s\S]*$/;

function redactText(text: string): string {
  return text.replace(QUERY_PARAMS, "\nparams: [redacted]").replace(SECRET_VALUE, "$1[redacted]");
}

export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return redactText(value);
  if (value instanceof Error) {
    return {
      name: value.name,
      message: redactText(value.message),
      stack: value.stack && redactText(value.stack.replace(value.message, "")),
      ...(value.cause !== undefined && depth < 4 && { cause: redact(value.cause, depth + 1) }),
    };
  }
  if (value === null || typeof value !== "object") return value;
  // Deeper than any log call's fields go: withheld, not written unredacted.
  if (depth > 4) return "[too deep]";
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value))
    out[k] = SECRET_KEY.test(k) ? "[redacted]" : redact(v, depth + 1);
  return out;
}

export function createLogger(
  opts: { level?: LogLevel; write?: (line: string) => void; base?: LogFields } = {},
): Logger {
  const min = ORDER[opts.level ?? "info"];
  const write = opts.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const emit = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (ORDER[level] < min) return;
    const entry = {
      level,
      time: new Date().toISOString(),
      msg: redact(msg),
      ...opts.base,
      ...(redact(fields) as LogFields),
    };
    write(JSON.stringify(entry));
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
  };
}
