import type { JobHelpers, Task, TaskList } from "graphile-worker";
import { z } from "zod";
import { Prisma, type PrismaClient } from "#app/generated/prisma/client.ts";
import type { AiRuntime } from "#app/modules/ai/runtime.server.ts";
import type { RunSandbox } from "#app/modules/runs/engine.server.ts";
import type { EventWriter } from "#app/modules/runs/events.server.ts";
import type { WorkerLogger } from "./logger.ts";

/**
 * The machinery behind `worker/tasks.ts`: typed task definitions, the typed
 * `enqueue` that writes a job in the caller's transaction, and the adapter that
 * turns a registry into graphile-worker's `TaskList`.
 */

/** graphile-worker's schema; we never configure another one. */
export const GRAPHILE_WORKER_SCHEMA = "graphile_worker";

/** graphile-worker's default when a job is added without `max_attempts`. */
export const DEFAULT_MAX_ATTEMPTS = 25;

/**
 * Long-lived services the process hands to its tasks (built once, before the worker starts). Optional: a
 * worker started without them (tests of the queue itself) still runs the tasks that do not need them.
 */
export interface TaskServices {
  /** The AI module (the AIServiceProxy for model calls). */
  ai?: AiRuntime;
  /** The process's batching writer of run events. */
  events?: EventWriter;
  /** Where and how sandboxed commands run (workflow `command` steps). Absent: they are refused. */
  sandbox?: RunSandbox;
}

/** What a task's `run` receives besides its parsed payload. */
export interface TaskContext {
  /** The worker's Prisma client. Tasks open their own transactions with it. */
  db: PrismaClient;
  /** Scoped to this job: bindings `task`, `jobId`, `attempt`. */
  logger: WorkerLogger;
  /** The `WorkerProcess.id` of the worker running this job (also the job's `locked_by`). */
  workerId: string;
  job: {
    id: string;
    /** 1 on the first run; counts the attempt in progress. */
    attempts: number;
    maxAttempts: number;
    /** The job key given at enqueue, if any. */
    key: string | null;
  };
  /**
   * Aborts when the worker is shutting down and the grace period for running
   * jobs has passed; long tasks should checkpoint and return (or throw) when it fires.
   */
  signal: AbortSignal;
  /** Services of the process (AI runtime, run-event writer), when the worker was given them. */
  services: TaskServices;
}

/** One kind of job: a name, the zod schema of its payload and the code that runs it. */
export interface TaskDefinition<TName extends string = string, TSchema extends z.ZodType = z.ZodType> {
  readonly name: TName;
  /** Parsed before `run`; a payload that fails to parse fails the job permanently. */
  readonly payload: TSchema;
  /** Default `max_attempts` for jobs enqueued through `enqueue`. Defaults to 25 (graphile-worker's). */
  readonly maxAttempts?: number;
  // Method syntax on purpose: it keeps `run` bivariant, so a registry of
  // specific tasks is assignable to `TaskDefinition[]`.
  run(payload: z.output<TSchema>, ctx: TaskContext): Promise<void>;
}

/** Identity function that pins the literal task name and the schema type. */
export function defineTask<const TName extends string, TSchema extends z.ZodType>(
  definition: TaskDefinition<TName, TSchema>,
): TaskDefinition<TName, TSchema> {
  return definition;
}

/** Tasks indexed by name. */
export type TaskRegistry = { readonly [name: string]: TaskDefinition };

/** Index a list of task definitions by name, keeping each one's exact type. Throws on a duplicate name. */
export function defineRegistry<const T extends readonly TaskDefinition[]>(
  definitions: T,
): { readonly [D in T[number] as D["name"]]: D } {
  const registry: Record<string, TaskDefinition> = {};
  for (const definition of definitions) {
    if (registry[definition.name]) throw new Error(`Task "${definition.name}" is defined twice`);
    registry[definition.name] = definition;
  }
  return registry as { readonly [D in T[number] as D["name"]]: D };
}

