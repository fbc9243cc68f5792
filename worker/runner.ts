import { randomUUID } from "node:crypto";
import { EventEmitter, setMaxListeners } from "node:events";
import { hostname } from "node:os";
import { type CronItem, parseCronItems, type Runner, run, type WorkerEvents } from "graphile-worker";
import type { PrismaClient } from "#app/generated/prisma/client.ts";
import type { AiRuntime } from "#app/modules/ai/runtime.server.ts";
import type { RunSandbox } from "#app/modules/runs/engine.server.ts";
import { createEventWriter, type EventWriter } from "#app/modules/runs/events.server.ts";
import packageJson from "../package.json" with { type: "json" };
import { toGraphileLogger, type WorkerLogger } from "./logger.ts";
import { buildTaskList, type TaskRegistry } from "./task-kit.ts";
import { CRON_ITEMS, taskRegistry } from "./tasks.ts";
import { beatHeart, markWorkerStopped, registerWorkerProcess, sweepDeadWorkers } from "./worker-process.ts";

export interface StartWorkerOptions {
  /** PostgreSQL URL for graphile-worker's own pool (LISTEN, fetching and completing jobs). */
  connectionString: string;
  /** Prisma client handed to tasks and used for the WorkerProcess row. Owned by the caller: never disconnected here. */
  db: PrismaClient;
  logger: WorkerLogger;
  /** Jobs run at once. Default 4. */
  concurrency?: number;
  /** How often the WorkerProcess heartbeat is written. Default 5000 ms. */
  heartbeatMs?: number;
  /**
   * A worker whose heartbeat is older than this is presumed dead: with each heartbeat, this worker sweeps
   * such workers (marks them stopped and releases their jobs with force_unlock_workers, so their runs resume
   * elsewhere). Default 30 000 ms; 0 turns the sweep off.
   */
  deadAfterMs?: number;
  /**
   * How often idle workers poll for due jobs. New jobs wake workers at once
   * through LISTEN/NOTIFY; polling only finds retries and `runAt` jobs coming
   * due. Default 2000 ms (graphile-worker's).
   */
  pollInterval?: number;
  /** WorkerProcess.id, also the graphile-worker lock id of this worker's jobs. Default: a random UUID. */
  workerId?: string;
  /** Recorded on the WorkerProcess row. Default: package.json version. */
  version?: string;
  /** How long `stop()` waits for running jobs before giving up on them. Default 25 000 ms. */
  shutdownTimeoutMs?: number;
  /** After this long into a shutdown, running tasks' `ctx.signal` aborts. Default 5000 ms. */
  abortAfterMs?: number;
  /** Tasks this worker runs. Default: the app registry (`worker/tasks.ts`). */
  tasks?: TaskRegistry;
  /** Recurring jobs. Default: the app's CRON_ITEMS with the app registry, none with a custom one. */
  cronItems?: CronItem[];
  /** The AI runtime tasks call models through (`runs.execute` needs it). */
  ai?: AiRuntime;
  /**
   * The run-event writer tasks append to. Owned by the caller when given (close it after `stop()`); when
   * absent and `ai` is given, the worker makes one on `db` and closes it when it stops.
   */
  events?: EventWriter;
  /** Sandbox settings for workflow `command` steps; absent: such steps fail with SANDBOX_UNAVAILABLE. */
  sandbox?: RunSandbox;
}

/**
 * Whether a worker may sweep for dead workers now: the sweep is on, and its own heartbeats have succeeded
 * without a miss for two beats (`healthySince`: the first success after the last failure or the start). After
 * a database outage longer than deadAfterMs every heartbeat in the table is stale; the grace lets the other
 * workers beat once before anyone is declared dead.
 */
export function maySweep({
  deadAfterMs,
  heartbeatMs,
  healthySince,
  now,
}: {
  deadAfterMs: number;
  heartbeatMs: number;
  healthySince: number | null;
  now: number;
}): boolean {
  return deadAfterMs > 0 && healthySince !== null && now - healthySince >= 2 * heartbeatMs;
}

export interface StopResult {
  /**
   * True when every running job finished (results written) before the
   * timeout. False: the jobs still running stay locked by this worker; its
   * heartbeat has stopped, so the dead-worker sweep releases them.
   */
  drained: boolean;
}

