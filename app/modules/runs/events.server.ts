/**
 * Run events: buffered appends and reads.
 *
 * Producers (the workflow engine in a worker) call `append()` for every event, synchronously and cheaply. A
 * writer per process buffers the events of ALL its runs and flushes them every ~30 ms in ONE statement
 * (atomic on its own, so one round trip):
 *
 *   - the runs' rows are locked in id order (two writers sharing runs cannot deadlock), and each row's
 *     `"lastEventSeq" + n` hands out that run's seqs: contiguous and never colliding, whichever process writes;
 *   - the events are inserted from arrays (`unnest`), whatever their number;
 *   - `pg_notify('run_events', {"runs": {runId: maxSeq}})` names every run of the flush (100 runs per payload,
 *     under the 8000-byte limit), delivered at commit.
 *
 * So the NOTIFY rate is bounded per writer (PostgreSQL serialises NOTIFY commits on a global lock) whatever
 * the number of runs and tokens. Consecutive `token` events of the same run and step are coalesced in the
 * buffer. Watchers treat a notification as a wake-up only and read the table (the source of truth).
 *
 * `finishRun()` ends a run inside the next flush, then a transaction: the run's final row update, its last
 * buffered events and its terminal status event commit together (and share the flush's NOTIFY), or none do.
 * A batched finisher (`{ batch, item }`) ends every run of the flush that uses the same `batch` in ONE call,
 * so runs ending together cost one statement, not one each.
 */
import type { Db, DbOrTx, DbTx } from "#app/db/client.server.ts";
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
/** Retry delays after a failed flush (the events stay buffered). */
const RETRY_MAX_MS = 5_000;

export type EventWriterOptions = {
  db: Db;
  /** How long an appended event may wait before it is written. Default 30 ms. */
  flushIntervalMs?: number;
  /** A flush starts at once when this many events are buffered. Default 500. */
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
  /**
   * End `run` in the next flush (started at once, or right after the one in progress): `finish(tx)` runs in
   * that flush's transaction, after the rows of the flush's runs are locked and before their events get
   * seqs, and the events it returns are stored after the run's buffered ones. So a run's final update and its
   * terminal status event are written together, or (the promise rejects) not at all: `finish`'s writes roll
   * back and its events are dropped, while the buffered events stay buffered for the next flush.
   */
  finishRun<T>(run: { id: string; userId: string }, finish: Finish<T>): Promise<void>;
  /** Flush and stop the timer; later appends are dropped with a warning. */
  close(): Promise<void>;
};

/**
 * How `finishRun` ends a run in the flush's transaction: a function of the transaction, or a batched finisher:
 * `batch(tx, items)` is called once per flush with the `item`s of all the runs ending with it (in run id
 * order) and returns each item's events (same order).
 */
export type Finish<T = unknown> =
  | ((tx: DbTx) => Promise<RunEventInput[]>)
  | { batch: (tx: DbTx, items: T[]) => Promise<RunEventInput[][]>; item: T };

type Pending = { type: RunEventType; stepId: string | null; data: unknown; createdAt: Date };
type RunBuffer = { runId: string; userId: string; events: Pending[] };
/** Buffers are keyed by run AND owner: an event naming the wrong owner cannot join (or spoil) the real run's. */
const keyOf = (runId: string, userId: string) => `${runId}:${userId}`;

/**
 * Append `event` to `events`, merging it into the previous one when both are tokens of the same step, or
 * command output of the same step and stream.
 */
function pushCoalescing(events: Pending[], event: Pending) {
  const last = events[events.length - 1];
  const mergeable =
    last !== undefined &&
    last.type === event.type &&
    last.stepId === event.stepId &&
    (event.type === "token" ||
      (event.type === "output" &&
        (last.data as { stream: string }).stream === (event.data as { stream: string }).stream));
  if (mergeable) {
    const a = last.data as { text: string };
    const b = event.data as { text: string };
    last.data = { ...a, text: a.text + b.text };
    return;
  }
  events.push(event);
}

/** An event as buffered: its data already checked against its type's schema. */
function toPending(event: RunEventInput): Pending {
  const data = parseRunEventData(event.type, event.data);
  const stepId = event.stepId ?? (data as { stepId?: string }).stepId ?? null;
  return { type: event.type, stepId, data, createdAt: new Date() };
}

