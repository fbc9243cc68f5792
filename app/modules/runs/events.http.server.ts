/**
 *   GET /api/v1/runs/:id/events          runs:read   Server-Sent Events
 *   GET /api/v1/runs/:id/events.json     runs:read   polling: { events, lastSeq, done }
 *
 * The stream starts with `retry: 2000`, then sends every event after `Last-Event-ID` (or `?after=`) as
 *
 *   id: <seq>
 *   event: <type>
 *   data: <json of the event's data>
 *
 * and follows the run live: the process's event hub wakes the stream when the run has new events and the
 * stream reads them from RunEvent after the last seq it sent (the table is the source of truth, so nothing
 * is lost or sent twice, whichever process wrote the events). Those reads are batched per process: the
 * streams a notification wakes read in ONE query, and streams at the same position of a run share its
 * result, encoded once (see `createEventFeed`). `: ping` every 15 s keeps proxies from
 * closing an idle stream and doubles as a safety net read. After the terminal `status` event the stream
 * ends; a client that reconnects after it gets 204 No Content, which makes EventSource stop.
 *
 * Another user's run, or no run, answers 404 "Run not found" before the stream starts.
 */
import express, { type Request } from "express";
import type { Db } from "#app/db/client.server.ts";
import type { Logger } from "#app/lib/logger.server.ts";
import type { AuthRuntime } from "#app/modules/auth/runtime.server.ts";
import { jsonError } from "#app/server/api-errors.server.ts";
import { principalOf, requireApiScope } from "#app/server/guards.server.ts";
import { bindStreamLifetime, serialPump, startEventStream, writeOrWait } from "#app/server/sse.server.ts";
import type { EventHub } from "./event-hub.server.ts";
import {
  type EventCursor,
  findRunForEvents,
  isTerminalEvent,
  MAX_READ_EVENTS,
  readEvents,
  readEventsBatch,
  terminalEventSeq,
} from "./events.server.ts";
import { isTerminalStatus, type RunEventsPage, type StoredRunEvent } from "./run-events.types.ts";

const HEARTBEAT_MS = 15_000;
/** Client reconnect delay announced at the start of the stream. */
const RETRY_MS = 2_000;
/**
 * A finished run whose terminal status event never arrived (a crashed engine) still ends its stream once it
 * has been finished this long with nothing new: the wait covers the engine's last flush.
 */
const SETTLE_MS = 10_000;

export type RunEventRoutesOptions = {
  db: Db;
  hub: Pick<EventHub, "subscribe">;
  runtime?: Pick<AuthRuntime, "rateLimits">;
  logger?: Pick<Logger, "warn">;
  /**
   * Aborted at shutdown: open streams end at once (their clients reconnect, to another process, with
   * Last-Event-ID) instead of holding the HTTP server's close() until its deadline.
   */
  shutdown?: AbortSignal;
  /** Test hooks: heartbeat period and how long a finished run may stay silent. */
  heartbeatMs?: number;
  settleMs?: number;
};

const SEQ = /^\d{1,10}$/;
/** Cursors per batched read query (the reads of one wake beyond this go in parallel queries). */
const MAX_CURSORS_PER_QUERY = 200;

/** A read's result as every stream at that position sends it. */
type FeedPage = {
  /** How many events (MAX_READ_EVENTS: there may be more). */
  count: number;
  /** The seq of the last event, or the position read from when there is none. */
  lastSeq: number;
  /** The run's terminal status event is among them: the stream ends after sending them. */
  terminal: boolean;
  /** The events as SSE messages, encoded once for all the streams that share the page. */
  bytes: Buffer;
};

function toPage(events: StoredRunEvent[], afterSeq: number): FeedPage {
  let text = "";
  for (const event of events) {
    text += `id: ${event.seq}\nevent: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n`;
  }
  return {
    count: events.length,
    lastSeq: events.at(-1)?.seq ?? afterSeq,
    terminal: events.some(isTerminalEvent),
    bytes: Buffer.from(text),
  };
}

