/**
 * Workflow runs: create (the run row and its graphile-worker job in ONE transaction), cancel, read, list.
 * Every query is scoped to the caller: another user's run, workflow or project answers NOT_FOUND exactly like
 * a missing one. Execution itself is the engine's (engine.server.ts), in a worker.
 */
import { type Db, type DbTx, Prisma } from "#app/db/client.server.ts";
import { AppError } from "#app/lib/app-error.ts";
import { clock, isUuid, parseInput } from "#app/lib/use-case.ts";
import { uuidv7 } from "#app/lib/uuid.ts";
import { assertProjectOwned } from "#app/modules/projects/deps.server.ts";
import {
  validateRunInput,
  type WorkflowDefinition,
  ZWorkflowDefinition,
} from "#app/modules/workflows/index.server.ts";
import { addJobSql, enqueue } from "#worker/tasks.ts";
import { RUN_EVENTS_CHANNEL } from "./events.server.ts";
import { isTerminalStatus, type RunEventInput } from "./run-events.types.ts";
import {
  type RunError,
  type RunPage,
  type RunStatus,
  type RunSummary,
  type RunView,
  type StepRunView,
  ZCreateRunInput,
  ZListRunsInput,
} from "./runs.types.ts";

export type RunsDeps = {
  db: Db;
  /** The clock. Default `() => new Date()`; tests pass a fixed one. */
  now?: () => Date;
};

/** The worker task that executes a run; its job key is the run id. */
export const EXECUTE_RUN_TASK = "runs.execute";
/** Attempts of a run (and of its job) before it is given up as dead. */
export const RUN_MAX_ATTEMPTS = 3;
const DEFAULT_PAGE = 20;

export const runNotFound = () => new AppError("NOT_FOUND", "Run not found");
const workflowNotFound = () => new AppError("NOT_FOUND", "Workflow not found");

const RUN_INCLUDE = {
  workflow: { select: { name: true } },
  version: { select: { number: true } },
} as const satisfies Prisma.WorkflowRunInclude;
type RunRow = Prisma.WorkflowRunGetPayload<{ include: typeof RUN_INCLUDE }>;
type StepRow = Prisma.StepRunGetPayload<object>;

function asError(json: Prisma.JsonValue | null): RunError | null {
  if (!json || typeof json !== "object" || Array.isArray(json)) return null;
  const { code, message, stepId } = json as Record<string, unknown>;
  return {
    code: typeof code === "string" ? code : "UNKNOWN",
    message: typeof message === "string" ? message : "",
    ...(typeof stepId === "string" ? { stepId } : {}),
  };
}

function toSummary(row: RunRow): RunSummary {
  return {
    id: row.id,
    projectId: row.projectId,
    workflowId: row.workflowId,
    workflowName: row.workflow.name,
    workflowVersionId: row.workflowVersionId,
    versionNumber: row.version.number,
    status: row.status,
    error: asError(row.error),
    tokensIn: row.tokensIn,
    tokensOut: row.tokensOut,
    costMicros: Number(row.costMicros),
    durationMs: row.durationMs,
    attempt: row.attempt,
    createdAt: row.createdAt,
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
  };
}

function toStepView(row: StepRow): StepRunView {
  return {
    id: row.id,
    stepId: row.stepId,
    index: row.index,
    type: row.type,
    status: row.status,
    attempt: row.attempt,
    input: row.input,
    output: row.output,
    error: asError(row.error),
    tokensIn: row.tokensIn,
    tokensOut: row.tokensOut,
    costMicros: Number(row.costMicros),
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
    reusedFromRunId: reusedFrom(row.state),
  };
}

/** The run whose output a retried step reused (state.reusedFrom.runId), or null. */
function reusedFrom(state: Prisma.JsonValue | null): string | null {
  if (!state || typeof state !== "object" || Array.isArray(state)) return null;
  const from = (state as Record<string, unknown>).reusedFrom;
  if (!from || typeof from !== "object" || Array.isArray(from)) return null;
  const runId = (from as Record<string, unknown>).runId;
  return typeof runId === "string" ? runId : null;
}

