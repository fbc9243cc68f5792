/**
 * Notifications as the API and the browser see them. Browser-safe (zod only).
 * A notification is written when a run the user started reaches a terminal status (a database trigger, see
 * prisma/migrations/*_notify_finished_runs) and streamed to the user's open pages.
 */
import { z } from "zod";

export const NOTIFICATION_KINDS = ["run_succeeded", "run_failed", "run_cancelled", "run_dead"] as const;
export const ZNotificationKind = z.enum(NOTIFICATION_KINDS);
export type NotificationKind = z.infer<typeof ZNotificationKind>;

export const ZNotification = z.object({
  id: z.string(),
  /** Increases with every notification (across users): the order, and the stream's event id. */
  seq: z.number().int(),
  kind: ZNotificationKind,
  title: z.string(),
  /** The error message of a failed or dead run. */
  body: z.string().nullable(),
  runId: z.string().nullable(),
  readAt: z.date().nullable(),
  createdAt: z.date(),
});
export type NotificationView = z.infer<typeof ZNotification>;

/** A notification as the stream sends it (JSON: dates as ISO strings). */
export type StreamedNotification = Omit<NotificationView, "readAt" | "createdAt"> & {
  readAt: string | null;
  createdAt: string;
};

export const MAX_NOTIFICATIONS_PAGE = 50;

export const ZListNotificationsInput = z.object({
  limit: z
    .union([z.number(), z.string().regex(/^\d+$/, "must be a whole number")])
    .transform((value) => Number(value))
    .pipe(z.number().int().min(1).max(MAX_NOTIFICATIONS_PAGE))
    .optional(),
  /** `nextCursor` of the previous page. */
  cursor: z
    .string()
    .regex(/^\d{1,18}$/, "Invalid cursor: pass the nextCursor of the previous page")
    .optional(),
  unreadOnly: z
    .union([z.boolean(), z.enum(["true", "false"])])
    .transform((value) => value === true || value === "true")
    .optional(),
});
export type TListNotificationsInput = z.input<typeof ZListNotificationsInput>;

export const ZNotificationPage = z.object({
  items: z.array(ZNotification),
  unreadCount: z.number().int(),
  /** Pass as `cursor` for older ones; null on the last page. */
  nextCursor: z.string().nullable(),
});
export type NotificationPage = z.infer<typeof ZNotificationPage>;

export const ZMarkReadInput = z.object({
  /** The notifications to mark read; omitted: all of them. */
  ids: z
    .array(z.uuid({ message: "ids must be UUIDs" }))
    .max(200)
    .optional(),
});
