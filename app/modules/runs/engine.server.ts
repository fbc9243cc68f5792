/**
 * The workflow engine: executes one run, in a worker (task `runs.execute`, job key = run id).
 *
 * Durable by checkpoints: every step's StepRun is written `succeeded` (with its output) BEFORE the next step
 * starts, and a resumed run (a retried job, after a crash or a shutdown) skips the steps that succeeded and
 * reuses their outputs. A step that did not finish runs again (at-least-once).
 *
 * While it runs, a timer (~1 s) stamps the run's heartbeatAt and reads cancelRequestedAt; a cancel aborts the
 * model call in flight (upstream included) and ends the run `cancelled`. The worker's shutdown signal aborts
 * too, but leaves the run `running` and throws, so graphile-worker retries the job and the run resumes.
 *
 * Few round trips per run: ONE statement claims the run (marks it running, reads its definition, project and
 * checkpoints); each step starts with one statement (the cancel check and the StepRun row; a transform, instant
 * and without outside effects, is written once, already finished) and a model step ends with one (its
 * checkpoint and usage); the run's end (row, totals) is written in the event writer's flush transaction with
 * its last events and its terminal status event (`EventWriter.finishRun`).
 */

import { type Db, type DbTx, Prisma } from "#app/db/client.server.ts";
import type { Logger } from "#app/lib/logger.server.ts";
import { inSpan } from "#app/lib/trace.server.ts";
import { uuidv7 } from "#app/lib/uuid.ts";
import {
  type AgentState,
  computeChangeSet,
  createAgentTools,
  materializeWorkspace,
  removeWorkspace,
  runAgentLoop,
  ZAgentLimits,
} from "#app/modules/agent/index.server.ts";
import type { ChatMessage, ChatRequest } from "#app/modules/ai/ai.types.ts";
import type { AiRuntime } from "#app/modules/ai/runtime.server.ts";
import { toAppError } from "#app/modules/ai/service.server.ts";
import {
  isSandboxError,
  runInSandbox,
  type SandboxConfig,
  type SandboxResult,
} from "#app/modules/sandbox/index.server.ts";
import {
  type AgentStep,
  type CommandStep,
  type LlmStep,
  type Step,
  TEMPLATE_FIELDS,
  ZWorkflowDefinition,
} from "#app/modules/workflows/definition.ts";
import { buildTemplateVariables, renderStepTemplate, StepFailure } from "./context.server.ts";
import type { EventWriter } from "./events.server.ts";
import { isTerminalStatus, type RunEventInput } from "./run-events.types.ts";

export { StepFailure } from "./context.server.ts";

export type EngineDeps = {
  db: Db;
  ai: Pick<AiRuntime, "service" | "catalog">;
  events: EventWriter;
  logger: Pick<Logger, "info" | "warn" | "error">;
  /** The WorkerProcess executing the run (recorded on it). */
  workerId: string;
  /** The task's signal: aborts when the worker shuts down. */
  signal: AbortSignal;
  /** How often the heartbeat is written and a cancel request looked for. Default 1000 ms. */
  heartbeatMs?: number;
  /** This is the job's last attempt: an interruption or an unexpected error ends the run `dead`. */
  lastAttempt?: boolean;
  /** Where `command` steps run. Absent: they fail with SANDBOX_UNAVAILABLE. */
  sandbox?: RunSandbox;
  now?: () => Date;
};

/** How a worker runs `command` steps: the sandbox settings and the directory of the runs' workspaces. */
export type RunSandbox = {
  config: SandboxConfig;
  /** Absolute; each run gets `<workspacesDir>/<runId>/ws`, removed when the run ends. */
  workspacesDir: string;
};

/** Output of one command step kept for its result (the stream carries all of it as `output` events). */
const COMMAND_OUTPUT_BYTES = 256 * 1024;

export type RunOutcome = "succeeded" | "failed" | "cancelled" | "dead" | "interrupted" | "skipped";

type RunRef = { id: string; userId: string };

/** Why the run stopped before its end: a cancel request, or the worker going away. */
class RunInterrupted extends Error {
  override readonly name = "RunInterrupted";
  constructor(readonly kind: "cancel" | "shutdown" | "fenced") {
    super(
      kind === "cancel"
        ? "The run was cancelled"
        : kind === "fenced"
          ? "Another worker has taken this run over"
          : "The worker is shutting down",
    );
  }
}

const JSON_FENCE = /^```[a-zA-Z]*\s*\n([\s\S]*?)\n?```$/;

/** Parse a model's JSON answer, tolerating a ```json fence around it. Throws a StepFailure when it is not JSON. */
export function parseJsonOutput(text: string, stepId: string, what = "the model's answer"): unknown {
  const trimmed = text.trim();
  const fenced = JSON_FENCE.exec(trimmed);
  const body = fenced?.[1] ?? trimmed;
  try {
    return JSON.parse(body);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const preview = trimmed.length > 200 ? `${trimmed.slice(0, 200)}…` : trimmed;
    throw new StepFailure(
      "INVALID_JSON",
      `Step "${stepId}": ${what} is not valid JSON (${reason}): ${preview}`,
    );
  }
}

function jsonType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

