const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

/** Timestamps arrive as ISO-8601 strings (no transformer); `null` means never. */
export function formatWhen(value: string | Date | null | undefined): string {
  if (value === null || value === undefined) return "Never";
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? "—" : dateTime.format(d);
}
