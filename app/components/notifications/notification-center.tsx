import * as DropdownMenu from "@radix-ui/react-dropdown-menu";
import { Link } from "@remix-run/react";
import { useInfiniteQuery, useMutation, useQueryClient } from "@tanstack/react-query";
import clsx from "clsx";
import { type ReactNode, useEffect, useState } from "react";
import { StrokeIcon } from "#app/components/ui/stroke-icon.tsx";
import { useTRPC } from "#app/trpc/client.ts";
import {
  badgeText,
  bellLabel,
  type CachedNotifications,
  flattenPages,
  formatAbsoluteTime,
  formatRelativeTime,
  type KindIcon as KindIconName,
  kindMeta,
  markReadInCache,
  type NotificationItem,
  runHref,
} from "./format.ts";

/** Notifications per page of the panel (the API allows 1–50). */
const PAGE_SIZE = 20;

/** The status glyph of a kind, drawn in the current colour. */
export function KindIcon({ icon, size = 14 }: { icon: KindIconName; size?: number }) {
  const paths: Record<KindIconName, ReactNode> = {
    check: <path d="M5 12.5l4.5 4.5L19 7.5" />,
    cross: <path d="M7 7l10 10M17 7L7 17" />,
    stop: <rect x="7" y="7" width="10" height="10" rx="1.5" />,
    alert: <path d="M12 7v6M12 16.5v.5" />,
  };
  return (
    <StrokeIcon size={size} strokeWidth={2.5} round>
      {paths[icon]}
    </StrokeIcon>
  );
}

function BellIcon() {
  return (
    <StrokeIcon size={18} round>
      <path d="M6 8a6 6 0 1 1 12 0c0 7 3 9 3 9H3s3-2 3-9" />
      <path d="M10.3 21a1.94 1.94 0 0 0 3.4 0" />
    </StrokeIcon>
  );
}

/** The time now, refreshed every `everyMs` while `active`: relative times stay true while the panel is open. */
function useNow(active: boolean, everyMs = 30_000): Date {
  const [now, setNow] = useState(() => new Date());
  useEffect(() => {
    if (!active) return;
    setNow(new Date());
    const timer = setInterval(() => setNow(new Date()), everyMs);
    return () => clearInterval(timer);
  }, [active, everyMs]);
  return now;
}

const ITEM =
  "flex w-full cursor-default gap-3 rounded-md px-2.5 py-2 text-left outline-none select-none data-[highlighted]:bg-zinc-100 dark:data-[highlighted]:bg-zinc-800";
const ACTION =
  "cursor-default rounded px-2 py-1 text-xs font-medium text-brand-600 outline-none select-none data-[disabled]:pointer-events-none data-[disabled]:text-zinc-400 data-[highlighted]:bg-brand-50 dark:text-brand-100 dark:data-[disabled]:text-zinc-600 dark:data-[highlighted]:bg-zinc-800";

