/**
 * The caller's notifications: list (newest first, cursor on seq), unread count, mark read, and the reads of
 * the notification stream. Every query filters by the caller's userId.
 */
import type { Db } from "#app/db/client.server.ts";
import { isUuid, parseInput } from "#app/lib/use-case.ts";
import {
  MAX_NOTIFICATIONS_PAGE,
  type NotificationKind,
  type NotificationPage,
  type NotificationView,
  ZListNotificationsInput,
  ZMarkReadInput,
  ZNotificationKind,
} from "./notifications.types.ts";

export type NotificationsDeps = { db: Db; now?: () => Date };

const DEFAULT_PAGE = 20;

type Row = {
  id: string;
  seq: bigint;
  kind: string;
  title: string;
  body: string | null;
  runId: string | null;
  readAt: Date | null;
  createdAt: Date;
};

const SELECT = {
  id: true,
  seq: true,
  kind: true,
  title: true,
  body: true,
  runId: true,
  readAt: true,
  createdAt: true,
} as const;

function toView(row: Row): NotificationView {
  const kind = ZNotificationKind.safeParse(row.kind);
  return {
    id: row.id,
    seq: Number(row.seq),
    kind: kind.success ? kind.data : ("run_failed" satisfies NotificationKind),
    title: row.title,
    body: row.body,
    runId: row.runId,
    readAt: row.readAt,
    createdAt: row.createdAt,
  };
}

export async function countUnread(db: Db, userId: string): Promise<number> {
  if (!isUuid(userId)) return 0;
  return db.notification.count({ where: { userId, readAt: null } });
}

export async function listNotifications(
  args: { userId: string; limit?: number | string; cursor?: string; unreadOnly?: boolean | string },
  { db }: NotificationsDeps,
): Promise<NotificationPage> {
  const input = parseInput(ZListNotificationsInput, {
    limit: args.limit,
    cursor: args.cursor,
    unreadOnly: args.unreadOnly,
  });
  if (!isUuid(args.userId)) return { items: [], unreadCount: 0, nextCursor: null };
  const limit = input.limit ?? DEFAULT_PAGE;
  const rows = await db.notification.findMany({
    where: {
      userId: args.userId,
      ...(input.unreadOnly ? { readAt: null } : {}),
      ...(input.cursor ? { seq: { lt: BigInt(input.cursor) } } : {}),
    },
    orderBy: { seq: "desc" },
    take: limit + 1,
    select: SELECT,
  });
  const page = rows.slice(0, limit);
  return {
    items: page.map(toView),
    unreadCount: await countUnread(db, args.userId),
    nextCursor: rows.length > limit ? String(page.at(-1)?.seq ?? "") || null : null,
  };
}

/** Mark the given notifications of the caller read (all of them without ids); ids of others are ignored. */
export async function markNotificationsRead(
  args: { userId: string; ids?: string[] },
  deps: NotificationsDeps,
): Promise<{ unreadCount: number }> {
  const input = parseInput(ZMarkReadInput, { ids: args.ids });
  if (!isUuid(args.userId)) return { unreadCount: 0 };
  await deps.db.notification.updateMany({
    where: { userId: args.userId, readAt: null, ...(input.ids ? { id: { in: input.ids } } : {}) },
    data: { readAt: deps.now?.() ?? new Date() },
  });
  return { unreadCount: await countUnread(deps.db, args.userId) };
}

/** The caller's notifications after `afterSeq`, oldest first (the stream's read). */
export async function readNotificationsAfter(
  db: Db,
  { userId, afterSeq, limit = MAX_NOTIFICATIONS_PAGE }: { userId: string; afterSeq: number; limit?: number },
): Promise<NotificationView[]> {
  const rows = await db.notification.findMany({
    where: { userId, seq: { gt: BigInt(afterSeq) } },
    orderBy: { seq: "asc" },
    take: limit,
    select: SELECT,
  });
  return rows.map(toView);
}

/** The caller's highest notification seq (0 without any): where a stream without Last-Event-ID starts. */
export async function latestNotificationSeq(db: Db, userId: string): Promise<number> {
  const row = await db.notification.findFirst({
    where: { userId },
    orderBy: { seq: "desc" },
    select: { seq: true },
  });
  return row ? Number(row.seq) : 0;
}
