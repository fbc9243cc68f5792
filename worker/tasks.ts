import { z } from "zod";
import { purgeExpiredCache } from "#app/modules/ai/cache.server.ts";
import { executeRun } from "#app/modules/runs/engine.server.ts";
import {
  createAddJobSql,
  createEnqueue,
  defineRegistry,
  defineTask,
  type TaskPayloadInput,
} from "./task-kit.ts";

export type { EnqueuedJob, EnqueueOptions, SqlClient, TaskContext, TaskDefinition } from "./task-kit.ts";
export { PermanentJobError } from "./task-kit.ts";

/**
 * `worker.probe`: proves the queue end to end. The web inserts a WorkerProbe
 * row and enqueues this job in the same transaction; the worker stamps the
 * row, and `completedAt - requestedAt` is the round trip a page shows.
 *
 * Stamped with this process's clock, like `requestedAt` (Prisma fills
 * `@default(now())` client-side, in the web process): with `npm start` both
 * are the same clock; across hosts the round trip includes their NTP skew.
 * A retry overwrites `startedAt`: it is the start of the attempt that completed.
 */
export const probeTask = defineTask({
  name: "worker.probe",
  payload: z.object({ probeId: z.uuid() }),
  maxAttempts: 5,
  async run({ probeId }, { db, workerId, logger }) {
    const started = await db.workerProbe.updateMany({
      where: { id: probeId },
      data: { startedAt: new Date(), workerId },
    });
    if (started.count === 0) {
      // Deleted since it was requested: nothing to stamp, and retrying won't bring it back.
      logger.warn({ probeId }, "worker probe row not found; skipping");
      return;
    }
    await db.workerProbe.update({ where: { id: probeId }, data: { completedAt: new Date() } });
  },
});

/**
 * `ai.purge-cache`: deletes expired entries of the AI response cache. Scheduled hourly (CRON_ITEMS);
 * expired entries are never served in between, this only reclaims the space.
 */
export const purgeAiCacheTask = defineTask({
  name: "ai.purge-cache",
  // Cron jobs carry graphile-worker's `_cron` field; nothing else is expected.
  payload: z.object({}).passthrough(),
  maxAttempts: 3,
  async run(_payload, { db, logger }) {
    const deleted = await purgeExpiredCache(db, new Date());
    if (deleted > 0) logger.info({ deleted }, "expired AI cache entries deleted");
  },
});

/**
 * `runs.execute`: executes (or resumes) a workflow run. Enqueued by `createRun` in the transaction that
 * writes the run, with job key = run id. A throw (the worker shutting down, a lost connection) retries the
 * job and the engine resumes from the run's checkpoints; on the last attempt the run ends `dead`.
 */
export const executeRunTask = defineTask({
  name: "runs.execute",
  payload: z.object({ runId: z.uuid() }),
  maxAttempts: 3,
  async run({ runId }, { db, logger, workerId, signal, services, job }) {
    const { ai, events, sandbox } = services;
    if (!ai || !events) {
      throw new Error(
        "this worker was started without the AI runtime and a run-event writer (startWorker({ ai, events })); it cannot execute runs",
      );
    }
    const outcome = await executeRun(runId, {
      db,
      ai,
      events,
      logger,
      workerId,
      signal,
      sandbox,
      lastAttempt: job.attempts >= job.maxAttempts,
    });
    logger.info({ runId, outcome }, "run executed");
  },
});

/** Every task the worker runs. Add a task here and `enqueue` knows its name and payload. */
export const taskRegistry = defineRegistry([probeTask, purgeAiCacheTask, executeRunTask]);

/** Recurring jobs: graphile-worker schedules them (once per schedule across all workers). */
export const CRON_ITEMS = [{ task: "ai.purge-cache", match: "17 * * * *", identifier: "ai.purge-cache" }];

export type AppTaskRegistry = typeof taskRegistry;
export type TaskName = keyof AppTaskRegistry;
export type TaskPayload<N extends TaskName> = TaskPayloadInput<AppTaskRegistry, N>;

/**
 * Add a job in the caller's transaction, typed by the registry:
 *
 * ```ts
 * await db.$transaction(async (tx) => {
 *   const probe = await tx.workerProbe.create({ data: {} });
 *   await enqueue(tx, "worker.probe", { probeId: probe.id });
 * });
 * ```
 */
export const enqueue = createEnqueue(taskRegistry);

/** `enqueue` as an SQL fragment, to write a row and its job in one statement (see createAddJobSql). */
export const addJobSql = createAddJobSql(taskRegistry);
