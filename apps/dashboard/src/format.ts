const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

/** Timestamps arrive as ISO-8601 strings (no transformer); `null` means never. */
export function formatWhen(value: string | Date | null | undefined): string {
  if (value === null || value === undefined) return "Never";
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? "—" : dateTime.format(d);
}

/** "3 minutes ago", "in 2 days"; `null` means never. */
export function formatAgo(value: string | null | undefined, now = Date.now()): string {
  if (value === null || value === undefined) return "Never";
  const t = new Date(value).getTime();
  if (Number.isNaN(t)) return "—";
  const seconds = Math.round((t - now) / 1000);
  const steps: [Intl.RelativeTimeFormatUnit, number][] = [
    ["second", 60],
    ["minute", 60],
    ["hour", 24],
    ["day", 30],
    ["month", 12],
  ];
  let amount = seconds;
  for (const [unit, size] of steps) {
    if (Math.abs(amount) < size) return relative.format(amount, unit);
    amount = Math.round(amount / size);
  }
  return relative.format(amount, "year");
}

export const formatNumber = (n: number) => new Intl.NumberFormat().format(n);
