import clsx from "clsx";
import {
  createContext,
  type HTMLAttributes,
  type ReactNode,
  type TableHTMLAttributes,
  useContext,
} from "react";
import { Skeleton } from "./card.tsx";

/**
 * The data tables of the app: a scrolling wrapper, a muted upper-case header row, rows split by hairlines.
 *
 * `density` sets the cell padding of the whole table:
 * - `comfortable` (default): a table of its own on a page (runs, projects), framed by a rounded border;
 * - `compact`: the same frame, tighter rows (the usage tab of a run);
 * - `card`: inside a flush `Card` that draws the frame; the first and last columns add `pl-5` / `pr-5`
 *   to line up with the card's title;
 * - `dense`: reference tables of small text (the API docs' fields and statuses).
 */
export type TableDensity = "comfortable" | "compact" | "card" | "dense";

const PADDING: Record<TableDensity, { th: string; td: string }> = {
  comfortable: { th: "px-4 py-2.5", td: "px-4 py-3" },
  compact: { th: "px-4 py-2.5", td: "px-4 py-2.5" },
  card: { th: "px-3 py-2", td: "px-3 py-2.5" },
  dense: { th: "px-3 py-1.5", td: "px-3 py-1.5" },
};

const DensityContext = createContext<TableDensity>("comfortable");

/** Secondary text in a cell. */
export const mutedText = "text-zinc-600 dark:text-zinc-400";

export function Table({
  density = "comfortable",
  className,
  children,
  ...props
}: TableHTMLAttributes<HTMLTableElement> & { density?: TableDensity }) {
  return (
    <div
      className={clsx(
        "overflow-x-auto",
        density !== "card" && "rounded-lg border border-zinc-200 dark:border-zinc-800",
      )}
    >
      <table className={clsx("w-full text-left text-sm", className)} {...props}>
        <DensityContext.Provider value={density}>{children}</DensityContext.Provider>
      </table>
    </div>
  );
}

/** The header: one row of `Th` cells. */
export function THead({ children }: { children: ReactNode }) {
  return (
    <thead className="bg-zinc-50 text-xs uppercase tracking-wide text-zinc-500 dark:bg-zinc-900/60">
      <tr>{children}</tr>
    </thead>
  );
}

/** A column header; `align="right"` over numeric columns. */
export function Th({
  align = "left",
  className,
  children,
}: {
  align?: "left" | "right";
  className?: string;
  children: ReactNode;
}) {
  const density = useContext(DensityContext);
  return (
    <th
      scope="col"
      className={clsx(PADDING[density].th, "font-medium", align === "right" && "text-right", className)}
    >
      {children}
    </th>
  );
}

export function TBody({ children }: { children: ReactNode }) {
  return <tbody className="divide-y divide-zinc-100 dark:divide-zinc-800">{children}</tbody>;
}

/**
 * A body cell. `numeric`: right-aligned tabular figures; `muted`: secondary text; `nowrap`: one line.
 * Other attributes (`title`, `data-testid`, …) go through to the `<td>`.
 */
export function Td({
  numeric = false,
  muted = false,
  nowrap = false,
  className,
  ...props
}: HTMLAttributes<HTMLTableCellElement> & { numeric?: boolean; muted?: boolean; nowrap?: boolean }) {
  const density = useContext(DensityContext);
  return (
    <td
      className={clsx(
        PADDING[density].td,
        numeric && "text-right tabular-nums",
        nowrap && "whitespace-nowrap",
        muted && mutedText,
        className,
      )}
      {...props}
    />
  );
}

/**
 * What a table shows while its rows stream in: the header band and a few rows of placeholders, so nothing
 * jumps when the data arrives. `cells`: the class of each placeholder (its size; `ml-auto` pushes the
 * rest to the right, like numeric columns).
 */
export function TableSkeleton({ label, rows, cells }: { label: string; rows: number; cells: string[] }) {
  return (
    <div className="rounded-lg border border-zinc-200 dark:border-zinc-800" role="status" aria-label={label}>
      <div className="h-9 border-b border-zinc-200 bg-zinc-50 dark:border-zinc-800 dark:bg-zinc-900/60" />
      {Array.from({ length: rows }, (_, row) => (
        <div
          // biome-ignore lint/suspicious/noArrayIndexKey: placeholder rows have nothing else to key on
          key={row}
          className="flex items-center gap-6 border-b border-zinc-100 px-4 py-4 last:border-0 dark:border-zinc-800"
        >
          {cells.map((cell, index) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: the placeholders never reorder
            <Skeleton key={index} className={cell} />
          ))}
        </div>
      ))}
    </div>
  );
}
