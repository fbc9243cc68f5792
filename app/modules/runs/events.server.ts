/**
 * Run events: buffered appends and reads.
 *
 * Producers (the workflow engine in a worker) call `append()` for every event, synchronously and cheaply. A
 * writer per process buffers the events of ALL its runs and flushes them every ~30 ms in ONE transaction:
 *
 *   - per run, `UPDATE "WorkflowRun" SET "lastEventSeq" = "lastEventSeq" + n … RETURNING "lastEventSeq"`:
 *     the row lock hands out seqs, so they are contiguous and never collide, whichever process writes;
 *   - one multi-row INSERT into "RunEvent" (chunked at `maxBatch` rows);
 *   - one `pg_notify('run_events', {"runs": {runId: maxSeq}})` (several when the payload would pass 8000
 *     bytes), delivered at commit.
 *
 * So the NOTIFY rate is bounded per writer (PostgreSQL serialises NOTIFY commits on a global lock) whatever
 * the number of runs and tokens. Consecutive `token` events of the same run and step are coalesced in the
 * buffer. Watchers treat a notification as a wake-up only and read the table (the source of truth).
 */
import type { Db } from "#app/db/client.server.ts";
import { Prisma } from "#app/db/client.server.ts";
import type { Logger } from "#app/lib/logger.server.ts";
import { uuidv7 } from "#app/lib/uuid.ts";
import {
  isTerminalStatus,
  parseRunEventData,
  type RunEventInput,
  type RunEventType,
  type StoredRunEvent,
  TERMINAL_STATUSES,
} from "./run-events.types.ts";

/** The NOTIFY channel web processes LISTEN on. */
export const RUN_EVENTS_CHANNEL = "run_events";
/** PostgreSQL's NOTIFY payload limit is 8000 bytes; stay under it. */
const MAX_NOTIFY_PAYLOAD_BYTES = 7900;
/** Retry delays after a failed flush (the events stay buffered). */
const RETRY_MAX_MS = 5_000;

export type EventWriterOptions = {
  db: Db;
  /** How long an appended event may wait before it is written. Default 30 ms. */
  flushIntervalMs?: number;
  /** A flush starts at once when this many events are buffered; also the rows per INSERT. Default 500. */
  maxBatch?: number;
  /** Send the NOTIFY (off only for tools that write history nobody watches). Default true. */
  notify?: boolean;
  /** Dropped events (their run is gone) and failed flushes are logged here at warn. */
  logger?: Pick<Logger, "warn">;
};

export type EventWriter = {
  /** Buffer an event of `run`. Throws when `data` does not fit the type's schema (a programming error). */
  append(run: { id: string; userId: string }, event: RunEventInput): void;
  /** Write everything buffered now (waits for a flush in progress first). Rejects when the write fails. */
  flush(): Promise<void>;
  /** Flush and stop the timer; later appends are dropped with a warning. */
  close(): Promise<void>;
};

type Pending = { type: RunEventType; stepId: string | null; data: unknown; createdAt: Date };
type RunBuffer = { runId: string; userId: string; events: Pending[] };
/** Buffers are keyed by run AND owner: an event naming the wrong owner cannot join (or spoil) the real run's. */
const keyOf = (runId: string, userId: string) => `${runId}:${userId}`;

/** Append `event` to `events`, merging it into the previous one when both are tokens of the same step. */
function pushCoalescing(events: Pending[], event: Pending) {
  const last = events[events.length - 1];
  if (event.type === "token" && last?.type === "token" && last.stepId === event.stepId) {
    const a = last.data as { stepId: string; text: string };
    const b = event.data as { text: string };
    last.data = { ...a, text: a.text + b.text };
    return;
  }
  events.push(event);
}

/**
 * Split `{runs}` into payloads that each stay under the NOTIFY limit. Each entry is small (a uuid and a
 * number), so a payload holds ~150 runs.
 */