/** The payload a caller passes for task `N` (zod input type: before defaults and transforms). */
export type TaskPayloadInput<R extends TaskRegistry, N extends keyof R> = z.input<R[N]["payload"]>;

/**
 * Thrown (by the task wrapper on a bad payload, or by a task itself) when
 * retrying cannot help. The job is marked permanently failed at once, with
 * this message as its `last_error`, instead of being retried 25 times.
 */
export class PermanentJobError extends Error {
  override readonly name = "PermanentJobError";
}

/** Options of `graphile_worker.add_job`. */
export interface EnqueueOptions {
  /** Dedupe key: a second job with the same key replaces the first (see `jobKeyMode`). */
  jobKey?: string;
  /** Default "replace". "unsafe_dedupe" keeps an existing job, even a running or failed one. */
  jobKeyMode?: "replace" | "preserve_run_at" | "unsafe_dedupe";
  /** Run no earlier than this. Default: now. */
  runAt?: Date;
  /** Default: the task's `maxAttempts`, else 25. */
  maxAttempts?: number;
  /** Jobs sharing a queue name run one at a time. Keep the number of names small. */
  queueName?: string;
  /** Lower runs first. Default 0. */
  priority?: number;
  /** Flags a worker can be told to skip (`forbiddenFlags`). */
  flags?: string[];
}

/**
 * Whatever can run a raw query: the PrismaClient itself or the `tx` of an
 * interactive transaction (`db.$transaction(async (tx) => …)`).
 */
export type SqlClient = Pick<PrismaClient, "$queryRaw">;

export interface EnqueuedJob {
  /** graphile-worker job id (bigint as a string). */
  id: string;
}

export type Enqueue<R extends TaskRegistry> = <N extends keyof R & string>(
  tx: SqlClient,
  name: N,
  payload: TaskPayloadInput<R, N>,
  options?: EnqueueOptions,
) => Promise<EnqueuedJob>;

const ZEnqueueOptions = z.object({
  jobKey: z.string().min(1).max(512).optional(),
  jobKeyMode: z.enum(["replace", "preserve_run_at", "unsafe_dedupe"]).optional(),
  runAt: z.date().optional(),
  maxAttempts: z.int().min(1).max(32767).optional(),
  queueName: z.string().min(1).max(128).optional(),
  priority: z.int().min(-32768).max(32767).optional(),
  flags: z.array(z.string().min(1)).optional(),
});

/**
 * Build the typed `enqueue` for a registry. The job is written with
 * `graphile_worker.add_job` on the connection of `tx`, so it commits or rolls
 * back with the caller's business write, and workers are woken by the NOTIFY
 * that add_job sends at commit.
 *
 * The payload is parsed here too, so a bad payload fails in the caller's
 * request (and rolls its transaction back) rather than later in a worker.
 */
export function createEnqueue<R extends TaskRegistry>(registry: R): Enqueue<R> {
  const addJob = createAddJobSql(registry);
  return async (tx, name, payload, options = {}) => {
    const rows = await tx.$queryRaw<
      { id: string }[]
    >`SELECT (${addJob(name, payload, options)}).id::text AS id`;
    const row = rows[0];
    if (!row) throw new Error(`graphile_worker.add_job returned no row for task "${name}"`);
    return { id: row.id };
  };
}

export type AddJobSql<R extends TaskRegistry> = <N extends keyof R & string>(
  name: N,
  payload: TaskPayloadInput<R, N>,
  options?: EnqueueOptions,
) => Prisma.Sql;

/**
 * The checked `graphile_worker.add_job(...)` call as an SQL fragment, for a statement that writes a business
 * row and its job at once (`WITH row AS (INSERT …) SELECT add_job(…) FROM row`): one round trip, atomic
 * without a transaction block. Same payload and option checks as `enqueue`.
 */
