import type { ReactNode } from "react";

/**
 * A 24×24 line icon drawn in the text colour (`stroke="currentColor"`), decorative (aria-hidden): the
 * shape is its children (`<path d="…" />`). The label belongs to the button or link around it.
 */
export function StrokeIcon({
  size,
  strokeWidth = 2,
  round = false,
  className,
  children,
}: {
  size: number | string;
  strokeWidth?: number | string;
  /** Round line caps and joins. */
  round?: boolean;
  className?: string;
  children: ReactNode;
}) {
  return (
    <svg
      width={size}
      height={size}
      viewBox="0 0 24 24"
      fill="none"
      stroke="currentColor"
      strokeWidth={strokeWidth}
      {...(round ? { strokeLinecap: "round" as const, strokeLinejoin: "round" as const } : {})}
      aria-hidden="true"
      className={className}
    >
      {children}
    </svg>
  );
}