export function notifyPayloads(maxSeqByRun: Map<string, number>): string[] {
  const payloads: string[] = [];
  let current: Record<string, number> = {};
  let size = '{"runs":{}}'.length;
  for (const [runId, seq] of maxSeqByRun) {
    const entry = Buffer.byteLength(`${JSON.stringify(runId)}:${seq},`);
    if (size + entry > MAX_NOTIFY_PAYLOAD_BYTES && Object.keys(current).length > 0) {
      payloads.push(JSON.stringify({ runs: current }));
      current = {};
      size = '{"runs":{}}'.length;
    }
    current[runId] = seq;
    size += entry;
  }
  if (Object.keys(current).length > 0) payloads.push(JSON.stringify({ runs: current }));
  return payloads;
}

/** A buffered, batching writer of run events. One per process is enough (it serves every run). */
export function createEventWriter({
  db,
  flushIntervalMs = 30,
  maxBatch = 500,
  notify = true,
  logger,
}: EventWriterOptions): EventWriter {
  let buffer = new Map<string, RunBuffer>();
  let buffered = 0;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let failures = 0;
  // Flushes run one after another: `tail` is the last one started or queued, `queued` one not started yet.
  let tail: Promise<void> = Promise.resolve();
  let queued: Promise<void> | null = null;

  const schedule = (delayMs: number) => {
    if (timer || closed) return;
    timer = setTimeout(() => {
      timer = undefined;
      flush().catch(() => {
        // logged in write(); the events stay buffered and a retry is scheduled
      });
    }, delayMs);
  };

  async function write(): Promise<void> {
    if (buffered === 0) return;
    const batch = buffer;
    buffer = new Map();
    buffered = 0;
    // Lock run rows in one order in every writer: two writers sharing runs cannot deadlock.
    const keys = [...batch.keys()].sort();
    try {
      const dropped: Array<{ runId: string; events: number }> = [];
      await db.$transaction(async (tx) => {
        const rows: Prisma.Sql[] = [];
        const maxSeqByRun = new Map<string, number>();
        for (const key of keys) {
          const run = batch.get(key)!;
          const { runId } = run;
          const n = run.events.length;
          const updated = await tx.$queryRaw<Array<{ lastEventSeq: number }>>`
            UPDATE "WorkflowRun" SET "lastEventSeq" = "lastEventSeq" + ${n}
            WHERE id = ${runId}::uuid AND "userId" = ${run.userId}::uuid
            RETURNING "lastEventSeq"`;
          const last = updated[0]?.lastEventSeq;
          if (last === undefined) {
            dropped.push({ runId, events: n });
            continue;
          }
          const first = last - n + 1;
          run.events.forEach((event, i) => {
            rows.push(
              Prisma.sql`(${uuidv7(event.createdAt.getTime())}::uuid, ${run.userId}::uuid, ${runId}::uuid, ${
                first + i
              }, ${event.type}, ${event.stepId}, ${JSON.stringify(event.data)}::jsonb, (${event.createdAt.toISOString()}::timestamptz AT TIME ZONE 'UTC'))`,
            );
          });
          maxSeqByRun.set(runId, last);
        }
        for (let i = 0; i < rows.length; i += maxBatch) {
          await tx.$executeRaw`
            INSERT INTO "RunEvent" ("id", "userId", "runId", "seq", "type", "stepId", "data", "createdAt")
            VALUES ${Prisma.join(rows.slice(i, i + maxBatch))}`;
        }
        if (notify && maxSeqByRun.size > 0) {
          const payloads = notifyPayloads(maxSeqByRun);
          await tx.$executeRaw`SELECT pg_notify(${RUN_EVENTS_CHANNEL}, p) FROM unnest(${payloads}::text[]) AS p`;
        }
      });
      failures = 0;
      for (const { runId, events } of dropped) {
        logger?.warn({ runId, events }, "run events dropped: the run no longer exists");
      }
    } catch (error) {
      // Nothing was written (one transaction): put the events back in front of the newer ones and retry.
      for (const [key, run] of batch) {
        const newer = buffer.get(key);
        const merged: Pending[] = [...run.events];
        for (const event of newer?.events ?? []) pushCoalescing(merged, event);
        buffered += merged.length - (newer?.events.length ?? 0);
        buffer.set(key, { runId: run.runId, userId: run.userId, events: merged });
      }
      // Re-insert order does not matter for correctness: seqs are assigned per run at the next flush.
      failures += 1;
      logger?.warn(
        { err: error, runs: batch.size, events: buffered, attempt: failures },
        "writing run events failed; they stay buffered and will be retried",
      );
      schedule(Math.min(RETRY_MAX_MS, flushIntervalMs * 2 ** failures));
      throw error;
    }
  }

  function flush(): Promise<void> {
    // A flush that has not started yet takes everything buffered when it starts: share it.
    if (queued) return queued;
    const next = tail
      .catch(() => {})
      .then(() => {
        queued = null;
        return write();
      });
    queued = next;
    tail = next;
    return next;
  }

  return {
    append(run, event) {
      const data = parseRunEventData(event.type, event.data);
      if (closed) {
        logger?.warn({ runId: run.id, type: event.type }, "run event appended after the writer closed");
        return;
      }
      const stepId = event.stepId ?? (data as { stepId?: string }).stepId ?? null;
      const key = keyOf(run.id, run.userId);
      let entry = buffer.get(key);
      if (!entry) {
        entry = { runId: run.id, userId: run.userId, events: [] };
        buffer.set(key, entry);
      }
      const before = entry.events.length;
      pushCoalescing(entry.events, { type: event.type, stepId, data, createdAt: new Date() });
      buffered += entry.events.length - before;
      if (buffered >= maxBatch) {
        flush().catch(() => {});
      } else {
        schedule(flushIntervalMs);
      }
    },
    flush,
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await flush();
    },
  };
}

