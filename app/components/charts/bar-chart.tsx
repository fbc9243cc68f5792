import clsx from "clsx";
import { type KeyboardEvent, useEffect, useId, useRef, useState } from "react";
import { niceMax } from "./format.ts";

export type BarDatum = {
  /** Stable key (the day). */
  key: string;
  /** Short label under the bar ("Mar 5"). */
  label: string;
  /** Full name in the tooltip and the data table ("Thu, Mar 5, 2026"); default `label`. */
  title?: string;
  value: number;
  /** The value as people read it ("$1.23"). */
  valueText: string;
  /** More lines for the tooltip and the table ("45 calls"). */
  details?: string[];
};

const PAD_TOP = 12;
const PAD_BOTTOM = 26;
const PAD_RIGHT = 22;
/** Width the chart is drawn at before the browser has measured its box (server render). */
const DEFAULT_WIDTH = 720;

/** Follow an element's content width (ResizeObserver), so the SVG is drawn at its real size: crisp text. */
function useWidth<T extends HTMLElement>() {
  const ref = useRef<T>(null);
  const [width, setWidth] = useState(DEFAULT_WIDTH);
  useEffect(() => {
    const element = ref.current;
    if (!element || typeof ResizeObserver === "undefined") return;
    const observer = new ResizeObserver(([entry]) => {
      const next = Math.round(entry?.contentRect.width ?? 0);
      if (next > 0) setWidth(next);
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  return { ref, width };
}

/**
 * A vertical bar chart (one bar per day), dependency-free SVG. Accessible three ways: the SVG is an
 * image with a summary label; a visually hidden table carries every value; and the chart is focusable,
 * arrow keys moving a tooltip from bar to bar (announced through a live region). Mouse hover shows the
 * same tooltip.
 */
export function BarChart({
  data,
  title,
  summary,
  formatAxis,
  valueHeader,
  labelHeader = "Day",
  height = 220,
  testId,
}: {
  data: BarDatum[];
  /** What the chart shows ("Cost per day"); the image's name and the table's caption. */
  title: string;
  /** A sentence for screen readers: totals, the peak. */
  summary: string;
  /** Axis tick labels ("$0.50"). */
  formatAxis: (value: number) => string;
  /** The table's value column header ("Cost"). */
  valueHeader: string;
  labelHeader?: string;
  height?: number;
  testId?: string;
}) {
  const { ref, width } = useWidth<HTMLDivElement>();
  const [active, setActive] = useState<number | null>(null);
  const [announce, setAnnounce] = useState(false);
  const hintId = useId();

  const highest = Math.max(0, ...data.map((d) => d.value));
  const max = niceMax(highest);
  // Nothing to scale (a period without spend): one baseline, not a scale of made-up amounts.
  const ticks = highest > 0 ? [0, 0.25, 0.5, 0.75, 1].map((f) => f * max) : [0];
  const tickLabels = ticks.map(formatAxis);
  const padLeft = Math.max(...tickLabels.map((label) => label.length)) * 6.5 + 12;
  const plotWidth = Math.max(10, width - padLeft - PAD_RIGHT);
  const plotHeight = height - PAD_TOP - PAD_BOTTOM;
  const band = data.length > 0 ? plotWidth / data.length : plotWidth;
  const barWidth = Math.max(1, Math.min(band * 0.72, 36));
  const y = (value: number) => PAD_TOP + plotHeight - (value / max) * plotHeight;
  const labelEvery = Math.max(1, Math.ceil(data.length / Math.max(1, Math.floor(plotWidth / 58))));

  const move = (event: KeyboardEvent<SVGSVGElement>) => {
    if (data.length === 0) return;
    const last = data.length - 1;
    const current = active ?? last;
    const next =
      event.key === "ArrowRight"
        ? Math.min(last, current + 1)
        : event.key === "ArrowLeft"
          ? Math.max(0, current - 1)
          : event.key === "Home"
            ? 0
            : event.key === "End"
              ? last
              : null;
    if (event.key === "Escape") {
      setActive(null);
      return;
    }
    if (next === null) return;
    event.preventDefault();
    setAnnounce(true);
    setActive(next);
  };

  const shown = active !== null ? data[active] : undefined;
  // The tooltip sits at the top of the plot beside its column (right of it, or left in the right half),
  // so it never covers the bar it describes nor leaves the chart.
  const onRight = active !== null && padLeft + band * (active + 0.5) < padLeft + plotWidth / 2;
  const shownX =
    active === null ? 0 : onRight ? padLeft + band * (active + 1) + 6 : padLeft + band * active - 6;

  return (
    <figure className="relative" data-testid={testId}>
      <div ref={ref} className="relative">
        <svg
          role="img"
          aria-label={`${title}. ${summary}`}
          aria-describedby={hintId}
          tabIndex={data.length > 0 ? 0 : undefined}
          width="100%"
          height={height}
          viewBox={`0 0 ${width} ${height}`}
          className="block overflow-visible rounded-md select-none"
          onKeyDown={move}
          onFocus={() => {
            setAnnounce(true);
            setActive((current) => current ?? Math.max(0, data.length - 1));
          }}
          onBlur={() => setActive(null)}
          onMouseMove={(event) => {
            // The whole column is the hover target, so short bars are as easy to point at as tall ones.
            const box = event.currentTarget.getBoundingClientRect();
            const x = ((event.clientX - box.left) / box.width) * width;
            const index = Math.floor((x - padLeft) / band);
            setAnnounce(false);
            setActive(index >= 0 && index < data.length ? index : null);
          }}
          onMouseLeave={() => setActive(null)}
        >
          {ticks.map((tick, index) => (
            <g key={tick}>
              <line
                x1={padLeft}
                x2={width - PAD_RIGHT}
                y1={y(tick)}
                y2={y(tick)}
                className={
                  index === 0
                    ? "stroke-zinc-300 dark:stroke-zinc-700"
                    : "stroke-zinc-100 dark:stroke-zinc-800"
                }
                strokeDasharray={index === 0 ? undefined : "3 3"}
              />
              <text
                x={padLeft - 8}
                y={y(tick)}
                dy="0.32em"
                textAnchor="end"
                fontSize={11}
                className="fill-zinc-500 tabular-nums dark:fill-zinc-400"
              >
                {tickLabels[index]}
              </text>
            </g>
          ))}
          {data.map((datum, index) => {
            const x = padLeft + band * index + (band - barWidth) / 2;
            const top = y(datum.value);
            const barHeight = datum.value > 0 ? Math.max(1.5, PAD_TOP + plotHeight - top) : 0;
            const labelled = (data.length - 1 - index) % labelEvery === 0;
            const labelX = padLeft + band * index + band / 2;
            // The last label must not run off the right edge.
            const labelEnd = labelX + 22 > width;
            return (
              <g key={datum.key}>
                {/* The column behind the bar shows which day the pointer is on, however short the bar. */}
                <rect
                  x={padLeft + band * index}
                  y={PAD_TOP}
                  width={band}
                  height={plotHeight}
                  pointerEvents="none"
                  className={clsx(
                    active === index ? "fill-zinc-100 dark:fill-zinc-800/60" : "fill-transparent",
                  )}
                />
                {barHeight > 0 ? (
                  <rect
                    x={x}
                    y={PAD_TOP + plotHeight - barHeight}
                    width={barWidth}
                    height={barHeight}
                    rx={Math.min(3, barWidth / 4)}
                    pointerEvents="none"
                    className={clsx(
                      active === index
                        ? "fill-brand-700 dark:fill-brand-100"
                        : "fill-brand-600 dark:fill-brand-500",
                    )}
                  />
                ) : null}
                {labelled ? (
                  <text
                    x={labelEnd ? width - 2 : labelX}
                    y={height - 8}
                    textAnchor={labelEnd ? "end" : "middle"}
                    fontSize={11}
                    pointerEvents="none"
                    className="fill-zinc-500 dark:fill-zinc-400"
                  >
                    {datum.label}
                  </text>
                ) : null}
              </g>
            );
          })}
        </svg>
        {shown ? (
          <div
            aria-hidden="true"
            className={clsx(
              "pointer-events-none absolute z-10 rounded-md border border-zinc-200 bg-white px-2.5 py-1.5 text-xs whitespace-nowrap shadow-md dark:border-zinc-700 dark:bg-zinc-900",
              !onRight && "-translate-x-full",
            )}
            style={{ left: shownX, top: PAD_TOP }}
            data-testid={testId ? `${testId}-tooltip` : undefined}
          >
            <p className="font-medium text-zinc-900 dark:text-zinc-100">{shown.title ?? shown.label}</p>
            <p className="tabular-nums text-zinc-700 dark:text-zinc-300">{shown.valueText}</p>
            {shown.details?.map((line) => (
              <p key={line} className="tabular-nums text-zinc-500 dark:text-zinc-400">
                {line}
              </p>
            ))}
          </div>
        ) : null}
      </div>
      <p id={hintId} className="sr-only">
        Use the left and right arrow keys to read each bar; the table below lists every value.
      </p>
      <p className="sr-only" aria-live="polite">
        {announce && shown
          ? `${shown.title ?? shown.label}: ${[shown.valueText, ...(shown.details ?? [])].join(", ")}`
          : ""}
      </p>
      <table className="sr-only">
        <caption>{title}</caption>
        <thead>
          <tr>
            <th scope="col">{labelHeader}</th>
            <th scope="col">{valueHeader}</th>
            <th scope="col">Details</th>
          </tr>
        </thead>
        <tbody>
          {data.map((datum) => (
            <tr key={datum.key}>
              <th scope="row">{datum.title ?? datum.label}</th>
              <td>{datum.valueText}</td>
              <td>{datum.details?.join(", ")}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
