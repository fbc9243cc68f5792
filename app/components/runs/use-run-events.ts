/**
 * Follow a run's events in the browser and fold them into its live state (run-state.ts).
 *
 * 1. Catch up: `GET /api/v1/runs/:id/events.json?after=<seq>` pages through what is stored (with each
 *    event's time, which the SSE frames do not carry). A finished run stops here.
 * 2. Follow: an EventSource on `/api/v1/runs/:id/events?after=<last seq>`. The browser reconnects on its own
 *    after a network drop, sending Last-Event-ID, so the server resumes after the last event received; the
 *    reducer drops anything seen twice. The page closes the stream at the terminal status.
 * 3. Fallback: without EventSource, or when the stream fails three times in a row without opening (a proxy
 *    that buffers or blocks event streams), the page polls events.json instead.
 *
 * Cookie auth: same-origin requests carry the session cookies, refreshed by the server as for any request.
 */
import { useEffect, useReducer, useState } from "react";
import {
  isTerminalStatus,
  RUN_EVENT_TYPES,
  type RunEventsPage,
  type StoredRunEvent,
} from "#app/modules/runs/run-events.types.ts";
import { initialRunState, runStateReducer } from "./run-state.ts";

/**
 * connecting: catching up / opening the stream · live: the stream is open · reconnecting: it dropped and is
 * being reopened · polling: following through events.json · done: every event of the finished run is in ·
 * error: the run cannot be followed (see `error`).
 */
export type ConnectionState = "connecting" | "live" | "reconnecting" | "polling" | "done" | "error";

/** Consecutive stream failures (without it ever opening) before falling back to polling. */
const MAX_STREAM_FAILURES = 3;
const POLL_MS = 1_500;
const MAX_BACKOFF_MS = 10_000;
/** Events are applied in batches at most this often: deltas arrive faster than the page should render. */
const FLUSH_MS = 40;
/** events.json's page size: a full page means there is more. */
const MAX_PAGE = 1000;

export type RunEventsOptions = {
  /** Set false to not connect at all (nothing to follow). Default true. */
  enabled?: boolean;
};

/** The live state of run `runId` and how the page is connected to it. */
export function useRunEvents(runId: string, options: RunEventsOptions = {}) {
  const { enabled = true } = options;
  const [state, dispatch] = useReducer(runStateReducer, initialRunState);
  const [connection, setConnection] = useState<ConnectionState>("connecting");
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    if (!enabled) return;
    setConnection("connecting");
    setError(null);
    const stop = followRun(runId, {
      onEvents: (events) => dispatch({ events }),
      onConnection: setConnection,
      onError: setError,
    });
    return () => {
      stop();
      dispatch({ reset: true });
    };
  }, [runId, enabled]);

  return { state, connection: enabled ? connection : ("done" as ConnectionState), error };
}

export type FollowRunHandlers = {
  /** New events in seq order, each seq once. */
  onEvents: (events: StoredRunEvent[]) => void;
  onConnection: (state: ConnectionState) => void;
  /** Why the run cannot be followed (not found, signed out). */
  onError: (message: string) => void;
};

export type FollowRunOptions = {
  /** Default: the browser's EventSource (null: none, poll). */
  eventSource?: typeof EventSource | null;
  fetcher?: typeof fetch;
  /** Start after this seq. Default 0. */
  after?: number;
  pollMs?: number;
  flushMs?: number;
};

/**
 * Follow a run (framework-free, so it is testable with a fake EventSource and fetch). Returns `stop`.
 */
