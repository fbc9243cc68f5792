/**
 * Notifications over tRPC and REST (`/api/v1/notifications`). Reading needs `runs:read`, marking read
 * `runs:write` (they are about runs). The live stream, `GET /api/v1/notifications/stream`, is served by
 * notifications.http.server.ts.
 */

import { z } from "zod";
import { router, scopedProcedure } from "#app/trpc/init.server.ts";
import { listNotifications, markNotificationsRead } from "./notifications.server.ts";
import { ZListNotificationsInput, ZMarkReadInput, ZNotificationPage } from "./notifications.types.ts";

const tags = ["notifications"];

export const notificationsRouter = router({
  list: scopedProcedure("runs:read")
    .meta({
      openapi: {
        method: "GET",
        path: "/notifications",
        tags,
        summary:
          "Your notifications (runs that finished), newest first, with the unread count (?unreadOnly, ?limit, ?cursor)",
      },
    })
    .input(ZListNotificationsInput)
    .output(ZNotificationPage)
    .query(({ ctx, input }) =>
      listNotifications(
        { userId: ctx.auth.userId, limit: input.limit, cursor: input.cursor, unreadOnly: input.unreadOnly },
        { db: ctx.db },
      ),
    ),

  markRead: scopedProcedure("runs:write")
    .meta({
      openapi: {
        method: "POST",
        path: "/notifications/read",
        tags,
        summary: "Mark notifications read ({ids}; without ids: all of them); returns the unread count",
      },
    })
    .input(ZMarkReadInput)
    .output(z.object({ unreadCount: z.number().int() }))
    .mutation(({ ctx, input }) =>
      markNotificationsRead({ userId: ctx.auth.userId, ids: input.ids }, { db: ctx.db }),
    ),
});