const EVENT_SELECT = { seq: true, type: true, stepId: true, data: true, createdAt: true } as const;

function toStored(row: {
  seq: number;
  type: string;
  stepId: string | null;
  data: Prisma.JsonValue;
  createdAt: Date;
}): StoredRunEvent {
  return {
    seq: row.seq,
    type: row.type,
    stepId: row.stepId,
    data: row.data,
    createdAt: row.createdAt.toISOString(),
  } as StoredRunEvent;
}

/** Maximum events one read returns. */
export const MAX_READ_EVENTS = 1000;

/**
 * The events of the caller's run with seq > `afterSeq`, in seq order, at most `limit` (1–1000, default 1000).
 * Another user's run reads as empty, exactly like a run without events.
 */
export async function readEvents(
  db: Db,
  {
    runId,
    userId,
    afterSeq = 0,
    limit = MAX_READ_EVENTS,
  }: { runId: string; userId: string; afterSeq?: number; limit?: number },
): Promise<StoredRunEvent[]> {
  const take = Math.max(1, Math.min(MAX_READ_EVENTS, Math.floor(limit)));
  const rows = await db.runEvent.findMany({
    where: { runId, userId, seq: { gt: Math.max(0, Math.floor(afterSeq)) } },
    orderBy: { seq: "asc" },
    take,
    select: EVENT_SELECT,
  });
  return rows.map(toStored);
}

/** What an event stream needs to know about the caller's run; null when it is not theirs (or missing). */
export async function findRunForEvents(db: Db, { runId, userId }: { runId: string; userId: string }) {
  return db.workflowRun.findFirst({
    where: { id: runId, userId },
    select: { id: true, status: true, lastEventSeq: true, finishedAt: true, updatedAt: true },
  });
}

/**
 * The seq of the run's terminal `status` event, or null when it has none (yet). Scans the run's events from
 * the newest, where that event is.
 */
export async function terminalEventSeq(db: Db, { runId, userId }: { runId: string; userId: string }) {
  const rows = await db.$queryRaw<Array<{ seq: number }>>`
    SELECT seq FROM "RunEvent"
    WHERE "runId" = ${runId}::uuid AND "userId" = ${userId}::uuid AND type = 'status'
      AND data->>'status' IN (${Prisma.join([...TERMINAL_STATUSES])})
    ORDER BY seq DESC LIMIT 1`;
  return rows[0]?.seq ?? null;
}

/** A stored event that ends its run's stream. */
export function isTerminalEvent(event: Pick<StoredRunEvent, "type" | "data">): boolean {
  return event.type === "status" && isTerminalStatus((event.data as { status?: unknown }).status);
}