type Finisher = {
  key: string;
  runId: string;
  userId: string;
  finish: Finish;
};

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
  let finishers: Finisher[] = [];
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
    if (buffered === 0 && finishers.length === 0) return;
    const batch = buffer;
    buffer = new Map();
    buffered = 0;
    const ending = finishers;
    finishers = [];
    try {
      let stored: Stored;
      if (ending.length === 0) {
        // The usual flush (tokens and step events of running runs): one statement, atomic on its own.
        stored = await store(db, batch);
      } else {
        stored = await db.$transaction(async (tx) => {
          const endingByKey = new Map<string, Finisher[]>();
          const runs = new Map<string, { runId: string; userId: string }>(batch);
          for (const finisher of ending) {
            runs.set(finisher.key, finisher);
            endingByKey.set(finisher.key, [...(endingByKey.get(finisher.key) ?? []), finisher]);
          }
          // The rows of every run of the flush, in the one order all writers use, before the finishers
          // update theirs: writers sharing runs cannot deadlock.
          const runIds = [...new Set([...runs.values()].map((run) => run.runId))].sort();
          if (runIds.length > 1) {
            await tx.$queryRaw`/* prepared */
              SELECT 1 FROM "WorkflowRun" WHERE id = ANY(${runIds}::uuid[]) ORDER BY id FOR UPDATE`;
          }
          const keys = [...runs.keys()].sort();
          // Batched finishers first: one call per batch function, with its items in run order.
          const returned = new Map<Finisher, RunEventInput[]>();
          const batches = new Map<(tx: DbTx, items: unknown[]) => Promise<RunEventInput[][]>, Finisher[]>();
          for (const key of keys) {
            for (const finisher of endingByKey.get(key) ?? []) {
              if (typeof finisher.finish === "function") continue;
              const group = batches.get(finisher.finish.batch) ?? [];
              group.push(finisher);
              batches.set(finisher.finish.batch, group);
            }
          }
          for (const [run, group] of batches) {
            const out = await run(
              tx,
              group.map((f) => (f.finish as { item: unknown }).item),
            );
            for (const [i, finisher] of group.entries()) returned.set(finisher, out[i] ?? []);
          }
          // Each run's buffered events, then those its finishers return (not coalesced into the buffered
          // ones, which a failed flush puts back untouched).
          const all = new Map<string, RunBuffer>();
          for (const key of keys) {
            const { runId, userId } = runs.get(key)!;
            let events = batch.get(key)?.events ?? [];
            for (const finisher of endingByKey.get(key) ?? []) {
              const more =
                typeof finisher.finish === "function" ? await finisher.finish(tx) : returned.get(finisher)!;
              if (more.length > 0) events = [...events, ...more.map(toPending)];
            }
            if (events.length > 0) all.set(key, { runId, userId, events });
          }
          return store(tx, all);
        });
      }
      failures = 0;
      for (const { runId, events } of stored.dropped) {
        logger?.warn({ runId, events }, "run events dropped: the run no longer exists");
      }
    } catch (error) {
      // Nothing was written (one statement, or one transaction): put the events back in front of the newer
      // ones and retry.
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
      if (buffered > 0) schedule(Math.min(RETRY_MAX_MS, flushIntervalMs * 2 ** failures));
      throw error;
    }
  }

  type Stored = { dropped: Array<{ runId: string; events: number }> };

  /**
   * Store the events of `runs` in ONE statement: lock their rows in id order, hand out seqs from each row's
   * `lastEventSeq`, insert the events, and NOTIFY the runs' highest seqs (100 runs per payload, well under
   * the 8000-byte limit). A run whose row is gone (or is not that owner's) gets nothing: reported as dropped.
   */
  async function store(client: DbOrTx, runs: Map<string, RunBuffer>): Promise<Stored> {
    const ids: string[] = [];
    const owners: string[] = [];
    const counts: number[] = [];
    const e = {
      runs: [] as string[],
      owners: [] as string[],
      positions: [] as number[],
      ids: [] as string[],
      types: [] as string[],
      steps: [] as Array<string | null>,
      data: [] as string[],
      at: [] as string[],
    };
    for (const { runId, userId, events } of runs.values()) {
      if (events.length === 0) continue;
      ids.push(runId);
      owners.push(userId);
      counts.push(events.length);
      events.forEach((event, i) => {
        e.runs.push(runId);
        e.owners.push(userId);
        e.positions.push(i + 1);
        e.ids.push(uuidv7(event.createdAt.getTime()));
        e.types.push(event.type);
        e.steps.push(event.stepId);
        e.data.push(JSON.stringify(event.data));
        e.at.push(event.createdAt.toISOString());
      });
    }
    if (ids.length === 0) return { dropped: [] };
    const rows = await client.$queryRaw<Array<{ id: string; userId: string }>>`/* prepared */
      WITH b AS (
        SELECT * FROM unnest(${ids}::uuid[], ${owners}::uuid[], ${counts}::int[]) AS b(id, owner, n)
      ), locked AS MATERIALIZED (
        SELECT r.id FROM "WorkflowRun" AS r WHERE r.id IN (SELECT id FROM b) ORDER BY r.id FOR UPDATE
      ), seqs AS (
        UPDATE "WorkflowRun" AS r SET "lastEventSeq" = r."lastEventSeq" + b.n
        FROM b WHERE r.id = b.id AND r."userId" = b.owner AND r.id IN (SELECT id FROM locked)
        RETURNING r.id, r."userId", r."lastEventSeq", b.n
      ), inserted AS (
        INSERT INTO "RunEvent" ("id", "userId", "runId", "seq", "type", "stepId", "data", "createdAt")
        SELECT e.id, s."userId", s.id, s."lastEventSeq" - s.n + e.position, e.type, e.step, e.data,
               e.at AT TIME ZONE 'UTC'
        FROM unnest(${e.runs}::uuid[], ${e.owners}::uuid[], ${e.positions}::int[], ${e.ids}::uuid[],
                    ${e.types}::text[], ${e.steps}::text[], ${e.data}::jsonb[], ${e.at}::timestamptz[])
             AS e(run, owner, position, id, type, step, data, at)
        JOIN seqs AS s ON s.id = e.run AND s."userId" = e.owner
      ), notified AS (
        SELECT pg_notify(${RUN_EVENTS_CHANNEL}, json_build_object('runs', json_object_agg(t.id, t.seq))::text)
        FROM (SELECT id::text AS id, "lastEventSeq" AS seq, (row_number() OVER () - 1) / 100 AS part FROM seqs) AS t
        WHERE ${notify}
        GROUP BY t.part
      )
      SELECT s.id::text AS id, s."userId"::text AS "userId", (SELECT count(*) FROM notified) AS notifications
      FROM seqs AS s`;
    const written = new Set(rows.map((row) => keyOf(row.id, row.userId)));
    const dropped: Stored["dropped"] = [];
    for (const [key, { runId, events }] of runs) {
      if (events.length > 0 && !written.has(key)) dropped.push({ runId, events: events.length });
    }
    return { dropped };
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
      const pending = toPending(event);
      if (closed) {
        logger?.warn({ runId: run.id, type: event.type }, "run event appended after the writer closed");
        return;
      }
      const key = keyOf(run.id, run.userId);
      let entry = buffer.get(key);
      if (!entry) {
        entry = { runId: run.id, userId: run.userId, events: [] };
        buffer.set(key, entry);
      }
      const before = entry.events.length;
      pushCoalescing(entry.events, pending);
      buffered += entry.events.length - before;
      if (buffered >= maxBatch) {
        flush().catch(() => {});
      } else {
        schedule(flushIntervalMs);
      }
    },
    flush,
    finishRun(run, finish) {
      finishers.push({
        key: keyOf(run.id, run.userId),
        runId: run.id,
        userId: run.userId,
        finish: finish as Finish,
      });
      return flush();
    },
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

