import type { ReactNode } from "react";
import { StrokeIcon } from "./stroke-icon.tsx";

/**
 * A page with nothing to list yet: a dashed box with an icon, a title, a paragraph that says what the
 * page is for, and what to do next (`actions`, rendered as given after the paragraph).
 * `icon` is the inside of a 24×24 outline svg (its paths), drawn at 40px in the house stroke.
 */
export function EmptyState({
  icon,
  title,
  children,
  actions,
  testId,
  padding = "py-14",
  textWidth = "max-w-lg",
}: {
  icon: ReactNode;
  title: ReactNode;
  children: ReactNode;
  actions?: ReactNode;
  testId: string;
  /** Vertical padding of the box. */
  padding?: "py-12" | "py-14";
  /** How wide the paragraph may grow. */
  textWidth?: "max-w-md" | "max-w-lg";
}) {
  return (
    <div
      className={`rounded-lg border border-dashed border-zinc-300 px-6 ${padding} text-center dark:border-zinc-700`}
      data-testid={testId}
    >
      <StrokeIcon size={40} strokeWidth={1.5} className="mx-auto text-zinc-400">
        {icon}
      </StrokeIcon>
      <h2 className="mt-3 text-base font-semibold">{title}</h2>
      <p className={`mx-auto mt-1 ${textWidth} text-sm text-zinc-600 dark:text-zinc-400`}>{children}</p>
      {actions}
    </div>
  );
}