export interface WorkerHandle {
  workerId: string;
  /**
   * Graceful stop: take no new jobs, let running ones finish (up to
   * `timeoutMs`, default `shutdownTimeoutMs`), record `stoppedAt`, release
   * graphile-worker's pool. Idempotent: later calls return the first call's promise.
   */
  stop(options?: { timeoutMs?: number }): Promise<StopResult>;
  /** The graphile-worker runner: `events` for observers, `promise` settles when it has stopped. */
  runner: Runner;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Start a graphile-worker runner for the task registry, with a WorkerProcess
 * row and a heartbeat. Signals are the caller's business (`noHandleSignals`):
 * the web server runs this in-process and owns SIGTERM; `worker/index.ts` is
 * the standalone entry.
 */
export async function startWorker(options: StartWorkerOptions): Promise<WorkerHandle> {
  const {
    connectionString,
    db,
    concurrency = 4,
    heartbeatMs = 5000,
    deadAfterMs = 30_000,
    pollInterval,
    workerId = randomUUID(),
    version = packageJson.version,
    shutdownTimeoutMs = 25_000,
    abortAfterMs = 5000,
    tasks = taskRegistry,
    cronItems = tasks === taskRegistry ? CRON_ITEMS : [],
  } = options;
  if (!UUID.test(workerId)) throw new Error(`workerId must be a UUID, got "${workerId}"`);
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new Error("concurrency must be a positive integer");
  if (!(heartbeatMs > 0)) throw new Error("heartbeatMs must be positive");
  const logger = options.logger.child({ workerId });
  const ownEvents = !options.events && options.ai ? createEventWriter({ db, logger }) : undefined;
  const services = { ai: options.ai, events: options.events ?? ownEvents, sandbox: options.sandbox };

  await registerWorkerProcess(db, {
    id: workerId,
    hostname: hostname(),
    pid: process.pid,
    concurrency,
    version,
  });

  const events: WorkerEvents = new EventEmitter();
  // graphile-worker locks jobs with its pool id, a random "pool-…" string it
  // gives no option for. The pool object is ours to read (`workerPool.id` is a
  // plain mutable property) and "pool:create" fires synchronously before any
  // worker fetches a job, so renaming it here makes locked_by = WorkerProcess.id.
  // runner.test.ts asserts this, so an upgrade that breaks it fails loudly.
  events.on("pool:create", ({ workerPool }) => {
    workerPool.id = workerId;
    // Every running job listens to the pool's shutdown signal (the run engine does): up to `concurrency`
    // listeners plus graphile-worker's own are expected, not a leak.
    setMaxListeners(concurrency + 10, workerPool.abortSignal);
  });

  let runner: Runner;
  try {
    runner = await run({
      connectionString: withApplicationName(connectionString, "agentry-worker-queue"),
      concurrency,
      // graphile-worker's advice: at least 10, and concurrency + 2 (LISTEN + completing jobs).
      maxPoolSize: Math.max(10, concurrency + 2),
      pollInterval,
      noHandleSignals: true,
      logger: toGraphileLogger(logger),
      events,
      taskList: buildTaskList(tasks, { db, logger, workerId, services }),
      // Our schedule from code; a list (even an empty one) also stops graphile-worker reading ./crontab from the cwd.
      parsedCronItems: parseCronItems(cronItems),
      gracefulShutdownAbortTimeout: abortAfterMs,
      preset: {
        worker: {
          // Batch delays >= 0 queue completions and flush them on shutdown.
          // The default (-1) fires them unawaited, and a graceful shutdown can
          // end the pool first: the job's result is lost and it runs again.
          completeJobBatchDelay: 0,
          failJobBatchDelay: 0,
        },
      },
    });
  } catch (error) {
    await markWorkerStopped(db, workerId).catch(() => undefined);
    await ownEvents?.close().catch(() => undefined);
    throw error;
  }

  let heartbeatTimer: NodeJS.Timeout | undefined;
  let heartbeatStopped = false;
  let stopPromise: Promise<StopResult> | undefined;
  let runnerSettled = false;

  /**
   * Since when this worker's heartbeats have succeeded without a miss (null while they fail). It sweeps only
   * after two clean beats: when the database comes back from an outage longer than deadAfterMs, every
   * worker's heartbeat is stale, and the first to reconnect must give the others a beat to show they live.
   */
  let healthySince: number | null = null;
  const scheduleHeartbeat = () => {
    if (heartbeatStopped) return;
    heartbeatTimer = setTimeout(async () => {
      try {
        const alive = await beatHeart(db, workerId);
        healthySince ??= Date.now();
        if (!alive && !heartbeatStopped) {
          logger.error(
            "this worker was declared dead (its WorkerProcess row is stopped) and its jobs were released; stopping",
          );
          void handle.stop();
          return;
        }
      } catch (error) {
        // A database blip: keep going; the sweep tolerates several missed beats.
        healthySince = null;
        logger.warn({ err: error }, "worker heartbeat failed");
      }
      if (!heartbeatStopped && maySweep({ deadAfterMs, heartbeatMs, healthySince, now: Date.now() })) {
        // Every live worker sweeps; the UPDATE … RETURNING in sweepDeadWorkers lets exactly one release each.
        await sweepDeadWorkers({ db, olderThanMs: deadAfterMs, logger }).catch((error: unknown) =>
          logger.warn({ err: error }, "dead-worker sweep failed"),
        );
      }
      scheduleHeartbeat();
    }, heartbeatMs);
    // The runner keeps the process alive while it runs; the heartbeat must not do so on its own.
    heartbeatTimer.unref();
  };
  const stopHeartbeat = () => {
    heartbeatStopped = true;
    if (heartbeatTimer) clearTimeout(heartbeatTimer);
  };

  runner.promise.then(
    () => {
      runnerSettled = true;
      if (!stopPromise) {
        logger.warn("graphile-worker runner exited on its own");
        stopHeartbeat();
        void markWorkerStopped(db, workerId).catch(() => undefined);
      }
    },
    (error: unknown) => {
      runnerSettled = true;
      logger.error({ err: error }, "graphile-worker runner failed");
      stopHeartbeat();
    },
  );

  const doStop = async (timeoutMs: number): Promise<StopResult> => {
    stopHeartbeat();
    logger.info("worker stopping: no new jobs; waiting for running jobs");
    const finished = runnerSettled
      ? Promise.resolve()
      : runner.stop().catch((error: unknown) => {
          // "Runner is already stopped" when it exited on its own meanwhile.
          if (!runnerSettled) logger.error({ err: error }, "graceful worker shutdown failed");
        });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    const outcome = await Promise.race([finished.then(() => "done" as const), timedOut]);
    clearTimeout(timer);
    // Events the finished (or interrupted) jobs appended are written before the worker says it stopped.
    await ownEvents
      ?.close()
      .catch((error: unknown) => logger.error({ err: error }, "run events could not be written"));
    if (outcome === "timeout") {
      const stuck = await db.$queryRaw<{ id: string }[]>`
        SELECT "id"::text AS "id" FROM graphile_worker.jobs WHERE "locked_by" = ${workerId}`.catch(() => []);
      logger.warn(
        { jobIds: stuck.map((j) => j.id), timeoutMs },
        "worker shutdown timed out; unfinished jobs stay locked until the dead-worker sweep releases them",
      );
      return { drained: false };
    }
    await markWorkerStopped(db, workerId);
    logger.info("worker stopped");
    return { drained: true };
  };

  const handle: WorkerHandle = {
    workerId,
    runner,
    stop({ timeoutMs = shutdownTimeoutMs } = {}) {
      stopPromise ??= doStop(timeoutMs);
      return stopPromise;
    },
  };

  scheduleHeartbeat();
  logger.info({ concurrency, heartbeatMs, tasks: Object.keys(tasks) }, "worker started");
  return handle;
}

/** Label graphile-worker's connections in pg_stat_activity, unless the URL already names itself. */
function withApplicationName(connectionString: string, name: string): string {
  try {
    const url = new URL(connectionString);
    if (url.searchParams.has("application_name")) return connectionString;
    url.searchParams.set("application_name", name);
    return url.toString();
  } catch {
    return connectionString; // not a URL (e.g. a libpq key=value string): leave it to pg
  }
}
