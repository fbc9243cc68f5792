import type { PrismaClient } from "#app/generated/prisma/client.ts";
import type { WorkerLogger } from "./logger.ts";

/**
 * WorkerProcess rows: one per running worker, with a heartbeat. graphile-worker
 * alone leaves a crashed worker's jobs locked for 4 hours; with heartbeats we
 * can tell a dead worker from a slow one and release its jobs
 * (`sweepDeadWorkers`).
 *
 * The row id is also the worker's graphile-worker lock id (`locked_by`), so
 * "jobs of worker X" is a plain equality.
 *
 * Every timestamp here comes from the database clock, written as UTC (Prisma
 * reads `timestamp(3)` as UTC): heartbeats written by one host are judged by
 * another, and host clocks drift; the database's is the one clock they share.
 */

type Db = Pick<PrismaClient, "$executeRaw" | "$queryRaw" | "$transaction">;

export interface WorkerProcessInfo {
  id: string;
  hostname: string;
  pid: number;
  concurrency: number;
  version: string;
}

/** Insert the row for a starting worker. */
export async function registerWorkerProcess(db: Db, info: WorkerProcessInfo): Promise<void> {
  await db.$executeRaw`
    INSERT INTO "WorkerProcess" ("id", "hostname", "pid", "concurrency", "version", "startedAt", "heartbeatAt")
    VALUES (${info.id}::uuid, ${info.hostname}, ${info.pid}, ${info.concurrency}, ${info.version},
            now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC')`;
}

/**
 * Advance the heartbeat. Returns false when the row is already stopped, i.e.
 * a sweep declared this worker dead and released its jobs: the worker must
 * stop taking work, because nobody will release the locks it takes from now on.
 */
export async function beatHeart(db: Db, workerId: string): Promise<boolean> {
  const updated = await db.$executeRaw`
    UPDATE "WorkerProcess" SET "heartbeatAt" = clock_timestamp() AT TIME ZONE 'UTC'
    WHERE "id" = ${workerId}::uuid AND "stoppedAt" IS NULL`;
  return updated > 0;
}

/** Record a clean stop (no jobs left locked by this worker). */
export async function markWorkerStopped(db: Db, workerId: string): Promise<void> {
  await db.$executeRaw`
    UPDATE "WorkerProcess" SET "stoppedAt" = clock_timestamp() AT TIME ZONE 'UTC'
    WHERE "id" = ${workerId}::uuid AND "stoppedAt" IS NULL`;
}

export interface DeadWorker {
  id: string;
  hostname: string;
  pid: number;
  heartbeatAt: Date;
}

/**
 * Workers that never stopped cleanly and whose last heartbeat is older than
 * `olderThanMs`. Pick `olderThanMs` as several heartbeat intervals (e.g. 6×)
 * so a long GC pause or a database blip isn't mistaken for death.
 */
export async function findDeadWorkers({
  db,
  olderThanMs,
}: {
  db: Db;
  olderThanMs: number;
}): Promise<DeadWorker[]> {
  assertPositive(olderThanMs);
  return db.$queryRaw<DeadWorker[]>`
    SELECT "id"::text AS "id", "hostname", "pid", "heartbeatAt"
    FROM "WorkerProcess"
    WHERE "stoppedAt" IS NULL
      AND "heartbeatAt" < (now() AT TIME ZONE 'UTC') - ${olderThanMs}::double precision * interval '1 millisecond'
    ORDER BY "heartbeatAt"`;
}

export interface SweepResult {
  /** Workers declared dead by this sweep (their rows now have `stoppedAt`). */
  workers: DeadWorker[];
  /** Jobs they held, now unlocked and runnable again (their attempt stays counted). */
  releasedJobIds: string[];
}

/**
 * Declare dead workers dead and release their jobs with graphile-worker's
 * `force_unlock_workers`, in one transaction. Marking `stoppedAt` in the same
 * UPDATE that selects them makes concurrent sweeps (one per worker process,
 * say) release each worker once, and fences the worker: if it was only
 * stalled, its next heartbeat finds the row stopped and it shuts down.
 */
export async function sweepDeadWorkers({
  db,
  olderThanMs,
  logger,
}: {
  db: Db;
  olderThanMs: number;
  logger?: WorkerLogger;
}): Promise<SweepResult> {
  assertPositive(olderThanMs);
  const result = await db.$transaction(async (tx) => {
    const workers = await tx.$queryRaw<DeadWorker[]>`
      UPDATE "WorkerProcess" SET "stoppedAt" = now() AT TIME ZONE 'UTC'
      WHERE "stoppedAt" IS NULL
        AND "heartbeatAt" < (now() AT TIME ZONE 'UTC') - ${olderThanMs}::double precision * interval '1 millisecond'
      RETURNING "id"::text AS "id", "hostname", "pid", "heartbeatAt"`;
    if (workers.length === 0) return { workers, releasedJobIds: [] };
    const ids = workers.map((w) => w.id);
    const jobs = await tx.$queryRaw<{ id: string }[]>`
      SELECT "id"::text AS "id" FROM graphile_worker.jobs WHERE "locked_by" = ANY(${ids}::text[])`;
    await tx.$executeRaw`SELECT graphile_worker.force_unlock_workers(${ids}::text[])`;
    if (jobs.length > 0) {
      // Wake idle workers now (graphile-worker's own channel) rather than at their next poll.
      const payload = JSON.stringify({ count: jobs.length });
      await tx.$executeRaw`SELECT pg_notify('jobs:insert', ${payload})`;
    }
    return { workers, releasedJobIds: jobs.map((j) => j.id) };
  });
  for (const worker of result.workers) {
    logger?.warn(
      {
        deadWorkerId: worker.id,
        hostname: worker.hostname,
        pid: worker.pid,
        heartbeatAt: worker.heartbeatAt,
      },
      "worker declared dead; its jobs were released",
    );
  }
  return result;
}

function assertPositive(ms: number): void {
  if (!Number.isFinite(ms) || ms <= 0) throw new Error(`olderThanMs must be a positive number, got ${ms}`);
}
