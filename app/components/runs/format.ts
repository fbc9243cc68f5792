/** Labels for the run pages. Browser-safe; fixed locale and UTC so server and client render the same text. */
import { formatCount } from "#app/components/charts/format.ts";

/** 850 → "850 ms", 12_345 → "12.3 s", 125_000 → "2m 05s", 3_725_000 → "1h 02m"; null → "—". */
export function formatElapsed(ms: number | null | undefined): string {
  if (ms == null || !Number.isFinite(ms)) return "—";
  const value = Math.max(0, ms);
  if (value < 1000) return `${Math.round(value)} ms`;
  if (value < 60_000) return `${(Math.floor(value / 100) / 10).toFixed(1)} s`;
  const seconds = Math.floor(value / 1000);
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${String(seconds % 60).padStart(2, "0")}s`;
  const minutes = Math.floor(seconds / 60);
  return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, "0")}m`;
}

/** "14:05:09.120" (UTC) for log lines. */
export function formatClock(at: string | Date): string {
  const date = new Date(at);
  if (Number.isNaN(date.getTime())) return "";
  return date.toISOString().slice(11, 23);
}

/** 1234 → "1,234 tokens". */
export function formatTokens(count: number): string {
  return `${formatCount(count)} token${count === 1 ? "" : "s"}`;
}

/** A step or run output as text: strings as they are, anything else as indented JSON. */
export function formatValue(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  try {
    return JSON.stringify(value, null, 2) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Whether a value renders as JSON (an object or array) rather than plain text. */
export function isStructured(value: unknown): boolean {
  return value !== null && typeof value === "object";
}
