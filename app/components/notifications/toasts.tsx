import { Link, useLocation } from "@remix-run/react";
import clsx from "clsx";
import { useCallback, useEffect, useRef, useState } from "react";
import { StrokeIcon } from "#app/components/ui/stroke-icon.tsx";
import { isOnRunPage, kindMeta, type NotificationItem, pushToast, runHref } from "./format.ts";
import { KindIcon } from "./notification-center.tsx";
import { type StreamState, useNotificationStream } from "./use-notifications.ts";

/** How long a toast stays, unless the pointer or the keyboard is on it. */
export const TOAST_MS = 6_000;
/** Toasts shown at once; older ones leave (they stay in the notifications list). */
export const MAX_TOASTS = 3;

/** Whether the tab is visible: a toast does not run out while nobody can see it. */
function usePageVisible(): boolean {
  const [visible, setVisible] = useState(true);
  useEffect(() => {
    const update = () => setVisible(document.visibilityState !== "hidden");
    update();
    document.addEventListener("visibilitychange", update);
    return () => document.removeEventListener("visibilitychange", update);
  }, []);
  return visible;
}

function Toast({
  item,
  onDismiss,
  duration,
  pageVisible,
}: {
  item: NotificationItem;
  onDismiss: (id: string) => void;
  duration: number;
  pageVisible: boolean;
}) {
  const meta = kindMeta(item.kind);
  const [hovered, setHovered] = useState(false);
  const [focused, setFocused] = useState(false);
  const remaining = useRef(duration);
  const paused = hovered || focused || !pageVisible;

  // The timer runs only while nobody is reading; a pause keeps the time left.
  useEffect(() => {
    if (paused) return;
    const started = Date.now();
    const timer = setTimeout(() => onDismiss(item.id), Math.max(0, remaining.current));
    return () => {
      clearTimeout(timer);
      remaining.current -= Date.now() - started;
    };
  }, [paused, item.id, onDismiss]);

  return (
    <li
      data-testid="notification-toast"
      data-kind={item.kind}
      onMouseEnter={() => setHovered(true)}
      onMouseLeave={() => setHovered(false)}
      onFocus={() => setFocused(true)}
      onBlur={(event) => {
        if (!event.currentTarget.contains(event.relatedTarget as Node | null)) setFocused(false);
      }}
      onKeyDown={(event) => {
        if (event.key === "Escape") onDismiss(item.id);
      }}
      className={clsx(
        "pointer-events-auto flex w-full gap-3 rounded-lg border border-l-4 border-zinc-200 bg-white p-3 pr-2 shadow-lg ring-1 ring-black/5 transition-[opacity,translate] duration-200 ease-out dark:border-zinc-700 dark:bg-zinc-900 dark:ring-white/5",
        "starting:translate-y-2 starting:opacity-0 motion-reduce:transition-none",
        meta.edge,
      )}
    >
      <span
        className={clsx("mt-0.5 flex size-7 shrink-0 items-center justify-center rounded-full", meta.chip)}
        aria-hidden="true"
      >
        <KindIcon icon={meta.icon} />
      </span>
      <div className="min-w-0 flex-1">
        <p className="text-sm font-medium text-zinc-900 dark:text-zinc-50">
          <span className="sr-only">{meta.label}: </span>
          {item.title}
        </p>
        {item.body ? (
          <p
            className="mt-0.5 line-clamp-3 text-xs break-words text-zinc-600 dark:text-zinc-400"
            title={item.body}
          >
            {item.body}
          </p>
        ) : null}
        {item.runId ? (
          <Link
            to={runHref(item.runId)}
            onClick={() => onDismiss(item.id)}
            className="mt-1.5 inline-flex rounded text-xs font-medium text-brand-600 hover:underline dark:text-brand-100"
          >
            View run
          </Link>
        ) : null}
      </div>
      <button
        type="button"
        onClick={() => onDismiss(item.id)}
        aria-label={`Dismiss: ${item.title}`}
        className="flex size-7 shrink-0 items-center justify-center rounded-md text-zinc-400 hover:bg-zinc-100 hover:text-zinc-700 dark:hover:bg-zinc-800 dark:hover:text-zinc-200"
      >
        <StrokeIcon size={14}>
          <path d="M6 6l12 12M18 6L6 18" />
        </StrokeIcon>
      </button>
    </li>
  );
}

/**
 * The toast stack, bottom-right: newest at the bottom, at most `max`. Its live region exists before any
 * toast so screen readers announce the ones that arrive (politely, after what they are reading).
 */
export function ToastStack({
  toasts,
  onDismiss,
  duration = TOAST_MS,
  streamState,
}: {
  toasts: readonly NotificationItem[];
  onDismiss: (id: string) => void;
  duration?: number;
  /** Exposed as `data-stream` for tests and debugging. */
  streamState?: StreamState;
}) {
  const pageVisible = usePageVisible();
  return (
    <section
      aria-label="Run notifications"
      aria-live="polite"
      data-stream={streamState}
      className="pointer-events-none fixed right-4 bottom-4 z-50 w-[22rem] max-w-[calc(100vw-2rem)]"
    >
      <ol className="flex flex-col gap-2">
        {toasts.map((item) => (
          <Toast
            key={item.id}
            item={item}
            onDismiss={onDismiss}
            duration={duration}
            pageVisible={pageVisible}
          />
        ))}
      </ol>
    </section>
  );
}

/**
 * Mounted once in the signed-in layout: listens to the user's notification stream and shows a toast for
 * each run that finishes, except the run whose page is open (that page shows the outcome itself; the bell
 * still counts it).
 */
export function NotificationToasts() {
  const [toasts, setToasts] = useState<NotificationItem[]>([]);
  const location = useLocation();
  const pathname = useRef(location.pathname);
  pathname.current = location.pathname;

  const dismiss = useCallback((id: string) => setToasts((current) => current.filter((t) => t.id !== id)), []);
  // Opening a run's page (from the toast or elsewhere) retires its toast: the page says it all.
  useEffect(() => {
    setToasts((current) => {
      const kept = current.filter((t) => !isOnRunPage(location.pathname, t.runId));
      return kept.length === current.length ? current : kept;
    });
  }, [location.pathname]);
  const streamState = useNotificationStream({
    enabled: true,
    onNotification: (item) => {
      if (isOnRunPage(pathname.current, item.runId)) return;
      setToasts((current) => pushToast(current, item, MAX_TOASTS));
    },
  });

  return <ToastStack toasts={toasts} onDismiss={dismiss} streamState={streamState} />;
}