function toView(row: RunRow, steps: StepRow[]): RunView {
  return {
    ...toSummary(row),
    input: row.input,
    output: row.output,
    budgetMicros: row.budgetMicros === null ? null : Number(row.budgetMicros),
    maxAttempts: row.maxAttempts,
    cancelRequestedAt: row.cancelRequestedAt,
    heartbeatAt: row.heartbeatAt,
    lastEventSeq: row.lastEventSeq,
    retryOfRunId: row.retryOfRunId,
    steps: steps.map(toStepView),
  };
}

/**
 * Append one event in the caller's transaction (outside the engine, which batches through the EventWriter):
 * the seq comes from the run row's lock, so it stays contiguous with the writer's; NOTIFY fires at commit.
 */
export async function appendEventInTx(
  tx: DbTx,
  run: { id: string; userId: string },
  event: RunEventInput,
): Promise<number> {
  return appendEventsInTx(tx, run, [event]);
}

/** appendEventInTx for several events: consecutive seqs, one insert, one NOTIFY. Returns the last seq. */
export async function appendEventsInTx(
  tx: DbTx,
  run: { id: string; userId: string },
  events: RunEventInput[],
): Promise<number> {
  const updated = await tx.workflowRun.update({
    where: { id: run.id },
    data: { lastEventSeq: { increment: events.length } },
    select: { lastEventSeq: true },
  });
  const last = updated.lastEventSeq;
  const first = last - events.length + 1;
  await tx.runEvent.createMany({
    data: events.map((event, index) => ({
      userId: run.userId,
      runId: run.id,
      seq: first + index,
      type: event.type,
      stepId: event.stepId ?? null,
      data: event.data as Prisma.InputJsonValue,
    })),
  });
  const payload = JSON.stringify({ runs: { [run.id]: last } });
  await tx.$executeRaw`SELECT pg_notify(${RUN_EVENTS_CHANNEL}, ${payload})`;
  return last;
}

// ─── Create ──────────────────────────────────────────────────────────────────

export type CreateRunArgs = {
  userId: string;
  workflowId: string;
  version?: number;
  input?: unknown;
  apiKeyId?: string | null;
  budgetUsd?: number;
};

/**
 * Queue a run of the caller's workflow (latest version unless `version`): the input is checked against the
 * version's inputs (BAD_REQUEST with `details.issues`), then the run row (queued, the validated input) and its
 * `runs.execute` job (job key = run id) are written in one transaction — both or neither.
 */
export async function createRun(args: CreateRunArgs, deps: RunsDeps): Promise<{ runId: string }> {
  const { db } = deps;
  if (!isUuid(args.userId) || !isUuid(args.workflowId)) throw workflowNotFound();
  const parsed = parseInput(ZCreateRunInput, {
    id: args.workflowId,
    input: args.input ?? undefined,
    version: args.version,
    budgetUsd: args.budgetUsd,
  });
  // The workflow and the version to run, in one round trip.
  const [found] = await db.$queryRaw<WorkflowForRun[]>`/* prepared */
    SELECT w."id", w."projectId", w."name", w."archivedAt", w."latestVersion",
           v."id" AS "versionId", v."definition"
    FROM "AIWorkflow" w
    LEFT JOIN "WorkflowVersion" v
      ON v."workflowId" = w."id" AND v."userId" = w."userId"
     AND v."number" = COALESCE(${parsed.version ?? null}::int, w."latestVersion")
    WHERE w."id" = ${parsed.id}::uuid AND w."userId" = ${args.userId}::uuid`;
  if (!found) throw workflowNotFound();
  if (found.archivedAt) {
    throw new AppError("CONFLICT", `The workflow "${found.name}" is archived; restore it to run it`);
  }
  const number = parsed.version ?? found.latestVersion;
  if (!found.versionId) throw new AppError("NOT_FOUND", `Workflow version ${number} not found`);
  const definition = definitionOf(found.versionId, found.definition);
  if (!definition) {
    throw new AppError(
      "CONFLICT",
      `Workflow version ${number} no longer matches the workflow format; save it again`,
    );
  }
  const checked = validateRunInput(definition, parsed.input ?? {});
  if (!checked.ok) {
    const count = checked.errors.length;
    throw new AppError(
      "BAD_REQUEST",
      `The run input has ${count} problem${count === 1 ? "" : "s"}: ${checked.errors[0]?.message ?? "invalid"}`,
      { issues: checked.errors },
    );
  }
  const budgetMicros =
    parsed.budgetUsd === undefined ? null : BigInt(Math.max(1, Math.round(parsed.budgetUsd * 1_000_000)));
  const apiKeyId = args.apiKeyId && isUuid(args.apiKeyId) ? args.apiKeyId : null;

  // The run row and its job in ONE statement: atomic without a transaction block, one round trip.
  // graphile-worker's add_jobs plans its three inner statements afresh at every call (their parameter is an
  // array, so PostgreSQL keeps choosing custom plans): its generic plans, forced for this statement's
  // transaction only (`set_config(…, true)`, scanned before add_job is called), save that planning.
  const now = clock(deps);
  const runId = uuidv7(now.getTime());
  const at = now.toISOString();
  const job = addJobSql(EXECUTE_RUN_TASK, { runId }, { jobKey: runId, maxAttempts: RUN_MAX_ATTEMPTS });
  await db.$queryRaw`/* prepared */
    WITH run AS (
      INSERT INTO "WorkflowRun" ("id", "userId", "projectId", "workflowId", "workflowVersionId", "status",
        "input", "budgetMicros", "apiKeyId", "maxAttempts", "createdAt", "updatedAt")
      VALUES (${runId}::uuid, ${args.userId}::uuid, ${found.projectId}::uuid, ${found.id}::uuid,
        ${found.versionId}::uuid, 'queued'::"RunStatus", ${JSON.stringify(checked.value)}::jsonb,
        ${budgetMicros === null ? null : budgetMicros.toString()}::bigint, ${apiKeyId}::uuid,
        ${RUN_MAX_ATTEMPTS}::int, (${at}::timestamptz AT TIME ZONE 'UTC'), (${at}::timestamptz AT TIME ZONE 'UTC'))
      RETURNING "id"
    )
    SELECT (${job}).id::text AS "jobId"
    FROM run, (SELECT set_config('plan_cache_mode', 'force_generic_plan', true)) AS generic`;
  return { runId };
}

