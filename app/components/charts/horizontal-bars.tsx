import clsx from "clsx";
import type { ReactNode } from "react";

export type BarSeries = {
  /** "Tokens in". */
  label: string;
  /** Fill classes of its segments and legend swatch (`fill-…` and `bg-…`). */
  fill: string;
  swatch: string;
};

export type HorizontalBarRow = {
  key: string;
  /** The row's name ("openai:gpt-4.1-mini"). */
  label: ReactNode;
  /** Plain-text name for the bar's accessible label. */
  labelText: string;
  /** One value per series, in the series' order. */
  values: number[];
  /** What is written at the end of the row ("1.2M in · 300K out"). */
  valueText: string;
  /** A second line under the label ("12 calls · $0.42"). */
  meta?: ReactNode;
};

/**
 * Horizontal bars, stacked when there are several series (tokens in and out per model). All rows
 * share one scale (the largest row's total). Each bar is a small stretched SVG with no text in it; the
 * numbers are real text beside it, so the list reads well without the bars, and each bar has a label
 * and per-segment <title>s for hover.
 */
export function HorizontalBars({
  rows,
  series,
  formatValue,
  label,
  testId,
}: {
  rows: HorizontalBarRow[];
  series: BarSeries[];
  formatValue: (value: number) => string;
  /** The list's accessible name ("Tokens by model"). */
  label: string;
  testId?: string;
}) {
  const max = Math.max(1, ...rows.map((row) => row.values.reduce((sum, v) => sum + v, 0)));
  return (
    <div data-testid={testId}>
      {series.length > 1 ? (
        <ul
          className="mb-3 flex flex-wrap gap-x-4 gap-y-1 text-xs text-zinc-600 dark:text-zinc-400"
          aria-hidden="true"
        >
          {series.map((s) => (
            <li key={s.label} className="flex items-center gap-1.5">
              <span className={clsx("inline-block h-2.5 w-2.5 rounded-sm", s.swatch)} />
              {s.label}
            </li>
          ))}
        </ul>
      ) : null}
      <ul className="space-y-3" aria-label={label}>
        {rows.map((row) => {
          let offset = 0;
          return (
            <li key={row.key}>
              <div className="flex items-baseline justify-between gap-3 text-sm">
                <span className="min-w-0 truncate">{row.label}</span>
                <span className="shrink-0 text-xs tabular-nums text-zinc-600 dark:text-zinc-400">
                  {row.valueText}
                </span>
              </div>
              <svg
                role="img"
                aria-label={`${row.labelText}: ${series.map((s, i) => `${formatValue(row.values[i] ?? 0)} ${s.label.toLowerCase()}`).join(", ")}`}
                className="mt-1 block h-2.5 w-full overflow-hidden rounded-sm bg-zinc-100 dark:bg-zinc-800"
                viewBox="0 0 1000 10"
                preserveAspectRatio="none"
              >
                {series.map((s, index) => {
                  const value = row.values[index] ?? 0;
                  const width = (value / max) * 1000;
                  const x = offset;
                  offset += width;
                  return value > 0 ? (
                    <rect key={s.label} x={x} y={0} width={Math.max(width, 2)} height={10} className={s.fill}>
                      <title>{`${s.label}: ${formatValue(value)}`}</title>
                    </rect>
                  ) : null;
                })}
              </svg>
              {row.meta ? (
                <div className="mt-1 text-xs text-zinc-500 dark:text-zinc-400">{row.meta}</div>
              ) : null}
            </li>
          );
        })}
      </ul>
    </div>
  );
}
