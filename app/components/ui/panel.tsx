import clsx from "clsx";
import type { ReactNode } from "react";

/** A bordered panel with a title bar (the prompt page, the workflow builder). */
export function Panel({
  title,
  titleId,
  aside,
  children,
  className,
}: {
  title: ReactNode;
  titleId: string;
  aside?: ReactNode;
  children: ReactNode;
  className?: string;
}) {
  return (
    <section
      aria-labelledby={titleId}
      className={clsx(
        "rounded-lg border border-zinc-200 bg-white dark:border-zinc-800 dark:bg-zinc-900/50",
        className,
      )}
    >
      <header className="flex min-h-11 flex-wrap items-center justify-between gap-2 border-b border-zinc-200 px-4 py-2 dark:border-zinc-800">
        <h2 id={titleId} className="text-sm font-semibold">
          {title}
        </h2>
        {aside}
      </header>
      {children}
    </section>
  );
}