/** One cursor of a batched read: the events of `runId` (owned by `userId`) with seq > `afterSeq`. */
export type EventCursor = { runId: string; userId: string; afterSeq: number };

/**
 * `readEvents` for many cursors in ONE query: for each cursor (same order), its events in seq order, at most
 * `limit` (1–1000, default 1000) each. A cursor on another user's run reads as empty.
 */
export async function readEventsBatch(
  db: Db,
  cursors: ReadonlyArray<EventCursor>,
  limit = MAX_READ_EVENTS,
): Promise<StoredRunEvent[][]> {
  const out: StoredRunEvent[][] = cursors.map(() => []);
  if (cursors.length === 0) return out;
  const take = Math.max(1, Math.min(MAX_READ_EVENTS, Math.floor(limit)));
  const rows = await db.$queryRaw<
    Array<{
      i: bigint;
      seq: number;
      type: string;
      stepId: string | null;
      data: Prisma.JsonValue;
      createdAt: Date;
    }>
  >`
    SELECT k.i, e.seq, e.type, e."stepId", e.data, e."createdAt"
    FROM unnest(${cursors.map((c) => c.runId)}::uuid[], ${cursors.map((c) => c.userId)}::uuid[],
                ${cursors.map((c) => Math.max(0, Math.floor(c.afterSeq)))}::int[])
         WITH ORDINALITY AS k(run_id, user_id, after_seq, i)
    CROSS JOIN LATERAL (
      SELECT r.seq, r.type, r."stepId", r.data, r."createdAt" FROM "RunEvent" AS r
      WHERE r."runId" = k.run_id AND r."userId" = k.user_id AND r.seq > k.after_seq
      ORDER BY r.seq LIMIT ${take}
    ) AS e
    ORDER BY k.i, e.seq`;
  for (const row of rows) out[Number(row.i) - 1]!.push(toStored(row));
  return out;
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