/**
 * The reads of this process's event streams, batched. A notification wakes every stream of its runs in the
 * same tick: their reads are collected until the tick ends and go to the database as ONE query (per
 * MAX_CURSORS_PER_QUERY positions), and the streams at the same position of the same run share one result,
 * encoded as SSE once. So a wake costs a query per wake, not one per subscriber, whatever the number of
 * subscribers; a stream that is behind (a replay) simply reads from its own position in the same query.
 */
export function createEventFeed(db: Db) {
  type Waiter = { resolve: (page: FeedPage) => void; reject: (error: unknown) => void };
  let pending = new Map<string, { cursor: EventCursor; waiters: Waiter[] }>();
  let scheduled = false;

  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(readPending);
  };

  function readPending() {
    scheduled = false;
    const batch = [...pending.values()];
    pending = new Map();
    for (let i = 0; i < batch.length; i += MAX_CURSORS_PER_QUERY) {
      const slice = batch.slice(i, i + MAX_CURSORS_PER_QUERY);
      readEventsBatch(
        db,
        slice.map((entry) => entry.cursor),
      ).then(
        (results) => {
          slice.forEach((entry, j) => {
            const page = toPage(results[j] ?? [], entry.cursor.afterSeq);
            for (const waiter of entry.waiters) waiter.resolve(page);
          });
        },
        (error: unknown) => {
          for (const entry of slice) for (const waiter of entry.waiters) waiter.reject(error);
        },
      );
    }
  }

  return {
    /** The events of `cursor.runId` after `cursor.afterSeq` (at most MAX_READ_EVENTS), as SSE. */
    read(cursor: EventCursor): Promise<FeedPage> {
      const key = `${cursor.runId}:${cursor.userId}:${cursor.afterSeq}`;
      return new Promise((resolve, reject) => {
        let entry = pending.get(key);
        if (!entry) {
          entry = { cursor, waiters: [] };
          pending.set(key, entry);
        }
        entry.waiters.push({ resolve, reject });
        schedule();
      });
    },
  };
}

/** `Last-Event-ID` wins over `?after=` (EventSource resends the original URL with the header). */
function afterOf(req: Request): number | "invalid" {
  const header = req.get("last-event-id");
  const raw = header !== undefined && header.trim() !== "" ? header.trim() : req.query.after;
  if (raw === undefined || raw === "") return 0;
  if (typeof raw !== "string" || !SEQ.test(raw)) return "invalid";
  const value = Number(raw);
  return value <= 2_147_483_647 ? value : "invalid";
}

type Run = NonNullable<Awaited<ReturnType<typeof findRunForEvents>>>;

/**
 * Whether a reader that has every event up to `lastSeq` has the whole run: nothing was stored after
 * `lastSeq`, and either the terminal status event is among what it has (that event is final, whether or not
 * the run row says so yet) or, when there is none, the run row has been finished for `settleMs` (a crashed
 * engine: the terminal event will not come).
 */
async function hasEverything(db: Db, run: Run, userId: string, lastSeq: number, settleMs: number) {
  if (lastSeq < run.lastEventSeq) return false;
  const terminal = await terminalEventSeq(db, { runId: run.id, userId });
  if (terminal !== null) return terminal <= lastSeq;
  if (!isTerminalStatus(run.status)) return false;
  const finished = (run.finishedAt ?? run.updatedAt).getTime();
  return Date.now() - finished >= settleMs;
}

