/**
 *   GET /api/v1/notifications/stream     runs:read   Server-Sent Events
 *
 * The signed-in user's new notifications, live, on any page:
 *
 *   id: <notification seq>
 *   event: notification
 *   data: <the notification as JSON>
 *
 * Without `Last-Event-ID` the stream starts with what arrives after it opened (the page loads the list
 * itself); with it, it first sends what the client missed. The process's event hub (the same LISTEN
 * connection as the run event streams) wakes the stream when a trigger has written a notification for this
 * user; the stream then reads the table after the last seq it sent, so nothing is lost or sent twice
 * whichever process wrote it. `: ping` every 15 s keeps proxies from closing it and re-reads as a safety net.
 */
import express, { type Request } from "express";
import type { Db } from "#app/db/client.server.ts";
import type { Logger } from "#app/lib/logger.server.ts";
import type { AuthRuntime } from "#app/modules/auth/runtime.server.ts";
import type { EventHub } from "#app/modules/runs/event-hub.server.ts";
import { jsonError } from "#app/server/api-errors.server.ts";
import { principalOf, requireApiScope } from "#app/server/guards.server.ts";
import { bindStreamLifetime, serialPump, startEventStream } from "#app/server/sse.server.ts";
import { latestNotificationSeq, readNotificationsAfter } from "./notifications.server.ts";
import { MAX_NOTIFICATIONS_PAGE } from "./notifications.types.ts";

const HEARTBEAT_MS = 15_000;
const RETRY_MS = 3_000;
const SEQ = /^\d{1,15}$/;

export type NotificationRoutesOptions = {
  db: Db;
  hub: Pick<EventHub, "subscribeUser">;
  runtime?: Pick<AuthRuntime, "rateLimits">;
  logger?: Pick<Logger, "warn">;
  /** Aborted at shutdown: open streams end at once; clients reconnect with Last-Event-ID. */
  shutdown?: AbortSignal;
  heartbeatMs?: number;
};

function lastEventIdOf(req: Request): number | "none" | "invalid" {
  const header = req.get("last-event-id");
  if (header === undefined || header.trim() === "") return "none";
  const raw = header.trim();
  return SEQ.test(raw) ? Number(raw) : "invalid";
}

export function notificationRoutes({
  db,
  hub,
  runtime,
  logger,
  shutdown,
  heartbeatMs = HEARTBEAT_MS,
}: NotificationRoutesOptions): express.Router {
  const routes = express.Router();
  const guard = requireApiScope({ scope: "runs:read", runtime });

  routes.get("/api/v1/notifications/stream", guard, async (req, res, next) => {
    const { userId } = principalOf(res);
    if (shutdown?.aborted) {
      res.setHeader("Retry-After", "1");
      jsonError(res, 503, "SERVICE_UNAVAILABLE", "This server is shutting down; retry");
      return;
    }
    const given = lastEventIdOf(req);
    if (given === "invalid") {
      jsonError(res, 400, "BAD_REQUEST", "Last-Event-ID must be a non-negative integer (a notification seq)");
      return;
    }
    let ended = false;
    let lastSent = 0;
    // Subscribe before the first read: a notification written in between wakes us.
    const unsubscribe = hub.subscribeUser(userId, (maxSeq) => {
      if (maxSeq === null || maxSeq > lastSent) void pump();
    });
    try {
      lastSent = given === "none" ? await latestNotificationSeq(db, userId) : given;
    } catch (error) {
      unsubscribe();
      next(error);
      return;
    }

    // The first id tells EventSource where this stream starts, so a reconnect resumes from there.
    startEventStream(res, `retry: ${RETRY_MS}\nid: ${lastSent}\n\n`);

    const finish = () => {
      if (ended) return;
      ended = true;
      unsubscribe();
      clearInterval(heartbeat);
      res.end();
    };

    const drain = async () => {
      for (;;) {
        if (ended) return;
        const items = await readNotificationsAfter(db, { userId, afterSeq: lastSent });
        for (const item of items) {
          if (ended) return;
          res.write(`id: ${item.seq}\nevent: notification\ndata: ${JSON.stringify(item)}\n\n`);
          lastSent = item.seq;
        }
        if (items.length < MAX_NOTIFICATIONS_PAGE) return;
      }
    };

    const reads = serialPump(drain, {
      ended: () => ended,
      onError: (error) => {
        logger?.warn({ err: error }, "notification stream failed; closing it");
        finish();
      },
    });
    const pump = () => reads.pump();

    const heartbeat = setInterval(() => {
      if (ended) return;
      res.write(": ping\n\n");
      void pump();
    }, heartbeatMs);

    bindStreamLifetime(res, shutdown, {
      finish,
      closed: () => {
        ended = true;
        unsubscribe();
        clearInterval(heartbeat);
      },
    });
    void pump();
  });

  return routes;
}
