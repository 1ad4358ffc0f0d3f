import type { Redactor } from "../redact.ts";

/** Structurally the platform's logger (`@mcp/core`'s `Logger`); services cannot import core. */
export interface StdioLogger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface StderrLimits {
  /** Longer lines are cut (and say so). */
  maxLineChars: number;
  /** Sustained lines per second logged; a burst of `burst` is allowed, the rest are counted and dropped. */
  linesPerSecond: number;
  burst: number;
}

export const DEFAULT_STDERR_LIMITS: StderrLimits = { maxLineChars: 2000, linesPerSecond: 20, burst: 100 };

/**
 * Splits a child's stderr into lines and logs each one, with the credential's secrets redacted, cut to a
 * bounded length and rate-limited (a token bucket): a chatty or hostile server cannot flood the log.
 */
export function createStderrSink(
  log: (line: string, dropped: number) => void,
  redactor: Redactor,
  limits: StderrLimits,
): { write(chunk: Buffer): void; end(): void } {
  let partial = "";
  let tokens = limits.burst;
  let refilled = Date.now();
  let dropped = 0;
  // A secret is redacted before the line is cut, so a cut never leaves half a secret in the log.
  const emit = (raw: string) => {
    const now = Date.now();
    tokens = Math.min(limits.burst, tokens + ((now - refilled) / 1000) * limits.linesPerSecond);
    refilled = now;
    if (tokens < 1) {
      dropped++;
      return;
    }
    tokens--;
    const clean = redactor.text(raw);
    const line =
      clean.length > limits.maxLineChars
        ? `${clean.slice(0, limits.maxLineChars)}… [${clean.length - limits.maxLineChars} more chars]`
        : clean;
    log(line, dropped);
    dropped = 0;
  };
  // A line without a newline is held only up to a bound; past it, it is emitted in pieces, each cut where no
  // form of a secret is split (a piece ending inside the key would leave its tail, which nothing matches,
  // at the start of the next): the last `longest` characters, where a secret may still be arriving, wait
  // for the next piece.
  const hold = Math.max(limits.maxLineChars * 4, 16_384) + redactor.longest;
  return {
    write(chunk) {
      partial += chunk.toString("utf8");
      let newline = partial.indexOf("\n");
      while (newline !== -1) {
        const line = partial.slice(0, newline).replace(/\r$/, "");
        partial = partial.slice(newline + 1);
        if (line.trim() !== "") emit(line);
        newline = partial.indexOf("\n");
      }
      if (partial.length > hold) {
        const cut = redactor.safeCut(partial, partial.length - redactor.longest);
        // Only a form longer than the whole hold could leave nothing to cut off: then the lot goes, redacted.
        const at = cut > 0 ? cut : partial.length;
        emit(partial.slice(0, at));
        partial = partial.slice(at);
      }
    },
    end() {
      if (partial.trim() !== "") emit(partial);
      partial = "";
    },
  };
}