export function createAddJobSql<R extends TaskRegistry>(registry: R): AddJobSql<R> {
  return (name, payload, options = {}) => {
    const definition = registry[name];
    if (!definition) throw new Error(`Unknown task "${name}"`);
    const parsed = definition.payload.safeParse(payload);
    if (!parsed.success) {
      throw new Error(`Invalid payload for task "${name}": ${formatIssues(parsed.error)}`);
    }
    const opts = ZEnqueueOptions.parse(options);
    const maxAttempts = opts.maxAttempts ?? definition.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    // Named arguments so the call survives add_job gaining parameters. Dates go
    // as ISO strings: an explicit offset is never reinterpreted by a session time zone.
    return Prisma.sql`graphile_worker.add_job(
        identifier => ${name}::text,
        payload => ${JSON.stringify(parsed.data)}::json,
        queue_name => ${opts.queueName ?? null}::text,
        run_at => ${opts.runAt?.toISOString() ?? null}::timestamptz,
        max_attempts => ${maxAttempts}::int,
        job_key => ${opts.jobKey ?? null}::text,
        priority => ${opts.priority ?? null}::int,
        flags => ${opts.flags ?? null}::text[],
        job_key_mode => ${opts.jobKeyMode ?? "replace"}::text
      )`;
  };
}

/** `path: message; path: message` — one line, fit for a job's `last_error`. */
export function formatIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => (issue.path.length > 0 ? `${issue.path.join(".")}: ${issue.message}` : issue.message))
    .join("; ");
}

/** What `buildTaskList` needs from the worker that runs the tasks. */
export interface TaskDependencies {
  db: PrismaClient;
  logger: WorkerLogger;
  workerId: string;
  services?: TaskServices;
}

/**
 * graphile-worker's `TaskList` for a registry: each executor parses the
 * payload with the task's zod schema (payloads are `unknown` until parsed: a
 * job can come from SQL, an older deploy, or a hand-edited row), then runs it.
 */
export function buildTaskList(registry: TaskRegistry, deps: TaskDependencies): TaskList {
  const taskList: TaskList = {};
  for (const definition of Object.values(registry)) {
    taskList[definition.name] = makeExecutor(definition, deps);
  }
  return taskList;
}

function makeExecutor(definition: TaskDefinition, deps: TaskDependencies): Task {
  return async (rawPayload, helpers) => {
    const { job } = helpers;
    const parsed = definition.payload.safeParse(rawPayload);
    if (!parsed.success) {
      const error = new PermanentJobError(
        `Invalid payload for task "${definition.name}": ${formatIssues(parsed.error)}`,
      );
      await markNoRetry(helpers);
      throw error;
    }
    const ctx: TaskContext = {
      db: deps.db,
      logger: deps.logger.child({ task: definition.name, jobId: job.id, attempt: job.attempts }),
      workerId: deps.workerId,
      job: { id: job.id, attempts: job.attempts, maxAttempts: job.max_attempts, key: job.key },
      signal: helpers.abortSignal,
      services: deps.services ?? {},
    };
    try {
      await definition.run(parsed.data, ctx);
    } catch (error) {
      if (error instanceof PermanentJobError) await markNoRetry(helpers);
      throw error;
    }
  };
}

/**
 * graphile-worker (0.18) has no "don't retry" error: a throw always
 * reschedules while attempts < max_attempts. So, while we still hold the
 * lock, lower this job's max_attempts to the attempts already made; the
 * failure graphile-worker then records leaves it permanently failed (kept,
 * with last_error, never picked again). `permanently_fail_jobs` can't be used
 * here: it skips locked jobs.
 */
async function markNoRetry(helpers: JobHelpers): Promise<void> {
  const { job } = helpers;
  await helpers.query(
    `update ${GRAPHILE_WORKER_SCHEMA}._private_jobs set max_attempts = attempts where id = $1::bigint and locked_by is not null`,
    [job.id],
  );
  // The worker decides "failed forever" (job:failed event, log line) from
  // this in-memory row, so keep it in step with the database.
  job.max_attempts = job.attempts;
}
