import clsx from "clsx";
import type { StepStatus } from "./run-state.ts";
import { CONNECTION_LABEL, type ConnectionState } from "./use-run-events.ts";

/** The same tones as the dashboard's run badges (components/projects/project-list.tsx). */
const RUN_TONE: Record<string, string> = {
  queued: "bg-zinc-100 text-zinc-700 dark:bg-zinc-800 dark:text-zinc-300",
  running: "bg-sky-50 text-sky-800 dark:bg-sky-950/60 dark:text-sky-200",
  succeeded: "bg-emerald-50 text-emerald-800 dark:bg-emerald-950/60 dark:text-emerald-200",
  failed: "bg-red-50 text-red-800 dark:bg-red-950/60 dark:text-red-200",
  dead: "bg-red-50 text-red-800 dark:bg-red-950/60 dark:text-red-200",
  cancelled: "bg-amber-50 text-amber-900 dark:bg-amber-950/60 dark:text-amber-200",
};

const DOT: Record<string, string> = {
  queued: "bg-zinc-400",
  running: "bg-sky-500",
  succeeded: "bg-emerald-500",
  failed: "bg-red-500",
  dead: "bg-red-500",
  cancelled: "bg-amber-500",
};

/** A run's status as a pill with a dot (pulsing while it runs). */
export function RunStatusBadge({
  status,
  size = "sm",
  testId,
}: {
  status: string;
  size?: "sm" | "md";
  testId?: string;
}) {
  return (
    <span
      className={clsx(
        "inline-flex shrink-0 items-center gap-1.5 rounded-full font-medium capitalize",
        size === "md" ? "px-2.5 py-1 text-sm" : "px-2 py-0.5 text-xs",
        RUN_TONE[status] ?? RUN_TONE.queued,
      )}
      data-testid={testId}
    >
      <span
        aria-hidden="true"
        className={clsx(
          "h-1.5 w-1.5 rounded-full",
          DOT[status] ?? DOT.queued,
          status === "running" && "animate-pulse",
        )}
      />
      {status}
    </span>
  );
}

const STEP_ICON_TONE: Record<StepStatus, string> = {
  pending: "text-zinc-400",
  running: "text-sky-600 dark:text-sky-400",
  succeeded: "text-emerald-600 dark:text-emerald-400",
  failed: "text-red-600 dark:text-red-400",
  cancelled: "text-amber-600 dark:text-amber-400",
  skipped: "text-zinc-400",
};

/** A 16px icon for a step's status, with its name for screen readers. */
export function StepStatusIcon({ status }: { status: StepStatus }) {
  const common = {
    width: 16,
    height: 16,
    viewBox: "0 0 24 24",
    fill: "none",
    stroke: "currentColor",
    strokeWidth: 2,
    strokeLinecap: "round" as const,
    strokeLinejoin: "round" as const,
    className: clsx("shrink-0", STEP_ICON_TONE[status], status === "running" && "animate-spin"),
    role: "img",
    "aria-label": status,
  };
  switch (status) {
    case "succeeded":
      return (
        <svg {...common}>
          <circle cx="12" cy="12" r="9" />
          <path d="m8 12 3 3 5-6" />
        </svg>
      );
    case "failed":
      return (
        <svg {...common}>
          <circle cx="12" cy="12" r="9" />
          <path d="m9 9 6 6M15 9l-6 6" />
        </svg>
      );
    case "cancelled":
      return (
        <svg {...common}>
          <circle cx="12" cy="12" r="9" />
          <path d="M8 12h8" />
        </svg>
      );
    case "running":
      return (
        <svg {...common}>
          <path d="M21 12a9 9 0 1 1-6.2-8.56" />
        </svg>
      );
    case "skipped":
      return (
        <svg {...common}>
          <circle cx="12" cy="12" r="9" strokeDasharray="3 3" />
          <path d="m10 9 3 3-3 3" />
        </svg>
      );
    default:
      return (
        <svg {...common}>
          <circle cx="12" cy="12" r="9" strokeDasharray="3 3" />
        </svg>
      );
  }
}

const CONNECTION_TONE: Record<ConnectionState, string> = {
  connecting: "bg-zinc-400",
  live: "bg-emerald-500 animate-pulse",
  polling: "bg-emerald-500",
  reconnecting: "bg-amber-500 animate-pulse",
  done: "bg-zinc-400",
  error: "bg-red-500",
};

/** Whether the page is following the run: "Live", "Reconnecting…", … */
export function ConnectionIndicator({ state, error }: { state: ConnectionState; error?: string | null }) {
  return (
    <span
      role="status"
      aria-live="polite"
      className="inline-flex items-center gap-1.5 text-xs font-medium text-zinc-600 dark:text-zinc-400"
      data-testid="connection"
      data-state={state}
      title={error ?? undefined}
    >
      <span aria-hidden="true" className={clsx("h-2 w-2 rounded-full", CONNECTION_TONE[state])} />
      {state === "error" && error ? `Disconnected: ${error}` : CONNECTION_LABEL[state]}
    </span>
  );
}
