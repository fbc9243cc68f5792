import clsx from "clsx";

/** `add` / `del` / unchanged (`same`) lines of a diff, and `hunk` headers (`@@ -1,3 +1,4 @@`). */
export type DiffLineKind = "add" | "del" | "same" | "hunk";

/**
 * One line of a unified diff as the app shows it everywhere: a +/− gutter, tinted background, and the
 * change spelled out for screen readers.
 */
export function DiffLine({ kind, text }: { kind: DiffLineKind; text: string }) {
  return (
    <div
      className={clsx(
        "flex whitespace-pre-wrap break-words",
        kind === "add" && "bg-emerald-50 text-emerald-900 dark:bg-emerald-950/40 dark:text-emerald-200",
        kind === "del" && "bg-red-50 text-red-900 dark:bg-red-950/40 dark:text-red-200",
        kind === "hunk" && "bg-zinc-50 text-zinc-500 dark:bg-zinc-900 dark:text-zinc-400",
      )}
    >
      <span aria-hidden="true" className="w-6 shrink-0 text-center text-zinc-400 select-none">
        {kind === "add" ? "+" : kind === "del" ? "−" : " "}
      </span>
      <span className="sr-only">{kind === "add" ? "Added: " : kind === "del" ? "Removed: " : ""}</span>
      <span className="min-w-0 flex-1 pr-2">{text || " "}</span>
    </div>
  );
}
