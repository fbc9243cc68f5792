/**
 * Workflow runs as the API and the browser see them: inputs of the procedures and the views they return.
 * Browser-safe (zod only). Money is in integer micro-dollars, exposed as numbers (bigint is not JSON).
 */
import { z } from "zod";
import { RUN_STATUSES } from "./run-events.types.ts";

export const ZRunId = z.uuid({ message: "id must be a UUID" });
export const ZRunStatus = z.enum(RUN_STATUSES);
export type RunStatus = z.infer<typeof ZRunStatus>;

export const STEP_RUN_STATUSES = [
  "pending",
  "running",
  "succeeded",
  "failed",
  "cancelled",
  "skipped",
] as const;
export const ZStepRunStatus = z.enum(STEP_RUN_STATUSES);

/** Cost cap of one run, in US dollars (the API's unit; stored as micro-dollars). */
export const MAX_RUN_BUDGET_USD = 10_000;

/** REST sends query values as strings; the tRPC client sends numbers. */
const ZQueryInt = (min: number, max: number) =>
  z
    .union([z.number(), z.string().regex(/^\d+$/, "must be a whole number")])
    .transform((value) => Number(value))
    .pipe(z.number().int().min(min).max(max));

// ─── Inputs ──────────────────────────────────────────────────────────────────

/** Start a run of a workflow (REST: POST /workflows/{id}/runs); `id` is the workflow's. */
export const ZCreateRunInput = z.object({
  id: z.uuid({ message: "id must be a UUID" }),
  /** Values by input name; checked against the version's inputs (defaults applied). */
  input: z.record(z.string(), z.unknown()).optional(),
  /** The version to run; default the latest. */
  version: z.number().int().min(1).optional(),
  /** A cost cap for this run in USD, on top of the user's budgets. */
  budgetUsd: z.number().positive().max(MAX_RUN_BUDGET_USD).optional(),
});
export type TCreateRunInput = z.infer<typeof ZCreateRunInput>;

export const ZRunIdInput = z.object({ id: ZRunId });

/** The answer of retry / re-run: the new run, and the steps it reuses (retry only). */
export const ZRestartRunOutput = z.object({ runId: z.string(), reusedSteps: z.array(z.string()) });

export const ZListRunsInput = z.object({
  projectId: z.uuid({ message: "projectId must be a UUID" }).optional(),
  workflowId: z.uuid({ message: "workflowId must be a UUID" }).optional(),
  status: ZRunStatus.optional(),
  limit: ZQueryInt(1, 100).optional(),
  /** `nextCursor` of the previous page. */
  cursor: z.string().max(100).optional(),
});
export type TListRunsInput = z.infer<typeof ZListRunsInput>;

// ─── Views ───────────────────────────────────────────────────────────────────

export const ZRunError = z.object({ code: z.string(), message: z.string(), stepId: z.string().optional() });
export type RunError = z.infer<typeof ZRunError>;

export const ZStepRunView = z.object({
  id: z.string(),
  stepId: z.string(),
  index: z.number().int(),
  type: z.string(),
  status: ZStepRunStatus,
  attempt: z.number().int(),
  input: z.unknown(),
  output: z.unknown(),
  error: ZRunError.nullable(),
  tokensIn: z.number().int(),
  tokensOut: z.number().int(),
  costMicros: z.number(),
  startedAt: z.date().nullable(),
  finishedAt: z.date().nullable(),
  /** Set on a retried run's steps that were not executed again: the run whose output they reuse. */
  reusedFromRunId: z.string().nullable(),
});
export type StepRunView = z.infer<typeof ZStepRunView>;

export const ZRunSummary = z.object({
  id: z.string(),
  projectId: z.string(),
  workflowId: z.string(),
  workflowName: z.string(),
  workflowVersionId: z.string(),
  versionNumber: z.number().int(),
  status: ZRunStatus,
  error: ZRunError.nullable(),
  tokensIn: z.number().int(),
  tokensOut: z.number().int(),
  costMicros: z.number(),
  durationMs: z.number().int().nullable(),
  attempt: z.number().int(),
  createdAt: z.date(),
  startedAt: z.date().nullable(),
  finishedAt: z.date().nullable(),
});
export type RunSummary = z.infer<typeof ZRunSummary>;

export const ZRunView = ZRunSummary.extend({
  input: z.unknown(),
  output: z.unknown(),
  budgetMicros: z.number().nullable(),
  maxAttempts: z.number().int(),
  cancelRequestedAt: z.date().nullable(),
  heartbeatAt: z.date().nullable(),
  lastEventSeq: z.number().int(),
  retryOfRunId: z.string().nullable(),
  steps: z.array(ZStepRunView),
});
export type RunView = z.infer<typeof ZRunView>;

export const ZRunPage = z.object({
  items: z.array(ZRunSummary),
  /** Pass as `cursor` for the next (older) page; null on the last page. */
  nextCursor: z.string().nullable(),
});
export type RunPage = z.infer<typeof ZRunPage>;
