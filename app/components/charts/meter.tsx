import clsx from "clsx";

export type MeterTone = "ok" | "warning" | "exceeded";

const FILL: Record<MeterTone, string> = {
  ok: "bg-brand-600 dark:bg-brand-500",
  warning: "bg-amber-500 dark:bg-amber-400",
  exceeded: "bg-red-600 dark:bg-red-500",
};

/**
 * How much of something is used (a budget's spend against its limit), as a progressbar with its value
 * in words. Overflows are drawn full; the colour says how close to the end it is, and the caller's text
 * says it too (colour is never the only signal).
 */
export function Meter({
  value,
  max,
  label,
  valueText,
  tone,
  testId,
}: {
  value: number;
  max: number;
  /** Accessible name ("Spent this month on Shop"). */
  label: string;
  /** "$3.20 of $10.00 (32%)". */
  valueText: string;
  tone: MeterTone;
  testId?: string;
}) {
  const percent = max > 0 ? Math.min(100, (value / max) * 100) : 100;
  return (
    <div
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={max}
      aria-valuenow={Math.min(value, max)}
      aria-valuetext={valueText}
      className="h-2 w-full overflow-hidden rounded-full bg-zinc-100 dark:bg-zinc-800"
      data-testid={testId}
      data-tone={tone}
    >
      <div
        className={clsx("h-full rounded-full transition-[width]", FILL[tone])}
        style={{ width: `${value > 0 ? Math.max(percent, 1.5) : 0}%` }}
      />
    </div>
  );
}