function typeMatches(value: unknown, type: string): boolean {
  const actual = jsonType(value);
  if (type === "number") return actual === "number" || actual === "integer";
  return actual === type;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Check `value` against the parts of a JSON Schema the workflow format supports: `type` (one or a list),
 * `properties`, `required`, `additionalProperties: false`, `enum`, `const` and `items`. Returns every mismatch
 * as `path: problem` (empty: it fits). Other keywords are ignored.
 */
export function checkJsonSchema(value: unknown, schema: unknown, path = "$"): string[] {
  if (!schema || typeof schema !== "object" || Array.isArray(schema)) return [];
  const s = schema as Record<string, unknown>;
  const problems: string[] = [];
  if (s.type !== undefined) {
    const types = (Array.isArray(s.type) ? s.type : [s.type]).filter(
      (t): t is string => typeof t === "string",
    );
    if (types.length > 0 && !types.some((t) => typeMatches(value, t))) {
      problems.push(`${path}: expected ${types.join(" or ")}, got ${jsonType(value)}`);
      return problems;
    }
  }
  if (Array.isArray(s.enum) && !s.enum.some((option) => sameJson(option, value))) {
    problems.push(
      `${path}: must be one of ${s.enum.map((o) => JSON.stringify(o)).join(", ")}, got ${JSON.stringify(value)}`,
    );
  }
  if ("const" in s && !sameJson(s.const, value)) {
    problems.push(`${path}: must be ${JSON.stringify(s.const)}, got ${JSON.stringify(value)}`);
  }
  if (value && typeof value === "object" && !Array.isArray(value)) {
    const object = value as Record<string, unknown>;
    if (Array.isArray(s.required)) {
      for (const key of s.required) {
        if (typeof key === "string" && !Object.hasOwn(object, key))
          problems.push(`${path}.${key}: is required`);
      }
    }
    const properties =
      s.properties && typeof s.properties === "object" ? (s.properties as Record<string, unknown>) : {};
    for (const [key, sub] of Object.entries(properties)) {
      if (Object.hasOwn(object, key)) problems.push(...checkJsonSchema(object[key], sub, `${path}.${key}`));
    }
    if (s.additionalProperties === false) {
      for (const key of Object.keys(object)) {
        if (!Object.hasOwn(properties, key)) problems.push(`${path}.${key}: is not allowed`);
      }
    }
  }
  if (Array.isArray(value) && s.items && typeof s.items === "object") {
    value.forEach((item, index) => {
      problems.push(...checkJsonSchema(item, s.items, `${path}[${index}]`));
    });
  }
  return problems;
}

/** The template texts of a step (what its fields hold), by field name. */
function templatesOf(step: Step): Array<[string, string]> {
  const fields = TEMPLATE_FIELDS[step.type];
  const out: Array<[string, string]> = [];
  for (const field of fields) {
    const value = (step as Record<string, unknown>)[field];
    if (typeof value === "string") out.push([field, value]);
  }
  return out;
}

function unavailable(step: Step): StepFailure {
  if (step.type === "command") {
    return new StepFailure(
      "SANDBOX_UNAVAILABLE",
      `Step "${step.id}" (command) cannot run: this worker has no sandbox configured for commands.`,
    );
  }
  return new StepFailure(
    "AGENT_UNAVAILABLE",
    `Step "${step.id}" (agent) cannot run: this worker has no sandbox configured for the agent's workspace and commands.`,
  );
}

const RUN_ACTIVE = ["queued", "running"] as const;

/** A JSON column value as SQL: null and undefined are stored as JSON null (like Prisma.JsonNull). */
const jsonb = (value: unknown) => Prisma.sql`${JSON.stringify(value ?? null)}::jsonb`;

/** Step types that call a model, so have AiCalls (and usage) to total. */
const callsModels = (type: Step["type"]) => type !== "transform";

/** A step's error as stored and sent: `{ code, message }`. */
const stepError = (failure: StepFailure) => ({ code: failure.code, message: failure.message });

type Usage = { tokensIn: number; tokensOut: number; costMicros: bigint };
const NO_USAGE: Usage = { tokensIn: 0, tokensOut: 0, costMicros: 0n };

/** How a run ends: its row's final update (unless the run already left `from`) and the events that go with it. */
type RunEnd = {
  runId: string;
  status: "succeeded" | "failed" | "cancelled" | "dead";
  from: ReadonlyArray<"queued" | "running">;
  at: Date;
  /** For the duration; none: the duration is left unset. */
  startedAt?: Date;
  /** Written only when given. */
  output?: unknown;
  /** Written only when given. */
  error?: unknown;
  /** Sum the run's AiCalls into its totals. */
  totals: boolean;
  /** Stored (after the run's buffered ones) only when the row was updated. */
  events: RunEventInput[];
  /** Set by `endRuns`: whether the row was updated. */
  ended?: boolean;
};

/**
 * End the rows of runs ending in the same event flush, in ONE statement: each as its `status` unless it already
 * left its `from`, with its totals summed from its AiCalls when asked. Returns each run's events (none when its
 * row was not updated). A run named twice (two endings in one flush) is ended by its first, then its second.
 */
async function endRuns(tx: DbTx, ends: RunEnd[]): Promise<RunEventInput[][]> {
  let rest = ends;
  while (rest.length > 0) {
    const seen = new Set<string>();
    const now: RunEnd[] = [];
    const later: RunEnd[] = [];
    for (const end of rest) {
      if (seen.has(end.runId)) later.push(end);
      else {
        seen.add(end.runId);
        now.push(end);
      }
    }
    const rows = await tx.$queryRaw<Array<{ id: string }>>`/* prepared */
      UPDATE "WorkflowRun" AS r SET
        "status" = e.status::"RunStatus",
        "finishedAt" = e.at AT TIME ZONE 'UTC',
        "updatedAt" = e.at AT TIME ZONE 'UTC',
        "output" = CASE WHEN e.set_output THEN e.output ELSE r."output" END,
        "error" = CASE WHEN e.set_error THEN e.error ELSE r."error" END,
        "durationMs" = COALESCE(e.duration, r."durationMs"),
        "tokensIn" = CASE WHEN e.totals THEN t.tokens_in ELSE r."tokensIn" END,
        "tokensOut" = CASE WHEN e.totals THEN t.tokens_out ELSE r."tokensOut" END,
        "costMicros" = CASE WHEN e.totals THEN t.cost ELSE r."costMicros" END
      FROM unnest(${now.map((e) => e.runId)}::uuid[], ${now.map((e) => e.status)}::text[],
                  ${now.map((e) => e.from.join(","))}::text[], ${now.map((e) => e.at.toISOString())}::timestamptz[],
                  ${now.map((e) => e.output !== undefined)}::bool[],
                  ${now.map((e) => JSON.stringify(e.output ?? null))}::jsonb[],
                  ${now.map((e) => e.error !== undefined)}::bool[],
                  ${now.map((e) => JSON.stringify(e.error ?? null))}::jsonb[],
                  ${now.map((e) => (e.startedAt ? Math.max(0, e.at.getTime() - e.startedAt.getTime()) : null))}::int[],
                  ${now.map((e) => e.totals)}::bool[])
           AS e(id, status, "from", at, set_output, output, set_error, error, duration, totals)
      CROSS JOIN LATERAL (
        SELECT COALESCE(SUM(c."tokensIn"), 0)::int AS tokens_in, COALESCE(SUM(c."tokensOut"), 0)::int AS tokens_out,
               COALESCE(SUM(c."costMicros"), 0)::bigint AS cost
        FROM "AiCall" AS c WHERE e.totals AND c."runId" = e.id
      ) AS t
      WHERE r."id" = e.id AND r."status"::text = ANY(string_to_array(e."from", ','))
      RETURNING r."id"::text AS "id"`;
    const updated = new Set(rows.map((row) => row.id));
    for (const end of now) end.ended = updated.has(end.runId);
    rest = later;
  }
  return ends.map((end) => (end.ended ? end.events : []));
}

/** `finishRun`'s way to end a run: batched with the other runs ending in the same flush. */
const ending = (end: RunEnd) => ({ batch: endRuns, item: end });

/**
 * End a step row as `status` with its usage (the sum of its AiCalls, when its type calls models) in one
 * statement; returns that usage.
 */
async function endStepRow(
  db: Db,
  stepRunId: string,
  end: {
    status: "succeeded" | "failed" | "cancelled";
    at: Date;
    output?: unknown;
    error?: unknown;
    usage: boolean;
  },
): Promise<Usage> {
  const sets: Prisma.Sql[] = [
    Prisma.sql`"status" = ${end.status}::"StepRunStatus"`,
    Prisma.sql`"finishedAt" = ${end.at}`,
    Prisma.sql`"updatedAt" = ${end.at}`,
  ];
  if (end.output !== undefined) sets.push(Prisma.sql`"output" = ${jsonb(end.output)}`);
  if (end.error !== undefined) sets.push(Prisma.sql`"error" = ${jsonb(end.error)}`);
  if (end.usage) {
    sets.push(Prisma.sql`("tokensIn", "tokensOut", "costMicros") = (
      SELECT COALESCE(SUM(c."tokensIn"), 0)::int, COALESCE(SUM(c."tokensOut"), 0)::int,
             COALESCE(SUM(c."costMicros"), 0)::bigint
      FROM "AiCall" AS c WHERE c."stepRunId" = s."id")`);
  }
  const rows = await db.$queryRaw<Usage[]>`/* prepared */
    UPDATE "StepRun" AS s SET ${Prisma.join(sets, ", ")}
    WHERE s."id" = ${stepRunId}::uuid
    RETURNING s."tokensIn", s."tokensOut", s."costMicros"`;
  return end.usage ? (rows[0] ?? NO_USAGE) : NO_USAGE;
}

/**
 * End a run as `dead` (its attempts are used up), unless it already finished: `reason` is recorded as its error
 * and a terminal status event is written in the same transaction.
 */
export async function markRunDead(
  runId: string,
  reason: string,
  deps: Pick<EngineDeps, "db" | "events" | "now">,
): Promise<boolean> {
  const at = deps.now?.() ?? new Date();
  const run = await deps.db.workflowRun.findUnique({ where: { id: runId }, select: { userId: true } });
  if (!run) return false;
  const error = { code: "ATTEMPTS_EXHAUSTED", message: reason };
  const end: RunEnd = {
    runId,
    status: "dead",
    from: RUN_ACTIVE,
    at,
    error,
    totals: false,
    events: [{ type: "status", data: { status: "dead", error } }],
  };
  await deps.events.finishRun({ id: runId, userId: run.userId }, ending(end));
  return end.ended === true;
}

/**
 * Execute (or resume) run `runId`. Resolves with how it ended; rejects only when it must be retried (the
 * worker is shutting down, or an unexpected error such as a lost database connection): the run then stays
 * `running` and the next attempt resumes it from its checkpoints.
 */
export async function executeRun(runId: string, deps: EngineDeps): Promise<RunOutcome> {
  return inSpan("run.execute", { "agentry.run_id": runId }, async (span) => {
    const outcome = await executeTraced(runId, deps);
    span.setAttribute("agentry.run_outcome", outcome);
    return outcome;
  });
}

async function executeTraced(runId: string, deps: EngineDeps): Promise<RunOutcome> {
  try {
    const outcome = await execute(runId, deps);
    if (outcome !== "interrupted") await removeRunWorkspace(runId, deps);
    return outcome;
  } catch (error) {
    if (deps.lastAttempt) {
      const reason =
        error instanceof RunInterrupted
          ? "The worker stopped during the last attempt of this run"
          : `The last attempt failed: ${error instanceof Error ? error.message : String(error)}`;
      await markRunDead(runId, reason, deps).catch((e: unknown) =>
        deps.logger.error({ err: e, runId }, "could not mark the run dead"),
      );
      await removeRunWorkspace(runId, deps);
    }
    // Otherwise the retried job resumes here and reuses the workspace (its commands' edits included).
    throw error;
  }
}

/** A finished run's workspace is of no further use (command steps only; nothing when there is none). */
async function removeRunWorkspace(runId: string, deps: EngineDeps): Promise<void> {
  if (!deps.sandbox) return;
  await removeWorkspace({ root: deps.sandbox.workspacesDir, runId }).catch((error: unknown) =>
    deps.logger.warn({ err: error, runId }, "could not remove the run's workspace"),
  );
}

/** What the engine needs of a run it has claimed (marked `running` for this worker). */
type ClaimedRun = {
  id: string;
  userId: string;
  projectId: string;
  input: Prisma.JsonValue;
  startedAt: Date;
  apiKeyId: string | null;
  budgetMicros: bigint | null;
  definition: Prisma.JsonValue | null;
  projectName: string | null;
  /** The steps that already succeeded (checkpoints of earlier attempts, or copied by a retry). */
  checkpoints: Array<{ stepId: string; output: Prisma.JsonValue }>;
};

/**
 * Mark the run `running` for this worker — unless it is finished, or a cancel was requested — and read what
 * executing it needs (pinned definition, project name, checkpoints), in ONE statement. Null: not claimed.
 */
async function claimRun(db: Db, runId: string, workerId: string, at: Date): Promise<ClaimedRun | null> {
  const rows = await db.$queryRaw<ClaimedRun[]>`/* prepared */
    WITH claimed AS (
      UPDATE "WorkflowRun"
      SET "status" = 'running', "startedAt" = COALESCE("startedAt", ${at}), "workerId" = ${workerId}::uuid,
          "heartbeatAt" = ${at}, "attempt" = "attempt" + 1, "updatedAt" = ${at}
      WHERE "id" = ${runId}::uuid AND "status" IN ('queued', 'running') AND "cancelRequestedAt" IS NULL
      RETURNING "id", "userId", "projectId", "workflowVersionId", "input", "startedAt", "apiKeyId", "budgetMicros"
    )
    SELECT c."id"::text AS "id", c."userId"::text AS "userId", c."projectId"::text AS "projectId", c."input",
      c."startedAt", c."apiKeyId"::text AS "apiKeyId", c."budgetMicros", v."definition", p."name" AS "projectName",
      COALESCE((
        SELECT json_agg(json_build_object('stepId', s."stepId", 'output', s."output"))
        FROM "StepRun" AS s WHERE s."runId" = c."id" AND s."status" = 'succeeded'
      ), '[]'::json) AS "checkpoints"
    FROM claimed AS c
    LEFT JOIN "WorkflowVersion" AS v ON v."id" = c."workflowVersionId"
    LEFT JOIN "Project" AS p ON p."id" = c."projectId" AND p."userId" = c."userId"`;
  return rows[0] ?? null;
}

async function execute(runId: string, deps: EngineDeps): Promise<RunOutcome> {
  const { db, events, logger } = deps;
  const now = () => deps.now?.() ?? new Date();
  const run = await claimRun(db, runId, deps.workerId, now());
  if (!run) {
    // Not claimable: missing, finished, or cancelled before this attempt began.
    const current = await db.workflowRun.findUnique({
      where: { id: runId },
      select: { userId: true, status: true, cancelRequestedAt: true, startedAt: true, createdAt: true },
    });
    if (!current) {
      logger.warn({ runId }, "run not found; nothing to execute");
      return "skipped";
    }
    if (isTerminalStatus(current.status) || !current.cancelRequestedAt) return "skipped";
    const startedAt = current.startedAt ?? current.createdAt;
    await events.finishRun(
      { id: runId, userId: current.userId },
      ending({
        runId,
        status: "cancelled",
        from: RUN_ACTIVE,
        at: now(),
        startedAt,
        totals: true,
        events: [{ type: "status", data: { status: "cancelled" } }],
      }),
    );
    return "cancelled";
  }
  const ref: RunRef = { id: run.id, userId: run.userId };
  const emit = (event: RunEventInput) => events.append(ref, event);
  const startedAt = run.startedAt;
  emit({ type: "status", data: { status: "running" } });

  // Cancel and shutdown both abort the model call in flight; the reason says which.
  const controller = new AbortController();
  const onShutdown = () => controller.abort(new RunInterrupted("shutdown"));
  if (deps.signal.aborted) onShutdown();
  else deps.signal.addEventListener("abort", onShutdown, { once: true });
  let beating = false;
  const beat = async () => {
    if (beating || controller.signal.aborted) return;
    beating = true;
    try {
      // Only while the run is still ours: when this worker was presumed dead and the run handed to another,
      // the update matches nothing and this execution stops without writing anything further.
      const rows = await db.$queryRaw<Array<{ cancelRequestedAt: Date | null }>>`/* prepared */
        UPDATE "WorkflowRun" SET "heartbeatAt" = ${now()}
        WHERE "id" = ${runId}::uuid AND "workerId" = ${deps.workerId}::uuid
        RETURNING "cancelRequestedAt"`;
      if (rows.length === 0) controller.abort(new RunInterrupted("fenced"));
      else if (rows[0]?.cancelRequestedAt) controller.abort(new RunInterrupted("cancel"));
    } catch (error) {
      logger.warn({ err: error, runId }, "run heartbeat failed");
    } finally {
      beating = false;
    }
  };
  const timer = setInterval(() => void beat(), deps.heartbeatMs ?? 1000);
  timer.unref();

  const interruption = (): RunInterrupted | null => {
    if (!controller.signal.aborted) return null;
    const reason = controller.signal.reason;
    return reason instanceof RunInterrupted ? reason : new RunInterrupted("shutdown");
  };

  try {
    const parsed = ZWorkflowDefinition.safeParse(run.definition);
    if (!parsed.success) {
      return await failRun(
        new StepFailure(
          "INVALID_DEFINITION",
          "The pinned workflow version does not match the workflow format",
        ),
        null,
      );
    }
    const definition = parsed.data;
    const byStep = new Map(run.checkpoints.map((row) => [row.stepId, row.output]));
    const outputs = new Map<string, unknown>();
    let lastOutput: unknown = null;

    for (const [index, step] of definition.steps.entries()) {
      if (byStep.has(step.id)) {
        const output = byStep.get(step.id);
        outputs.set(step.id, output);
        lastOutput = output;
        continue;
      }
      const stopped = interruption();
      if (stopped) return await interrupt(stopped, null);

      const stepStarted = now();
      let rendered: Record<string, string> | null = null;
      let renderFailure: StepFailure | null = null;
      try {
        const templates = templatesOf(step);
        const variables = await buildTemplateVariables(db, {
          run: { userId: run.userId, projectId: run.projectId, input: run.input },
          project: { name: run.projectName ?? "" },
          stepOutputs: outputs,
          templates: templates.map(([, body]) => body),
        });
        rendered = {};
        for (const [field, body] of templates) {
          rendered[field] = renderStepTemplate(body, variables, { stepId: step.id, field });
        }
      } catch (error) {
        if (!(error instanceof StepFailure)) throw error;
        renderFailure = error;
        rendered = null;
      }

      // A transform is instant and has no effect outside the run: its outcome is computed first and its row
      // written once, already finished. Other steps get a `running` row first, then their checkpoint.
      let outcome: { output: unknown } | { failure: StepFailure } | null = null;
      if (step.type === "transform") {
        try {
          if (renderFailure) throw renderFailure;
          outcome = { output: await runStep(step, rendered ?? {}, "") };
        } catch (error) {
          if (!(error instanceof StepFailure)) throw error;
          outcome = { failure: error };
        }
      }
      const written = outcome ? now() : null;
      // The step's row (a retried step counts one more attempt), unless a cancel arrived between two beats:
      // the check and the write are one statement, so the run stops before the step starts.
      const [started] = await db.$queryRaw<Array<{ id: string | null; cancelled: boolean }>>`/* prepared */
        WITH cancel AS (
          SELECT "cancelRequestedAt" IS NOT NULL AS requested FROM "WorkflowRun" WHERE "id" = ${runId}::uuid
        ), started AS (
          INSERT INTO "StepRun" ("id", "userId", "runId", "stepId", "index", "type", "status", "attempt",
                                 "startedAt", "finishedAt", "input", "output", "error", "updatedAt")
          SELECT ${uuidv7(stepStarted.getTime())}::uuid, ${run.userId}::uuid, ${runId}::uuid, ${step.id}, ${index},
                 ${step.type}, ${!outcome ? "running" : "output" in outcome ? "succeeded" : "failed"}::"StepRunStatus",
                 1, ${stepStarted}, ${written}::timestamp(3), ${jsonb(rendered)},
                 ${jsonb(outcome && "output" in outcome ? outcome.output : null)},
                 ${jsonb(outcome && "failure" in outcome ? stepError(outcome.failure) : null)}, ${written ?? stepStarted}
          WHERE NOT COALESCE((SELECT requested FROM cancel), false)
          ON CONFLICT ("runId", "stepId") DO UPDATE SET
            "index" = EXCLUDED."index", "type" = EXCLUDED."type", "status" = EXCLUDED."status",
            "attempt" = "StepRun"."attempt" + 1, "startedAt" = EXCLUDED."startedAt",
            "finishedAt" = EXCLUDED."finishedAt", "input" = EXCLUDED."input", "output" = EXCLUDED."output",
            "error" = EXCLUDED."error", "updatedAt" = EXCLUDED."updatedAt"
          RETURNING "id"
        )
        SELECT (SELECT "id"::text FROM started) AS "id",
               COALESCE((SELECT requested FROM cancel), false) AS "cancelled"`;
      if (started?.cancelled) controller.abort(new RunInterrupted("cancel"));
      const stoppedBefore = interruption();
      if (stoppedBefore) {
        // Stopped meanwhile (a beat saw the cancel, or the worker is stopping): a `running` row just written
        // is ended with the run; an instant step's row already holds its outcome.
        const running = started?.id && !outcome ? { id: started.id, step, startedAt: stepStarted } : null;
        return await interrupt(stoppedBefore, running);
      }
      if (!started?.id) throw new Error(`The row of step "${step.id}" was not written`);
      const stepRunId = started.id;
      emit({ type: "step_started", stepId: step.id, data: { stepId: step.id, index, type: step.type } });

      let output: unknown;
      let usage = NO_USAGE;
      let finishedAt: Date;
      if (outcome && written) {
        if ("failure" in outcome) {
          return await failRun(outcome.failure, { id: stepRunId, step, startedAt: stepStarted }, written);
        }
        output = outcome.output;
        finishedAt = written;
      } else {
        try {
          if (renderFailure) throw renderFailure;
          output = await runStep(step, rendered ?? {}, stepRunId);
        } catch (error) {
          const stopped = interruption();
          if (stopped) return await interrupt(stopped, { id: stepRunId, step, startedAt: stepStarted });
          if (error instanceof StepFailure) {
            return await failRun(error, { id: stepRunId, step, startedAt: stepStarted });
          }
          throw error;
        }
        // The checkpoint: written before the next step starts.
        finishedAt = now();
        usage = await endStepRow(db, stepRunId, {
          status: "succeeded",
          at: finishedAt,
          output,
          usage: callsModels(step.type),
        });
      }
      emit({
        type: "step_finished",
        stepId: step.id,
        data: {
          stepId: step.id,
          status: "succeeded",
          output,
          durationMs: Math.max(0, finishedAt.getTime() - stepStarted.getTime()),
        },
      });
      if (step.type === "llm") {
        emit({
          type: "usage",
          stepId: step.id,
          data: {
            tokensIn: usage.tokensIn,
            tokensOut: usage.tokensOut,
            costMicros: Number(usage.costMicros),
          },
        });
      }
      outputs.set(step.id, output);
      lastOutput = output;
    }

    // The run's end, its last events and its terminal status event: one transaction (the events' flush).
    await events.finishRun(
      ref,
      ending({
        runId,
        status: "succeeded",
        from: ["running"],
        at: now(),
        startedAt,
        output: lastOutput,
        error: null,
        totals: true,
        events: [{ type: "status", data: { status: "succeeded" } }],
      }),
    );
    return "succeeded";
  } finally {
    clearInterval(timer);
    deps.signal.removeEventListener("abort", onShutdown);
  }

  // ─── Step types ────────────────────────────────────────────────────────────

  async function runStep(step: Step, rendered: Record<string, string>, stepRunId: string): Promise<unknown> {
    switch (step.type) {
      case "transform": {
        const text = rendered.template ?? "";
        return step.output === "json" ? parseJsonOutput(text, step.id, "the rendered template") : text;
      }
      case "llm":
        return runLlm(step, rendered, stepRunId);
      case "command":
        return runCommand(step, rendered);
      case "agent":
        return runAgent(step, rendered, stepRunId);
    }
  }

  /** Who pays for a step's model calls and what their AiCall rows link to (budgets included). */
  function callContextOf(stepRunId: string) {
    return {
      userId: run!.userId,
      projectId: run!.projectId,
      runId,
      stepRunId,
      apiKeyId: run!.apiKeyId,
      runBudgetMicros: run!.budgetMicros === null ? null : Number(run!.budgetMicros),
    };
  }

  /**
   * This run's workspace (the project's files, materialised once per run and shared by its command and
   * agent steps; reused by a resumed job) and the sandbox settings. No sandbox configured: the step fails.
   */
  async function runWorkspace(step: CommandStep | AgentStep) {
    if (!deps.sandbox) throw unavailable(step);
    const { config, workspacesDir } = deps.sandbox;
    const workspace = await materializeWorkspace({
      db,
      userId: run!.userId,
      projectId: run!.projectId,
      root: workspacesDir,
      runId,
    });
    return { config, workspace };
  }

  /**
   * The coding agent on this run's workspace: the loop (agent module) with its tools, command output and tool
   * calls streamed as events, usage per model turn, its state checkpointed in StepRun.transcript after every
   * turn and tool result (a resumed job continues the loop there). What it changed is stored as a ChangeSet
   * for review — also when it stopped at a limit, so partial work can be looked at; the project itself is
   * not touched. Output: `{summary, stopReason, turns, changeSetId, files}`.
   */
  async function runAgent(
    step: AgentStep,
    rendered: Record<string, string>,
    stepRunId: string,
  ): Promise<unknown> {
    const { config, workspace } = await runWorkspace(step);
    const emitStep = (event: RunEventInput) => emit(event);
    const result = await runAgentLoop({
      ai: deps.ai,
      callContext: callContextOf(stepRunId),
      model: step.model,
      instructions: rendered.instructions ?? "",
      tools: createAgentTools({ workspaceDir: workspace.dir, sandbox: { config } }),
      limits: ZAgentLimits.parse({
        maxTurns: step.maxTurns,
        ...(step.maxTokens !== undefined ? { maxTokens: step.maxTokens } : {}),
        wallTimeMs: step.maxMinutes * 60_000,
        ...(step.maxCostUsd !== undefined ? { maxCostMicros: Math.round(step.maxCostUsd * 1_000_000) } : {}),
      }),
      signal: controller.signal,
      checkpoint: {
        load: async () => {
          const row = await db.stepRun.findUnique({ where: { id: stepRunId }, select: { transcript: true } });
          return (row?.transcript ?? null) as AgentState | null;
        },
        save: async (state) => {
          await db.stepRun.update({
            where: { id: stepRunId },
            data: { transcript: state as unknown as Prisma.InputJsonValue },
          });
        },
      },
      emit: (event) => {
        const stepId = step.id;
        switch (event.type) {
          case "token":
            return emitStep({ type: "token", stepId, data: { stepId, text: event.text } });
          case "tool_call":
            return emitStep({
              type: "tool_call",
              stepId,
              data: { stepId, callId: event.callId, name: event.name, input: event.input },
            });
          case "tool_result":
            return emitStep({
              type: "tool_result",
              stepId,
              data: {
                stepId,
                callId: event.callId,
                name: event.name,
                output: event.output,
                isError: event.isError,
              },
            });
          case "tool_output":
            return emitStep({
              type: "output",
              stepId,
              data: { stepId, stream: event.stream, text: event.chunk },
            });
          case "turn":
            return emitStep({
              type: "usage",
              stepId,
              data: { tokensIn: event.tokensIn, tokensOut: event.tokensOut, costMicros: event.costMicros },
            });
          case "log":
            return emitStep({
              type: "log",
              stepId,
              data: { stepId, level: event.level, message: event.message },
            });
        }
      },
    });
    if (result.stopReason === "cancelled" && controller.signal.aborted) throw controller.signal.reason;

    const changes = await computeChangeSet({ base: workspace.base, dir: workspace.dir });
    let changeSetId: string | null = null;
    if (changes.files.length > 0) {
      changeSetId = await db.$transaction(async (tx) => {
        // A step run again (a resumed job) replaces its unreviewed change set rather than adding one.
        await tx.changeSet.deleteMany({ where: { stepRunId, userId: run!.userId, status: "pending" } });
        const row = await tx.changeSet.create({
          data: {
            userId: run!.userId,
            projectId: run!.projectId,
            runId,
            stepRunId,
            summary: result.summary,
            diff: changes.diff,
            files: changes.files as unknown as Prisma.InputJsonValue,
          },
          select: { id: true },
        });
        return row.id;
      });
    }
    const output = {
      summary: result.summary,
      stopReason: result.stopReason,
      turns: result.turns,
      changeSetId,
      files: changes.files.map((file) => ({
        path: file.path,
        status: file.status,
        additions: file.additions,
        deletions: file.deletions,
      })),
    };
    if (result.stopReason !== "finished") {
      throw new StepFailure(
        `AGENT_${result.stopReason.toUpperCase()}`,
        `Step "${step.id}": the agent stopped before finishing (${result.stopReason.replace("_", " ")}): ${result.summary}`,
        output,
      );
    }
    return output;
  }

  /**
   * A shell command in the sandbox, in this run's workspace (the project's files, materialised once per run and
   * shared by its command steps). Output streams as `output` events; the step's output is
   * `{exitCode, stdout, stderr, timedOut, truncated}`. A non-zero exit fails the step unless continueOnError.
   */
  async function runCommand(step: CommandStep, rendered: Record<string, string>): Promise<unknown> {
    const { config, workspace } = await runWorkspace(step);
    let result: SandboxResult;
    try {
      result = await runInSandbox(
        {
          command: rendered.run ?? "",
          workspace: workspace.dir,
          timeoutMs: step.timeoutSeconds * 1000,
          maxOutputBytes: COMMAND_OUTPUT_BYTES,
          signal: controller.signal,
          onOutput: (stream, text) => {
            if (text !== "")
              emit({ type: "output", stepId: step.id, data: { stepId: step.id, stream, text } });
          },
        },
        config,
      );
    } catch (error) {
      if (isSandboxError(error)) {
        throw new StepFailure(error.code, `Step "${step.id}" (command) cannot run: ${error.message}`);
      }
      throw error;
    }
    if (controller.signal.aborted) throw controller.signal.reason;
    const output = {
      exitCode: result.exitCode,
      stdout: result.stdout,
      stderr: result.stderr,
      timedOut: result.timedOut,
      truncated: result.outputTruncated,
    };
    if (result.outputTruncated) {
      emit({
        type: "log",
        stepId: step.id,
        data: {
          stepId: step.id,
          level: "warn",
          message: `Step "${step.id}": output beyond ${COMMAND_OUTPUT_BYTES} bytes was dropped (${result.droppedBytes} bytes)`,
        },
      });
    }
    if (result.exitCode !== 0 && !step.continueOnError) {
      const why = result.timedOut
        ? `timed out after ${step.timeoutSeconds} s`
        : result.limitsHit.length > 0
          ? `hit its ${result.limitsHit.join(", ")} limit (exit code ${result.exitCode})`
          : `exited with code ${result.exitCode}`;
      throw new StepFailure("COMMAND_FAILED", `Step "${step.id}": the command ${why}`, output);
    }
    return output;
  }

  async function runLlm(
    step: LlmStep,
    rendered: Record<string, string>,
    stepRunId: string,
  ): Promise<unknown> {
    const messages: ChatMessage[] = [];
    if (rendered.system) messages.push({ role: "system", content: rendered.system });
    messages.push({ role: "user", content: rendered.prompt ?? "" });
    const request: ChatRequest = {
      model: step.model,
      messages,
      ...(step.temperature !== undefined ? { temperature: step.temperature } : {}),
      ...(step.maxTokens !== undefined ? { maxTokens: step.maxTokens } : {}),
      ...(step.seed !== undefined ? { seed: step.seed } : {}),
      ...(step.output === "json" ? { responseFormat: "json" as const } : {}),
    };
    const stream = deps.ai.service.stream(request, {
      ...callContextOf(stepRunId),
      signal: controller.signal,
    });
    let text = "";
    try {
      for await (const event of stream) {
        if (event.type !== "text" || event.delta === "") continue;
        text += event.delta;
        emit({ type: "token", stepId: step.id, data: { stepId: step.id, text: event.delta } });
      }
      text = (await stream.result).text;
    } catch (error) {
      if (controller.signal.aborted) throw controller.signal.reason;
      const appError = toAppError(error, null);
      // Not the provider's answer but our own failure (the database went away mid-call, say): retry the job,
      // which resumes here, rather than fail the run for good.
      if (appError.details?.kind === "unknown") throw error;
      throw new StepFailure(appError.code, `Step "${step.id}": ${appError.message}`);
    }
    if (step.output !== "json") return text;
    const value = parseJsonOutput(text, step.id);
    if (step.schema) {
      const problems = checkJsonSchema(value, step.schema);
      if (problems.length > 0) {
        throw new StepFailure(
          "SCHEMA_MISMATCH",
          `Step "${step.id}": the answer does not match the schema: ${problems.slice(0, 20).join("; ")}`,
          { problems },
        );
      }
    }
    return value;
  }

  // ─── Endings ───────────────────────────────────────────────────────────────

  /** `rowWrittenAt`: the step's row already says `failed` (an instant step), written at that time. */
  async function failRun(
    failure: StepFailure,
    step: { id: string; step: Step; startedAt: Date } | null,
    rowWrittenAt?: Date,
  ): Promise<RunOutcome> {
    const error = stepError(failure);
    if (step) {
      const finishedAt = rowWrittenAt ?? now();
      if (!rowWrittenAt) {
        await endStepRow(db, step.id, {
          status: "failed",
          at: finishedAt,
          error,
          usage: callsModels(step.step.type),
        });
      }
      emit({
        type: "step_finished",
        stepId: step.step.id,
        data: {
          stepId: step.step.id,
          status: "failed",
          error,
          durationMs: Math.max(0, finishedAt.getTime() - step.startedAt.getTime()),
        },
      });
    }
    const runError = step ? { ...error, stepId: step.step.id } : error;
    await events.finishRun(
      ref,
      ending({
        runId,
        status: "failed",
        from: ["running"],
        at: now(),
        startedAt,
        error: runError,
        totals: true,
        events: [
          { type: "error", stepId: step?.step.id, data: runError },
          { type: "status", data: { status: "failed", error: runError } },
        ],
      }),
    );
    logger.info({ runId, code: failure.code, stepId: step?.step.id }, "run failed");
    return "failed";
  }

  async function interrupt(
    reason: RunInterrupted,
    step: { id: string; step: Step; startedAt: Date } | null,
  ): Promise<RunOutcome> {
    if (reason.kind !== "cancel") {
      // Shutdown: leave the run (and this step) `running`: the retried job resumes it here. Fenced: another
      // worker owns the run now; write nothing more.
      await events.flush().catch(() => {});
      throw reason;
    }
    if (step) {
      const finishedAt = now();
      await endStepRow(db, step.id, {
        status: "cancelled",
        at: finishedAt,
        usage: callsModels(step.step.type),
      });
      emit({
        type: "step_finished",
        stepId: step.step.id,
        data: {
          stepId: step.step.id,
          status: "cancelled",
          durationMs: Math.max(0, finishedAt.getTime() - step.startedAt.getTime()),
        },
      });
    }
    await events.finishRun(
      ref,
      ending({
        runId,
        status: "cancelled",
        from: ["running"],
        at: now(),
        startedAt,
        totals: true,
        events: [{ type: "status", data: { status: "cancelled" } }],
      }),
    );
    return "cancelled";
  }
}
