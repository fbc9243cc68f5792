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
 */
import { type Db, Prisma } from "#app/db/client.server.ts";
import type { Logger } from "#app/lib/logger.server.ts";
import type { ChatMessage, ChatRequest } from "#app/modules/ai/ai.types.ts";
import type { AiRuntime } from "#app/modules/ai/runtime.server.ts";
import { toAppError } from "#app/modules/ai/service.server.ts";
import {
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
  ai: Pick<AiRuntime, "service">;
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
  now?: () => Date;
};

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
      `Step "${step.id}" (command) cannot run: it needs the sandbox (bubblewrap), which arrives with the coding agent. Until then, workflows with command steps cannot run.`,
    );
  }
  return new StepFailure(
    "AGENT_UNAVAILABLE",
    `Step "${step.id}" (agent) cannot run: the coding agent is not available yet; it needs the sandbox (bubblewrap), which arrives with the coding agent.`,
  );
}

async function sumCalls(db: Db, where: Prisma.AiCallWhereInput) {
  const sum = await db.aiCall.aggregate({
    where,
    _sum: { tokensIn: true, tokensOut: true, costMicros: true },
  });
  return {
    tokensIn: sum._sum.tokensIn ?? 0,
    tokensOut: sum._sum.tokensOut ?? 0,
    costMicros: sum._sum.costMicros ?? 0n,
  };
}

const jsonOrNull = (value: unknown) =>
  value === undefined || value === null ? Prisma.JsonNull : (value as Prisma.InputJsonValue);

/**
 * End a run as `dead` (its attempts are used up), unless it already finished: `reason` is recorded as its error
 * and a terminal status event is written.
 */
export async function markRunDead(
  runId: string,
  reason: string,
  deps: Pick<EngineDeps, "db" | "events" | "now">,
): Promise<boolean> {
  const now = deps.now?.() ?? new Date();
  const run = await deps.db.workflowRun.findUnique({ where: { id: runId }, select: { userId: true } });
  if (!run) return false;
  const error = { code: "ATTEMPTS_EXHAUSTED", message: reason };
  const updated = await deps.db.workflowRun.updateMany({
    where: { id: runId, status: { in: ["queued", "running"] } },
    data: { status: "dead", error, finishedAt: now },
  });
  if (updated.count === 0) return false;
  deps.events.append({ id: runId, userId: run.userId }, { type: "status", data: { status: "dead", error } });
  await deps.events.flush();
  return true;
}

/**
 * Execute (or resume) run `runId`. Resolves with how it ended; rejects only when it must be retried (the
 * worker is shutting down, or an unexpected error such as a lost database connection): the run then stays
 * `running` and the next attempt resumes it from its checkpoints.
 */
export async function executeRun(runId: string, deps: EngineDeps): Promise<RunOutcome> {
  try {
    return await execute(runId, deps);
  } catch (error) {
    if (deps.lastAttempt) {
      const reason =
        error instanceof RunInterrupted
          ? "The worker stopped during the last attempt of this run"
          : `The last attempt failed: ${error instanceof Error ? error.message : String(error)}`;
      await markRunDead(runId, reason, deps).catch((e: unknown) =>
        deps.logger.error({ err: e, runId }, "could not mark the run dead"),
      );
    }
    throw error;
  }
}