type WorkflowForRun = {
  id: string;
  projectId: string;
  name: string;
  archivedAt: Date | null;
  latestVersion: number;
  versionId: string | null;
  definition: unknown;
};

/** Versions never change: their parsed definitions are kept (null: the stored JSON no longer fits). */
const definitions = new Map<string, WorkflowDefinition | null>();
const MAX_CACHED_DEFINITIONS = 500;

function definitionOf(versionId: string, raw: unknown): WorkflowDefinition | null {
  const cached = definitions.get(versionId);
  if (cached !== undefined) return cached;
  const result = ZWorkflowDefinition.safeParse(raw);
  const value = result.success ? result.data : null;
  if (definitions.size >= MAX_CACHED_DEFINITIONS) {
    const oldest = definitions.keys().next().value;
    if (oldest !== undefined) definitions.delete(oldest);
  }
  definitions.set(versionId, value);
  return value;
}

type QueuedRunData = {
  userId: string;
  projectId: string;
  workflowId: string;
  workflowVersionId: string;
  input: Prisma.InputJsonValue;
  budgetMicros: bigint | null;
  apiKeyId: string | null;
  retryOfRunId?: string | null;
};

/** The run row (queued) and its `runs.execute` job, in the caller's transaction. */
async function insertQueuedRun(tx: DbTx, data: QueuedRunData, deps: RunsDeps) {
  const created = await tx.workflowRun.create({
    data: { ...data, status: "queued", maxAttempts: RUN_MAX_ATTEMPTS, createdAt: clock(deps) },
    select: { id: true },
  });
  await enqueue(
    tx,
    EXECUTE_RUN_TASK,
    { runId: created.id },
    { jobKey: created.id, maxAttempts: RUN_MAX_ATTEMPTS },
  );
  return created;
}

// ─── Retry and re-run ────────────────────────────────────────────────────────

/** Statuses a run can be retried from (its failed step onwards). */
export const RETRYABLE_STATUSES = ["failed", "cancelled", "dead"] as const;

/**
 * Start a new run from a finished one of the caller's, on the SAME pinned version with the SAME input (and
 * cost cap), linked by `retryOfRunId`.
 *
 * - `retry` (a failed, cancelled or dead run): the steps that succeeded are reused — their StepRuns are
 *   copied into the new run as checkpoints (output kept, no tokens or cost: they were paid by the first run),
 *   so the engine resumes at the step that failed. Each reused step gets a `step_finished` event and one
 *   `log` event says what was reused, so a watcher sees the whole picture from seq 1.
 * - `rerun` (any finished run): every step runs again.
 *
 * A run still queued or running is a CONFLICT, as is an archived workflow.
 */
