/**
 * Pure helpers of the notifications UI: how a kind looks, relative times, the stream's payload, where the
 * user is. Browser-safe, no React.
 */
import { z } from "zod";
import type { NotificationKind, NotificationView } from "#app/modules/notifications/notifications.types.ts";

/** A notification as the list and the stream give it (dates as Date). */
export type NotificationItem = NotificationView;
export type { NotificationKind };

export type KindIcon = "check" | "cross" | "stop" | "alert";

export type KindMeta = {
  /** Short status word, for screen readers and badges. */
  label: string;
  icon: KindIcon;
  /** Classes of the round icon chip (background + foreground, light and dark). */
  chip: string;
  /** Classes of the toast's coloured edge (repeated under dark:, or the dark border colour would win). */
  edge: string;
};

const KIND_META: Record<NotificationKind, KindMeta> = {
  run_succeeded: {
    label: "Succeeded",
    icon: "check",
    chip: "bg-emerald-100 text-emerald-700 dark:bg-emerald-950 dark:text-emerald-300",
    edge: "border-l-emerald-500 dark:border-l-emerald-500",
  },
  run_failed: {
    label: "Failed",
    icon: "cross",
    chip: "bg-red-100 text-red-700 dark:bg-red-950 dark:text-red-300",
    edge: "border-l-red-500 dark:border-l-red-500",
  },
  run_cancelled: {
    label: "Cancelled",
    icon: "stop",
    chip: "bg-amber-100 text-amber-800 dark:bg-amber-950 dark:text-amber-300",
    edge: "border-l-amber-500 dark:border-l-amber-500",
  },
  run_dead: {
    label: "Stopped",
    icon: "alert",
    chip: "bg-red-100 text-red-700 dark:bg-red-950 dark:text-red-300",
    edge: "border-l-red-500 dark:border-l-red-500",
  },
};

/** How a kind looks. A kind this build does not know yet (a newer server) gets a neutral look. */
export function kindMeta(kind: string): KindMeta {
  return (
    KIND_META[kind as NotificationKind] ?? {
      label: "Update",
      icon: "alert",
      chip: "bg-zinc-100 text-zinc-700 dark:bg-zinc-800 dark:text-zinc-300",
      edge: "border-l-zinc-400 dark:border-l-zinc-400",
    }
  );
}

/** Whether the kind reports a problem: its toast is announced the same way but stays in the failure colour. */
export function isFailureKind(kind: string): boolean {
  return kind === "run_failed" || kind === "run_dead";
}

const relative = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
const sameYear = new Intl.DateTimeFormat("en-US", { month: "short", day: "numeric" });
const otherYear = new Intl.DateTimeFormat("en-US", { month: "short", day: "numeric", year: "numeric" });

/**
 * "just now", "5 minutes ago", "3 hours ago", "yesterday", "4 days ago", then a date ("Mar 5", or
 * "Mar 5, 2024" in another year). A time slightly in the future (clocks disagree) reads "just now".
 */
export function formatRelativeTime(value: Date | string, now: Date = new Date()): string {
  const date = value instanceof Date ? value : new Date(value);
  const ms = now.getTime() - date.getTime();
  if (!Number.isFinite(ms)) return "";
  const seconds = Math.round(ms / 1000);
  if (seconds < 45) return "just now";
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return relative.format(-Math.max(1, minutes), "minute");
  const hours = Math.round(minutes / 60);
  if (hours < 24) return relative.format(-hours, "hour");
  const days = Math.round(hours / 24);
  if (days < 7) return relative.format(-days, "day");
  return (date.getFullYear() === now.getFullYear() ? sameYear : otherYear).format(date);
}

/** The full date and time, for a tooltip next to a relative time. */
export function formatAbsoluteTime(value: Date | string): string {
  const date = value instanceof Date ? value : new Date(value);
  return date.toLocaleString("en-US", { dateStyle: "medium", timeStyle: "short" });
}

/** The bell's accessible name: "Notifications, 3 unread". */
export function bellLabel(unread: number): string {
  return `Notifications, ${unread} unread`;
}

/** The badge text: the count, capped ("99+") so it fits the bell. */
export function badgeText(unread: number, cap = 99): string {
  return unread > cap ? `${cap}+` : String(unread);
}

