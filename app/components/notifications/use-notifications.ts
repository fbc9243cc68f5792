import { useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useRef, useState } from "react";
import { useTRPC } from "#app/trpc/client.ts";
import { type NotificationItem, parseStreamNotification } from "./format.ts";

/** The user's notification stream (cookie auth; `id:` = seq, so EventSource resumes with Last-Event-ID). */
export const NOTIFICATION_STREAM_URL = "/api/v1/notifications/stream";

/** Delays before reopening a stream the browser gave up on (an HTTP error, not a dropped connection). */
const REOPEN_MIN_MS = 2_000;
const REOPEN_MAX_MS = 60_000;
/** Ids remembered to drop a repeated event; far more than can arrive between two list refreshes. */
const SEEN_LIMIT = 200;

export type StreamState = "connecting" | "open" | "reconnecting" | "off";

/**
 * Opens ONE EventSource to the notification stream while `enabled` (the user is signed in), calls
 * `onNotification` for each new notification, and refreshes `notifications.list` (items and unread count).
 *
 * Tolerant of the stream failing: a dropped connection is retried by EventSource itself (resuming after the
 * last id it saw); when the browser gives up (the server answered an error, e.g. while a session is being
 * refreshed) the stream is reopened with a growing delay. After any reconnection the list is refreshed, so
 * the unread count is right even if events were missed. Nothing here throws into React.
 */
export function useNotificationStream({
  enabled,
  onNotification,
}: {
  enabled: boolean;
  onNotification: (item: NotificationItem) => void;
}): StreamState {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [state, setState] = useState<StreamState>(enabled ? "connecting" : "off");
  // The latest callback, without reopening the stream when it changes.
  const handler = useRef(onNotification);
  handler.current = onNotification;

  const refreshList = useCallback(() => {
    void queryClient.invalidateQueries(trpc.notifications.list.pathFilter());
  }, [queryClient, trpc]);

  useEffect(() => {
    if (!enabled || typeof EventSource === "undefined") {
      setState("off");
      return;
    }
    let source: EventSource | null = null;
    let reopenTimer: ReturnType<typeof setTimeout> | undefined;
    let delay = REOPEN_MIN_MS;
    let interrupted = false;
    let stopped = false;
    const seen: string[] = [];

    const onMessage = (event: MessageEvent<string>) => {
      const item = parseStreamNotification(event.data);
      if (!item || seen.includes(item.id)) return;
      seen.push(item.id);
      if (seen.length > SEEN_LIMIT) seen.shift();
      try {
        handler.current(item);
      } catch (error) {
        console.error("notification handler failed", error);
      }
      refreshList();
    };

    const open = () => {
      if (stopped) return;
      setState(interrupted ? "reconnecting" : "connecting");
      const current = new EventSource(NOTIFICATION_STREAM_URL);
      source = current;
      current.addEventListener("open", () => {
        delay = REOPEN_MIN_MS;
        setState("open");
        // Whatever happened while we were away is in the list.
        if (interrupted) refreshList();
        interrupted = false;
      });
      current.addEventListener("notification", onMessage as EventListener);
      current.addEventListener("error", () => {
        interrupted = true;
        if (current.readyState === EventSource.CLOSED) {
          // The browser will not retry this one: open a new stream later.
          current.close();
          setState("reconnecting");
          reopenTimer = setTimeout(open, delay);
          delay = Math.min(delay * 2, REOPEN_MAX_MS);
        } else {
          setState("reconnecting");
        }
      });
    };

    open();
    return () => {
      stopped = true;
      clearTimeout(reopenTimer);
      source?.close();
    };
  }, [enabled, refreshList]);

  return state;
}