function NotificationRow({
  item,
  now,
  onRead,
}: {
  item: NotificationItem;
  now: Date;
  onRead: (id: string) => void;
}) {
  const meta = kindMeta(item.kind);
  const unread = item.readAt === null;
  const content = (
    <>
      <span
        className={clsx("mt-0.5 flex size-7 shrink-0 items-center justify-center rounded-full", meta.chip)}
        aria-hidden="true"
      >
        <KindIcon icon={meta.icon} />
      </span>
      <span className="min-w-0 flex-1">
        <span
          className={clsx(
            "block text-sm break-words",
            unread
              ? "font-semibold text-zinc-900 dark:text-zinc-50"
              : "font-medium text-zinc-700 dark:text-zinc-300",
          )}
        >
          <span className="sr-only">
            {unread ? "Unread, " : ""}
            {meta.label}:{" "}
          </span>
          {item.title}
        </span>
        {item.body ? (
          <span
            className="mt-0.5 line-clamp-3 block text-xs break-words text-zinc-600 dark:text-zinc-400"
            title={item.body}
          >
            {item.body}
          </span>
        ) : null}
        <time
          dateTime={item.createdAt.toISOString()}
          title={formatAbsoluteTime(item.createdAt)}
          className="mt-1 block text-xs text-zinc-500 dark:text-zinc-500"
        >
          {formatRelativeTime(item.createdAt, now)}
        </time>
      </span>
      <span
        className={clsx(
          "mt-2 size-2 shrink-0 rounded-full",
          unread ? "bg-brand-600 dark:bg-brand-500" : "bg-transparent",
        )}
        aria-hidden="true"
      />
    </>
  );
  const onSelect = () => {
    if (unread) onRead(item.id);
  };
  return item.runId ? (
    <DropdownMenu.Item asChild onSelect={onSelect}>
      <Link to={runHref(item.runId)} className={ITEM} data-testid="notification-item" data-unread={unread}>
        {content}
      </Link>
    </DropdownMenu.Item>
  ) : (
    <DropdownMenu.Item
      onSelect={onSelect}
      className={ITEM}
      data-testid="notification-item"
      data-unread={unread}
    >
      {content}
    </DropdownMenu.Item>
  );
}

/**
 * The bell in the header: the unread count on a badge, and a menu of recent notifications (newest first,
 * older pages on demand). Choosing one opens its run and marks it read; "Mark all read" clears the badge.
 * The list is refreshed by the notification stream (see use-notifications.ts) and on window focus.
 */
