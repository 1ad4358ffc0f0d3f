/**
 * JSON as the repository's formatter (Biome) writes it, so a generated definition passes `biome check`:
 * two-space indents, objects one key per line, arrays of plain values on one line when it fits in 110
 * columns (else one value per line).
 */
const LINE_WIDTH = 110;

export function formatJson(value: unknown): string {
  return `${format(value, "", 0)}\n`;
}

function isPlain(v: unknown): boolean {
  return v === null || typeof v !== "object";
}

/** `used`: the columns before the value on its line; the trailing comma (when any) is counted by the caller. */
function format(value: unknown, indent: string, used: number, tail = 0): string {
  if (isPlain(value)) return JSON.stringify(value) ?? "null";
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    if (value.every(isPlain)) {
      const flat = `[${value.map((v) => JSON.stringify(v)).join(", ")}]`;
      if (used + flat.length + tail <= LINE_WIDTH) return flat;
    }
    const items = value.map(
      (v, i) => `${inner}${format(v, inner, inner.length, i < value.length - 1 ? 1 : 0)}`,
    );
    return `[\n${items.join(",\n")}\n${indent}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  if (entries.length === 0) return "{}";
  const lines = entries.map(([k, v], i) => {
    const key = `${inner}${JSON.stringify(k)}: `;
    return `${key}${format(v, inner, key.length, i < entries.length - 1 ? 1 : 0)}`;
  });
  return `{\n${lines.join(",\n")}\n${indent}}`;
}