const ZStreamNotification = z.object({
  id: z.string().min(1),
  seq: z.coerce.number().int(),
  kind: z.string(),
  title: z.string(),
  body: z.string().nullable().optional(),
  runId: z.string().nullable().optional(),
  readAt: z.coerce.date().nullable().optional(),
  createdAt: z.coerce.date(),
});

/**
 * The `data` of a stream `notification` event (JSON, dates as ISO strings) as a NotificationItem, or null
 * when it is not one (bad JSON, missing fields): a malformed event must not break the page.
 */
export function parseStreamNotification(data: string): NotificationItem | null {
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return null;
  }
  const parsed = ZStreamNotification.safeParse(json);
  if (!parsed.success || Number.isNaN(parsed.data.createdAt.getTime())) return null;
  const item = parsed.data;
  return {
    id: item.id,
    seq: item.seq,
    kind: item.kind as NotificationKind,
    title: item.title,
    body: item.body ?? null,
    runId: item.runId ?? null,
    readAt: item.readAt ?? null,
    createdAt: item.createdAt,
  };
}

/** The page of a run. */
export function runHref(runId: string): string {
  return `/runs/${encodeURIComponent(runId)}`;
}

/** Whether `pathname` is the page of run `runId` (or one of its sub-pages): it shows the outcome itself. */
export function isOnRunPage(pathname: string, runId: string | null): boolean {
  if (!runId) return false;
  const base = runHref(runId);
  return pathname === base || pathname.startsWith(`${base}/`);
}

/**
 * Add a toast to the stack: newest last, at most `max` (the oldest leave first; the list keeps them all).
 * A notification already shown (same id: a replay after a reconnect) is not shown twice.
 */
export function pushToast<T extends { id: string }>(stack: readonly T[], toast: T, max = 3): T[] {
  if (stack.some((t) => t.id === toast.id)) return [...stack];
  const next = [...stack, toast];
  return next.length > max ? next.slice(next.length - max) : next;
}

/** One page of `notifications.list`. */
export type NotificationPage = {
  items: NotificationItem[];
  unreadCount: number;
  nextCursor: string | null;
};

/** What React Query holds for `notifications.list`: one page, or the pages of an infinite query. */
export type CachedNotifications = NotificationPage | { pages: NotificationPage[]; pageParams: unknown[] };

/**
 * The cached list after marking `ids` read (all when `ids` is undefined), before the server answers: the
 * items get `readAt`, and the unread count drops by the number that were unread (never below zero; the
 * refetch that follows sets the exact count).
 */
export function markReadInCache<T extends CachedNotifications | undefined>(
  data: T,
  ids: readonly string[] | undefined,
  now: Date = new Date(),
): T {
  if (!data) return data;
  const cached: CachedNotifications = data;
  const pages = "pages" in cached ? cached.pages : [cached];
  const wanted = ids ? new Set(ids) : null;
  let newlyRead = 0;
  const marked = pages.map((page) => ({
    ...page,
    items: page.items.map((item) => {
      if (item.readAt || (wanted && !wanted.has(item.id))) return item;
      newlyRead += 1;
      return { ...item, readAt: now };
    }),
  }));
  const unread = wanted ? Math.max(0, (pages[0]?.unreadCount ?? 0) - newlyRead) : 0;
  const next = marked.map((page) => ({ ...page, unreadCount: unread }));
  return ("pages" in cached ? { ...cached, pages: next } : next[0]) as T;
}

/** The unread count and the items, newest first, of the cached list (one page or several). */
export function flattenPages(data: CachedNotifications | undefined): {
  items: NotificationItem[];
  unreadCount: number;
} {
  if (!data) return { items: [], unreadCount: 0 };
  const pages = "pages" in data ? data.pages : [data];
  const seen = new Set<string>();
  const items: NotificationItem[] = [];
  for (const page of pages) {
    for (const item of page.items) {
      // A notification that arrived between two page loads shifts the pages: skip the repeat.
      if (seen.has(item.id)) continue;
      seen.add(item.id);
      items.push(item);
    }
  }
  return { items, unreadCount: pages[0]?.unreadCount ?? 0 };
}