export function runEventRoutes({
  db,
  hub,
  runtime,
  logger,
  shutdown,
  heartbeatMs = HEARTBEAT_MS,
  settleMs = SETTLE_MS,
}: RunEventRoutesOptions): express.Router {
  const routes = express.Router();
  const feed = createEventFeed(db);
  const guard = requireApiScope({
    scope: "runs:read",
    runtime,
    idParam: { name: "id", notFound: "Run not found" },
  });

  routes.get("/api/v1/runs/:id/events.json", guard, async (req, res, next) => {
    try {
      const { userId } = principalOf(res);
      const after = afterOf(req);
      if (after === "invalid") {
        jsonError(res, 400, "BAD_REQUEST", "after must be a non-negative integer (an event seq)");
        return;
      }
      let limit = MAX_READ_EVENTS;
      if (req.query.limit !== undefined) {
        const raw = String(req.query.limit);
        if (!/^\d{1,4}$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_READ_EVENTS) {
          jsonError(res, 400, "BAD_REQUEST", `limit must be an integer from 1 to ${MAX_READ_EVENTS}`);
          return;
        }
        limit = Number(raw);
      }
      const runId = String(req.params.id);
      // The run first: events stored after this read are reported next time, never skipped.
      const run = await findRunForEvents(db, { runId, userId });
      if (!run) {
        jsonError(res, 404, "NOT_FOUND", "Run not found");
        return;
      }
      const events = await readEvents(db, { runId, userId, afterSeq: after, limit });
      const lastSeq = events.at(-1)?.seq ?? after;
      const done = events.length < limit && (await hasEverything(db, run, userId, lastSeq, settleMs));
      const page: RunEventsPage = { events, lastSeq, done };
      res.setHeader("Cache-Control", "no-store");
      res.json(page);
    } catch (error) {
      next(error);
    }
  });

  routes.get("/api/v1/runs/:id/events", guard, async (req, res, next) => {
    const { userId } = principalOf(res);
    const runId = String(req.params.id);
    const after = afterOf(req);
    if (shutdown?.aborted) {
      res.setHeader("Retry-After", "1");
      jsonError(res, 503, "SERVICE_UNAVAILABLE", "This server is shutting down; retry");
      return;
    }
    if (after === "invalid") {
      jsonError(
        res,
        400,
        "BAD_REQUEST",
        "Last-Event-ID / after must be a non-negative integer (an event seq)",
      );
      return;
    }
    let run: Run | null;
    try {
      run = await findRunForEvents(db, { runId, userId });
      if (!run) {
        jsonError(res, 404, "NOT_FOUND", "Run not found");
        return;
      }
      if (await hasEverything(db, run, userId, after, settleMs)) {
        // The client already has the end of this run: 204 tells EventSource not to reconnect.
        res.status(204).end();
        return;
      }
    } catch (error) {
      next(error);
      return;
    }

    let lastSent = after;
    let ended = false;
    let quietTicks = 0;

    startEventStream(res, `retry: ${RETRY_MS}\n\n`);

    const finish = () => {
      if (ended) return;
      ended = true;
      unsubscribe();
      clearInterval(heartbeat);
      res.end();
    };

    /** Send everything stored after `lastSent`; ends the stream after the terminal status event. */
    const drain = async (): Promise<void> => {
      for (;;) {
        if (ended) return;
        const page = await feed.read({ runId, userId, afterSeq: lastSent });
        if (ended || page.count === 0) return;
        // A slow client: wait until it has taken what is queued before reading more.
        const pending = writeOrWait(res, page.bytes);
        lastSent = page.lastSeq;
        if (pending) await pending;
        if (page.terminal) {
          finish();
          return;
        }
        if (page.count < MAX_READ_EVENTS) return;
      }
    };

    /** Serialised reads: a wake during a read asks for one more read after it. */
    const reads = serialPump(drain, {
      ended: () => ended,
      onError: (error) => {
        // The client reconnects with Last-Event-ID and resumes where this stream stopped.
        logger?.warn({ err: error, runId }, "run event stream failed; closing it");
        finish();
      },
    });
    const pump = () => reads.pump();

    // Subscribe before the first read: an event stored in between wakes us, so none falls in the gap.
    const unsubscribe = hub.subscribe(runId, (maxSeq) => {
      if (maxSeq === null || maxSeq > lastSent) void pump();
    });

    const heartbeat = setInterval(() => {
      if (ended) return;
      res.write(": ping\n\n");
      // Safety net for a missed wake-up, and the end of a run whose terminal event never came.
      void (async () => {
        if (reads.busy) return;
        try {
          const before = lastSent;
          await pump();
          if (ended) return;
          quietTicks = lastSent === before ? quietTicks + 1 : 0;
          if (quietTicks === 0) return;
          const current = await findRunForEvents(db, { runId, userId });
          if (!current || (await hasEverything(db, current, userId, lastSent, settleMs))) finish();
        } catch (error) {
          logger?.warn({ err: error, runId }, "run event stream check failed; closing it");
          finish();
        }
      })();
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
