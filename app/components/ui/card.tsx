import clsx from "clsx";
import type { HTMLAttributes, ReactNode } from "react";

/** A bordered block. `flush`: no padding, for content that runs edge to edge (tables). */
export function Card({
  className,
  flush = false,
  ...props
}: HTMLAttributes<HTMLElement> & { flush?: boolean }) {
  return (
    <section
      className={clsx(
        "rounded-lg border border-zinc-200 bg-white shadow-xs dark:border-zinc-800 dark:bg-zinc-900/50",
        !flush && "p-5",
        className,
      )}
      {...props}
    />
  );
}

export function CardTitle({ children, aside }: { children: ReactNode; aside?: ReactNode }) {
  return (
    <div className="mb-4 flex items-center justify-between gap-4">
      <h2 className="text-sm font-semibold text-zinc-900 dark:text-zinc-100">{children}</h2>
      {aside}
    </div>
  );
}

export function Stat({ label, value, testId }: { label: string; value: ReactNode; testId?: string }) {
  return (
    <div>
      <dt className="text-xs font-medium uppercase tracking-wide text-zinc-500">{label}</dt>
      <dd className="mt-1 text-lg font-semibold tabular-nums" data-testid={testId}>
        {value}
      </dd>
    </div>
  );
}

export function Skeleton({ className }: { className?: string }) {
  return (
    <span
      aria-hidden="true"
      className={clsx("inline-block animate-pulse rounded bg-zinc-200 dark:bg-zinc-800", className)}
    />
  );
}