async function execute(runId: string, deps: EngineDeps): Promise<RunOutcome> {
  const { db, events, logger } = deps;
  const now = () => deps.now?.() ?? new Date();
  const run = await db.workflowRun.findUnique({
    where: { id: runId },
    include: { version: { select: { definition: true } } },
  });
  if (!run) {
    logger.warn({ runId }, "run not found; nothing to execute");
    return "skipped";
  }
  const ref: RunRef = { id: run.id, userId: run.userId };
  const emit = (event: RunEventInput) => events.append(ref, event);
  if (isTerminalStatus(run.status)) return "skipped";

  const finishTotals = async (startedAt: Date) => {
    const totals = await sumCalls(db, { runId });
    const at = now();
    return { ...totals, finishedAt: at, durationMs: Math.max(0, at.getTime() - startedAt.getTime()) };
  };

  if (run.cancelRequestedAt) {
    const startedAt = run.startedAt ?? run.createdAt;
    const updated = await db.workflowRun.updateMany({
      where: { id: runId, status: { in: ["queued", "running"] } },
      data: { status: "cancelled", ...(await finishTotals(startedAt)) },
    });
    if (updated.count > 0) emit({ type: "status", data: { status: "cancelled" } });
    await events.flush();
    return "cancelled";
  }

  const startedAt = run.startedAt ?? now();
  const marked = await db.workflowRun.updateMany({
    where: { id: runId, status: { in: ["queued", "running"] } },
    data: {
      status: "running",
      startedAt,
      workerId: deps.workerId,
      heartbeatAt: now(),
      attempt: { increment: 1 },
    },
  });
  if (marked.count === 0) return "skipped";
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
      const rows = await db.$queryRaw<Array<{ cancelRequestedAt: Date | null }>>`
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
    const parsed = ZWorkflowDefinition.safeParse(run.version.definition);
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
    const stepRuns = await db.stepRun.findMany({ where: { runId } });
    const byStep = new Map(stepRuns.map((row) => [row.stepId, row]));
    const outputs = new Map<string, unknown>();
    let lastOutput: unknown = null;

    for (const [index, step] of definition.steps.entries()) {
      const checkpoint = byStep.get(step.id);
      if (checkpoint?.status === "succeeded") {
        outputs.set(step.id, checkpoint.output);
        lastOutput = checkpoint.output;
        continue;
      }
      // A cancel that arrived between two beats still stops before the next step.
      const fresh = await db.workflowRun.findUnique({
        where: { id: runId },
        select: { cancelRequestedAt: true },
      });
      if (fresh?.cancelRequestedAt) controller.abort(new RunInterrupted("cancel"));
      const stopped = interruption();
      if (stopped) return await interrupt(stopped, null);

      const stepStarted = now();
      let rendered: Record<string, string> | null = null;
      let renderFailure: StepFailure | null = null;
      try {
        const templates = templatesOf(step);
        const variables = await buildTemplateVariables(db, {
          run: { userId: run.userId, projectId: run.projectId, input: run.input },
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

      const stepRun = await db.stepRun.upsert({
        where: { runId_stepId: { runId, stepId: step.id } },
        create: {
          userId: run.userId,
          runId,
          stepId: step.id,
          index,
          type: step.type,
          status: "running",
          attempt: 1,
          startedAt: stepStarted,
          input: jsonOrNull(rendered),
        },
        update: {
          index,
          type: step.type,
          status: "running",
          attempt: { increment: 1 },
          startedAt: stepStarted,
          finishedAt: null,
          input: jsonOrNull(rendered),
          output: Prisma.JsonNull,
          error: Prisma.JsonNull,
        },
        select: { id: true },
      });
      emit({ type: "step_started", stepId: step.id, data: { stepId: step.id, index, type: step.type } });

      let output: unknown;
      try {
        if (renderFailure) throw renderFailure;
        output = await runStep(step, rendered ?? {}, stepRun.id);
      } catch (error) {
        const stopped = interruption();
        if (stopped)
          return await interrupt(stopped, { id: stepRun.id, stepId: step.id, startedAt: stepStarted });
        if (error instanceof StepFailure) {
          return await failRun(error, { id: stepRun.id, stepId: step.id, startedAt: stepStarted });
        }
        throw error;
      }

      // The checkpoint: written before the next step starts.
      const usage = await sumCalls(db, { stepRunId: stepRun.id });
      const finishedAt = now();
      await db.stepRun.update({
        where: { id: stepRun.id },
        data: { status: "succeeded", output: jsonOrNull(output), finishedAt, ...usage },
      });
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

    const totals = await finishTotals(startedAt);
    const done = await db.workflowRun.updateMany({
      where: { id: runId, status: "running" },
      data: { status: "succeeded", output: jsonOrNull(lastOutput), error: Prisma.JsonNull, ...totals },
    });
    if (done.count > 0) emit({ type: "status", data: { status: "succeeded" } });
    await events.flush();
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
      case "agent":
        throw unavailable(step);
    }
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
      userId: run!.userId,
      projectId: run!.projectId,
      runId,
      stepRunId,
      apiKeyId: run!.apiKeyId,
      runBudgetMicros: run!.budgetMicros === null ? null : Number(run!.budgetMicros),
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

  async function failRun(
    failure: StepFailure,
    step: { id: string; stepId: string; startedAt: Date } | null,
  ): Promise<RunOutcome> {
    const error = { code: failure.code, message: failure.message };
    if (step) {
      const usage = await sumCalls(db, { stepRunId: step.id });
      const finishedAt = now();
      await db.stepRun.update({
        where: { id: step.id },
        data: { status: "failed", error, finishedAt, ...usage },
      });
      emit({
        type: "step_finished",
        stepId: step.stepId,
        data: {
          stepId: step.stepId,
          status: "failed",
          error,
          durationMs: Math.max(0, finishedAt.getTime() - step.startedAt.getTime()),
        },
      });
    }
    const runError = step ? { ...error, stepId: step.stepId } : error;
    const updated = await db.workflowRun.updateMany({
      where: { id: runId, status: "running" },
      data: { status: "failed", error: runError, ...(await finishTotals(startedAt)) },
    });
    if (updated.count > 0) {
      emit({ type: "error", stepId: step?.stepId, data: runError });
      emit({ type: "status", data: { status: "failed", error: runError } });
    }
    await events.flush();
    logger.info({ runId, code: failure.code, stepId: step?.stepId }, "run failed");
    return "failed";
  }

  async function interrupt(
    reason: RunInterrupted,
    step: { id: string; stepId: string; startedAt: Date } | null,
  ): Promise<RunOutcome> {
    if (reason.kind !== "cancel") {
      // Shutdown: leave the run (and this step) `running`: the retried job resumes it here. Fenced: another
      // worker owns the run now; write nothing more.
      await events.flush().catch(() => {});
      throw reason;
    }
    const finishedAt = now();
    if (step) {
      const usage = await sumCalls(db, { stepRunId: step.id });
      await db.stepRun.update({
        where: { id: step.id },
        data: { status: "cancelled", finishedAt, ...usage },
      });
      emit({
        type: "step_finished",
        stepId: step.stepId,
        data: {
          stepId: step.stepId,
          status: "cancelled",
          durationMs: Math.max(0, finishedAt.getTime() - step.startedAt.getTime()),
        },
      });
    }
    const updated = await db.workflowRun.updateMany({
      where: { id: runId, status: "running" },
      data: { status: "cancelled", ...(await finishTotals(startedAt)) },
    });
    if (updated.count > 0) emit({ type: "status", data: { status: "cancelled" } });
    await events.flush();
    return "cancelled";
  }
}