export function NotificationCenter() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [open, setOpen] = useState(false);
  const now = useNow(open);
  const list = useInfiniteQuery(
    trpc.notifications.list.infiniteQueryOptions(
      { limit: PAGE_SIZE },
      { getNextPageParam: (page) => page.nextCursor ?? undefined },
    ),
  );
  const { items, unreadCount } = flattenPages(list.data);

  const listFilter = trpc.notifications.list.pathFilter();
  const markRead = useMutation(
    trpc.notifications.markRead.mutationOptions({
      // The badge and the rows change at once; the refetch after the answer sets the exact count.
      onMutate: async ({ ids }) => {
        await queryClient.cancelQueries(listFilter);
        const previous = queryClient.getQueriesData<CachedNotifications>(listFilter);
        queryClient.setQueriesData<CachedNotifications>(listFilter, (data) => markReadInCache(data, ids));
        return { previous };
      },
      onError: (_error, _input, context) => {
        for (const [key, data] of context?.previous ?? []) queryClient.setQueryData(key, data);
      },
      onSettled: () => queryClient.invalidateQueries(listFilter),
    }),
  );

  return (
    <DropdownMenu.Root open={open} onOpenChange={setOpen}>
      <DropdownMenu.Trigger
        className="relative inline-flex h-8 w-8 items-center justify-center rounded-md text-zinc-600 hover:bg-zinc-100 hover:text-zinc-900 data-[state=open]:bg-zinc-100 data-[state=open]:text-zinc-900 dark:text-zinc-400 dark:hover:bg-zinc-900 dark:hover:text-zinc-100 dark:data-[state=open]:bg-zinc-900 dark:data-[state=open]:text-zinc-100"
        aria-label={bellLabel(unreadCount)}
        data-testid="notification-bell"
      >
        <BellIcon />
        {unreadCount > 0 ? (
          <span
            className="absolute -top-0.5 -right-0.5 flex h-4 min-w-4 items-center justify-center rounded-full bg-red-600 px-1 text-[10px] leading-none font-semibold text-white tabular-nums ring-2 ring-white dark:ring-zinc-950"
            aria-hidden="true"
            data-testid="notification-badge"
          >
            {badgeText(unreadCount)}
          </span>
        ) : null}
      </DropdownMenu.Trigger>
      <DropdownMenu.Portal>
        <DropdownMenu.Content
          align="end"
          sideOffset={6}
          collisionPadding={16}
          aria-label="Notifications"
          className="z-50 flex w-96 max-w-[calc(100vw-2rem)] flex-col rounded-lg border border-zinc-200 bg-white text-sm shadow-lg dark:border-zinc-800 dark:bg-zinc-900"
          data-testid="notification-panel"
        >
          <div className="flex items-center justify-between gap-3 border-b border-zinc-200 px-3 py-2 dark:border-zinc-800">
            <DropdownMenu.Label className="font-semibold text-zinc-900 dark:text-zinc-50">
              Notifications
              {unreadCount > 0 ? (
                <span className="ml-2 text-xs font-normal text-zinc-500 dark:text-zinc-400">
                  {unreadCount} unread
                </span>
              ) : null}
            </DropdownMenu.Label>
            <DropdownMenu.Item
              className={ACTION}
              disabled={unreadCount === 0}
              onSelect={(event) => {
                // Stay open: the reader sees the rows turn read.
                event.preventDefault();
                markRead.mutate({});
              }}
            >
              Mark all read
            </DropdownMenu.Item>
          </div>
          {markRead.isError ? (
            <p role="alert" className="px-3 pt-2 text-xs text-red-700 dark:text-red-300">
              Could not mark as read. Try again.
            </p>
          ) : null}
          <div className="max-h-[min(28rem,70vh)] overflow-y-auto p-1">
            {list.isPending ? (
              <div role="status" aria-label="Loading notifications" className="space-y-1 p-1">
                {[0, 1, 2].map((row) => (
                  <div key={row} className="flex gap-3 px-1.5 py-2">
                    <div className="size-7 animate-pulse rounded-full bg-zinc-100 dark:bg-zinc-800" />
                    <div className="flex-1 space-y-1.5">
                      <div className="h-3.5 w-3/4 animate-pulse rounded bg-zinc-100 dark:bg-zinc-800" />
                      <div className="h-3 w-1/3 animate-pulse rounded bg-zinc-100 dark:bg-zinc-800" />
                    </div>
                  </div>
                ))}
              </div>
            ) : list.isError && items.length === 0 ? (
              <div className="px-3 py-6 text-center">
                <p role="alert" className="text-sm text-zinc-700 dark:text-zinc-300">
                  Notifications could not be loaded.
                </p>
                <DropdownMenu.Item
                  className={clsx(ACTION, "mt-2 inline-block")}
                  onSelect={(event) => {
                    event.preventDefault();
                    void list.refetch();
                  }}
                >
                  Try again
                </DropdownMenu.Item>
              </div>
            ) : items.length === 0 ? (
              <div className="px-6 py-8 text-center" data-testid="notifications-empty">
                <span className="mx-auto flex size-10 items-center justify-center rounded-full bg-zinc-100 text-zinc-400 dark:bg-zinc-800 dark:text-zinc-500">
                  <BellIcon />
                </span>
                <p className="mt-3 font-medium text-zinc-900 dark:text-zinc-100">No notifications yet</p>
                <p className="mt-1 text-xs text-zinc-500 dark:text-zinc-400">
                  When a run you started finishes or fails, you will hear about it here, wherever you are in
                  the app.
                </p>
              </div>
            ) : (
              <DropdownMenu.Group>
                {items.map((item) => (
                  <NotificationRow
                    key={item.id}
                    item={item}
                    now={now}
                    onRead={(id) => markRead.mutate({ ids: [id] })}
                  />
                ))}
              </DropdownMenu.Group>
            )}
          </div>
          {list.hasNextPage ? (
            <div className="border-t border-zinc-200 p-1 text-center dark:border-zinc-800">
              <DropdownMenu.Item
                className={clsx(ACTION, "block w-full py-1.5")}
                disabled={list.isFetchingNextPage}
                onSelect={(event) => {
                  event.preventDefault();
                  void list.fetchNextPage();
                }}
              >
                {list.isFetchingNextPage ? "Loading…" : "Show older"}
              </DropdownMenu.Item>
            </div>
          ) : null}
        </DropdownMenu.Content>
      </DropdownMenu.Portal>
    </DropdownMenu.Root>
  );
}