export async function restartRun(
  args: { userId: string; runId: string; mode: "retry" | "rerun"; apiKeyId?: string | null },
  deps: RunsDeps,
): Promise<{ runId: string; reusedSteps: string[] }> {
  const { db } = deps;
  const { userId, runId, mode } = args;
  if (!isUuid(userId) || !isUuid(runId)) throw runNotFound();
  const source = await db.workflowRun.findFirst({
    where: { id: runId, userId },
    select: {
      id: true,
      status: true,
      projectId: true,
      workflowId: true,
      workflowVersionId: true,
      input: true,
      budgetMicros: true,
      workflow: { select: { name: true, archivedAt: true } },
    },
  });
  if (!source) throw runNotFound();
  if (!isTerminalStatus(source.status)) {
    throw new AppError("CONFLICT", `The run is still ${source.status}; cancel it or wait for it to finish`, {
      status: source.status,
    });
  }
  if (mode === "retry" && !(RETRYABLE_STATUSES as readonly string[]).includes(source.status)) {
    throw new AppError(
      "CONFLICT",
      `Only a failed, cancelled or dead run can be retried from its failed step (this one ${source.status}); re-run it instead`,
      { status: source.status },
    );
  }
  if (source.workflow.archivedAt) {
    throw new AppError(
      "CONFLICT",
      `The workflow "${source.workflow.name}" is archived; restore it to run it`,
    );
  }
  const reused =
    mode === "retry"
      ? await db.stepRun.findMany({
          where: { runId: source.id, userId, status: "succeeded" },
          orderBy: { index: "asc" },
        })
      : [];
  const apiKeyId = args.apiKeyId && isUuid(args.apiKeyId) ? args.apiKeyId : null;

  const created = await db.$transaction(async (tx) => {
    const run = await insertQueuedRun(
      tx,
      {
        userId,
        projectId: source.projectId,
        workflowId: source.workflowId,
        workflowVersionId: source.workflowVersionId,
        input: source.input as Prisma.InputJsonValue,
        budgetMicros: source.budgetMicros,
        apiKeyId,
        retryOfRunId: source.id,
      },
      deps,
    );
    if (reused.length > 0) {
      await tx.stepRun.createMany({
        data: reused.map((step) => ({
          userId,
          runId: run.id,
          stepId: step.stepId,
          index: step.index,
          type: step.type,
          status: "succeeded" as const,
          attempt: 0,
          input: step.input ?? Prisma.JsonNull,
          output: step.output ?? Prisma.JsonNull,
          state: { reusedFrom: { runId: source.id, stepRunId: step.id } },
          startedAt: step.startedAt,
          finishedAt: step.finishedAt,
        })),
      });
      const ids = reused.map((step) => `"${step.stepId}"`).join(", ");
      await appendEventsInTx(tx, { id: run.id, userId }, [
        {
          type: "log",
          data: {
            level: "info",
            message: `Retry of run ${source.id}: reusing the output of ${reused.length} finished step${reused.length === 1 ? "" : "s"} (${ids})`,
          },
        },
        ...reused.map(
          (step): RunEventInput => ({
            type: "step_finished",
            stepId: step.stepId,
            data: { stepId: step.stepId, status: "succeeded", output: step.output, durationMs: 0 },
          }),
        ),
      ]);
    }
    return run;
  });
  return { runId: created.id, reusedSteps: reused.map((step) => step.stepId) };
}

// ─── Read ────────────────────────────────────────────────────────────────────

/** The caller's run with its steps (by position), totals and error. */
export async function getRun({ userId, runId }: { userId: string; runId: string }, deps: RunsDeps) {
  if (!isUuid(userId) || !isUuid(runId)) throw runNotFound();
  const row = await deps.db.workflowRun.findFirst({ where: { id: runId, userId }, include: RUN_INCLUDE });
  if (!row) throw runNotFound();
  const steps = await deps.db.stepRun.findMany({ where: { runId, userId }, orderBy: { index: "asc" } });
  return toView(row, steps);
}

