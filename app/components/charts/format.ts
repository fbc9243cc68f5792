/** Number and date labels for charts. Browser-safe, locale fixed to en-US so server and client agree. */

const compact = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });
const whole = new Intl.NumberFormat("en-US");

/** 1234 → "1.2K", 999 → "999". */
export function formatCompact(value: number): string {
  return compact.format(value);
}

/** 1234567 → "1,234,567". */
export function formatCount(value: number): string {
  return whole.format(value);
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** "2026-03-05" → "Mar 5" (no time zone involved: the day is already a UTC calendar day). */
export function formatDay(day: string): string {
  const [, month, date] = day.split("-").map(Number);
  return `${MONTHS[(month ?? 1) - 1]} ${date}`;
}

const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/** "2026-03-05" → "Thu, Mar 5, 2026". */
export function formatDayLong(day: string): string {
  const [year, month, date] = day.split("-").map(Number);
  const weekday = WEEKDAYS[new Date(Date.UTC(year ?? 1970, (month ?? 1) - 1, date ?? 1)).getUTCDay()];
  return `${weekday}, ${formatDay(day)}, ${year}`;
}

/** 850 → "850 ms", 1234 → "1.2 s"; null → "—". */
export function formatDuration(ms: number | null | undefined): string {
  if (ms == null) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}

/**
 * A round axis maximum at or above `max`: 1, 2, 2.5 or 5 times a power of ten (0 → 1), so gridlines
 * fall on readable values.
 */
export function niceMax(max: number): number {
  if (!Number.isFinite(max) || max <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * power >= max) return step * power;
  }
  return 10 * power;
}