export function followRun(
  runId: string,
  handlers: FollowRunHandlers,
  options: FollowRunOptions = {},
): () => void {
  const fetcher = options.fetcher ?? globalThis.fetch.bind(globalThis);
  const Source =
    options.eventSource !== undefined
      ? options.eventSource
      : typeof EventSource === "undefined"
        ? null
        : EventSource;
  const pollMs = options.pollMs ?? POLL_MS;
  const flushMs = options.flushMs ?? FLUSH_MS;
  const base = `/api/v1/runs/${encodeURIComponent(runId)}/events`;

  let disposed = false;
  let lastSeq = options.after ?? 0;
  let done = false;
  let source: EventSource | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let streamFailures = 0;
  let pollFailures = 0;
  const controller = new AbortController();

  // Batch events and apply them together.
  let pending: StoredRunEvent[] = [];
  let flushTimer: ReturnType<typeof setTimeout> | null = null;
  const flush = () => {
    if (flushTimer) clearTimeout(flushTimer);
    flushTimer = null;
    if (disposed || pending.length === 0) return;
    const events = pending;
    pending = [];
    handlers.onEvents(events);
  };
  const accept = (events: StoredRunEvent[], now = false) => {
    for (const event of events) {
      if (event.seq <= lastSeq) continue;
      lastSeq = event.seq;
      pending.push(event);
      if (event.type === "status" && isTerminalStatus(event.data.status)) done = true;
    }
    if (now || done) flush();
    else flushTimer ??= setTimeout(flush, flushMs);
  };

  let current: ConnectionState | null = null;
  const set = (next: ConnectionState) => {
    if (disposed || next === current) return;
    current = next;
    handlers.onConnection(next);
  };
  const later = (fn: () => void, ms: number) => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      if (!disposed) fn();
    }, ms);
  };
  const closeSource = () => {
    source?.close();
    source = null;
  };
  const finish = () => {
    closeSource();
    flush();
    set("done");
  };

  /** One page of events.json after lastSeq: whether the run is over, or null on a network/server error. */
  async function poll(): Promise<{ done: boolean; full: boolean } | null> {
    let response: Response;
    try {
      response = await fetcher(`${base}.json?after=${lastSeq}`, {
        headers: { accept: "application/json" },
        signal: controller.signal,
        credentials: "same-origin",
      });
    } catch {
      return null;
    }
    if (response.status === 404 || response.status === 401 || response.status === 403) {
      const body = (await response.json().catch(() => null)) as { error?: { message?: string } } | null;
      throw new Stop(
        body?.error?.message ??
          (response.status === 404 ? "Run not found" : "You are signed out: reload the page"),
      );
    }
    if (!response.ok) return null;
    const page = (await response.json()) as RunEventsPage;
    accept(page.events, true);
    return { done: page.done || done, full: page.events.length >= MAX_PAGE };
  }

  /** Page through what is stored, then follow by stream (or polling). */
  async function catchUp() {
    for (;;) {
      const result = await poll();
      if (disposed) return;
      if (!result) {
        pollFailures += 1;
        set("reconnecting");
        later(() => void guarded(catchUp), backoff(pollFailures));
        return;
      }
      pollFailures = 0;
      if (result.done) return finish();
      if (!result.full) break;
    }
    if (Source && streamFailures < MAX_STREAM_FAILURES) openStream();
    else {
      set("polling");
      later(() => void guarded(pollLoop), pollMs);
    }
  }

  async function pollLoop() {
    const result = await poll();
    if (disposed) return;
    if (!result) {
      pollFailures += 1;
      set("reconnecting");
      later(() => void guarded(pollLoop), backoff(pollFailures));
      return;
    }
    pollFailures = 0;
    if (result.done) return finish();
    set("polling");
    later(() => void guarded(pollLoop), result.full ? 0 : pollMs);
  }

  function openStream() {
    if (!Source) return;
    closeSource();
    const stream = new Source(`${base}?after=${lastSeq}`, { withCredentials: true });
    source = stream;
    let opened = false;
    stream.onopen = () => {
      opened = true;
      streamFailures = 0;
      set("live");
    };
    const onEvent = (message: MessageEvent<string>) => {
      const seq = Number(message.lastEventId);
      if (!Number.isInteger(seq) || seq <= 0) return;
      let data: unknown;
      try {
        data = JSON.parse(message.data);
      } catch {
        return;
      }
      if (!data || typeof data !== "object") return;
      const stepId = (data as { stepId?: unknown }).stepId;
      accept([
        {
          seq,
          type: message.type,
          stepId: typeof stepId === "string" ? stepId : null,
          data,
          // SSE frames carry no time: the moment it arrived is within milliseconds of it.
          createdAt: new Date().toISOString(),
        } as StoredRunEvent,
      ]);
      if (done) finish();
    };
    for (const type of RUN_EVENT_TYPES) stream.addEventListener(type, onEvent as EventListener);
    stream.onerror = () => {
      if (disposed || source !== stream) return;
      if (done) return finish();
      if (!opened) streamFailures += 1;
      opened = false;
      if (stream.readyState === Source.CLOSED || streamFailures >= MAX_STREAM_FAILURES) {
        // The server refused the stream (or answered 204: the run ended without a terminal event we saw),
        // or it keeps failing: ask events.json, which says whether the run is over, then decide.
        closeSource();
        const giveUp = streamFailures >= MAX_STREAM_FAILURES;
        set(giveUp ? "polling" : "reconnecting");
        later(() => void guarded(catchUp), giveUp ? 0 : backoff(streamFailures));
        return;
      }
      // EventSource retries by itself, with Last-Event-ID.
      set("reconnecting");
    };
  }

  async function guarded(step: () => Promise<void>) {
    try {
      await step();
    } catch (caught) {
      if (disposed) return;
      if (caught instanceof Stop) {
        closeSource();
        handlers.onError(caught.message);
        set("error");
        return;
      }
      pollFailures += 1;
      set("reconnecting");
      later(() => void guarded(catchUp), backoff(pollFailures));
    }
  }

  set("connecting");
  void guarded(catchUp);

  return () => {
    disposed = true;
    controller.abort();
    closeSource();
    if (timer) clearTimeout(timer);
    if (flushTimer) clearTimeout(flushTimer);
  };
}

class Stop extends Error {}

function backoff(failures: number): number {
  return Math.min(MAX_BACKOFF_MS, 1_000 * 2 ** Math.max(0, failures - 1));
}

/** Human words for the connection indicator. */
export const CONNECTION_LABEL: Record<ConnectionState, string> = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  polling: "Live (polling)",
  done: "Complete",
  error: "Disconnected",
};