/**
 * The caller's runs, newest first, optionally of one project, workflow and/or status. Cursor pagination:
 * `nextCursor` is the last run's id (uuidv7); a cursor that is not one of the caller's runs is a BAD_REQUEST.
 */
export async function listRuns(
  args: {
    userId: string;
    projectId?: string;
    workflowId?: string;
    status?: RunStatus;
    limit?: number;
    cursor?: string;
  },
  deps: RunsDeps,
): Promise<RunPage> {
  const { db } = deps;
  const { userId } = args;
  const input = parseInput(ZListRunsInput, {
    projectId: args.projectId,
    workflowId: args.workflowId,
    status: args.status,
    limit: args.limit,
    cursor: args.cursor,
  });
  if (!isUuid(userId)) return { items: [], nextCursor: null };
  if (input.projectId) await assertProjectOwned(db, userId, input.projectId);
  if (input.workflowId) {
    const found = await db.aIWorkflow.findFirst({
      where: { id: input.workflowId, userId },
      select: { id: true },
    });
    if (!found) throw workflowNotFound();
  }
  const limit = input.limit ?? DEFAULT_PAGE;
  const where: Prisma.WorkflowRunWhereInput = {
    userId,
    ...(input.projectId ? { projectId: input.projectId } : {}),
    ...(input.workflowId ? { workflowId: input.workflowId } : {}),
    ...(input.status ? { status: input.status } : {}),
  };
  if (input.cursor !== undefined) {
    const bad = () => new AppError("BAD_REQUEST", "Invalid cursor: pass the nextCursor of the previous page");
    if (!isUuid(input.cursor)) throw bad();
    const at = await db.workflowRun.findFirst({
      where: { id: input.cursor, userId },
      select: { id: true, createdAt: true },
    });
    if (!at) throw bad();
    where.OR = [{ createdAt: { lt: at.createdAt } }, { createdAt: at.createdAt, id: { lt: at.id } }];
  }
  const rows = await db.workflowRun.findMany({
    where,
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: limit + 1,
    include: RUN_INCLUDE,
  });
  const page = rows.slice(0, limit);
  return {
    items: page.map(toSummary),
    nextCursor: rows.length > limit ? (page[page.length - 1]?.id ?? null) : null,
  };
}

// ─── Cancel ──────────────────────────────────────────────────────────────────

/**
 * Cancel the caller's run. Finished → CONFLICT. Queued → cancelled at once (its job is removed; a worker
 * that picks it up anyway finds it finished). Running → `cancelRequestedAt` is set and the engine, which
 * checks it every second, aborts the model call in flight and marks the run cancelled.
 */
export async function cancelRun({ userId, runId }: { userId: string; runId: string }, deps: RunsDeps) {
  const { db } = deps;
  if (!isUuid(userId) || !isUuid(runId)) throw runNotFound();
  const run = await db.workflowRun.findFirst({
    where: { id: runId, userId },
    select: { id: true, status: true },
  });
  if (!run) throw runNotFound();
  if (isTerminalStatus(run.status)) {
    throw new AppError("CONFLICT", `The run has already finished (${run.status})`, { status: run.status });
  }
  const now = clock(deps);
  if (run.status === "queued") {
    const done = await db.$transaction(async (tx) => {
      const updated = await tx.workflowRun.updateMany({
        where: { id: runId, userId, status: "queued" },
        data: { status: "cancelled", cancelRequestedAt: now, finishedAt: now },
      });
      if (updated.count === 0) return false;
      await appendEventInTx(tx, { id: runId, userId }, { type: "status", data: { status: "cancelled" } });
      // Not needed for correctness (the engine returns on a finished run); it spares a worker the pickup.
      await tx.$queryRaw`SELECT graphile_worker.remove_job(${runId}::text)`;
      return true;
    });
    if (done) return getRun({ userId, runId }, deps);
  }
  // Running (or it started meanwhile): ask the engine to stop.
  const updated = await db.workflowRun.updateMany({
    where: { id: runId, userId, status: { in: ["queued", "running"] } },
    data: { cancelRequestedAt: now },
  });
  if (updated.count === 0) {
    const current = await db.workflowRun.findFirst({
      where: { id: runId, userId },
      select: { status: true },
    });
    throw new AppError("CONFLICT", `The run has already finished (${current?.status ?? "unknown"})`, {
      status: current?.status,
    });
  }
  return getRun({ userId, runId }, deps);
}
