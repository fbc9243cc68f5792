/**
 * The one-click agent task of a project page (and `POST /api/v1/projects/{id}/agent-task`): what it takes
 * and what it answers. Browser-safe (zod only): the dialog checks its form with the same schema.
 */
import { z } from "zod";

export const AGENT_TASK_KINDS = ["fix-tests", "custom"] as const;
export type AgentTaskKind = (typeof AGENT_TASK_KINDS)[number];

/** The test command when the caller gives none (fix-tests; custom runs no tests without one). */
export const DEFAULT_TEST_COMMAND = "npm test";
export const MAX_AGENT_TASK_CHARS = 20_000;
export const MAX_TEST_COMMAND_CHARS = 1_000;
/** Same cap as a run's own budget (runs.types.ts MAX_RUN_BUDGET_USD). */
export const MAX_AGENT_TASK_BUDGET_USD = 10_000;

/** "" and blanks count as absent: a cleared form field sends "". */
const optionalText = (max: number, tooLong: string) =>
  z
    .string()
    .trim()
    .max(max, tooLong)
    .optional()
    .transform((value) => (value === "" ? undefined : value));

const fields = {
  /** "fix-tests": run the tests, let the agent fix what fails, run them again. "custom": `task`. */
  kind: z.enum(AGENT_TASK_KINDS, { message: 'kind must be "fix-tests" or "custom"' }),
  /** What the agent should do, in the user's words (kind "custom" only). */
  task: optionalText(MAX_AGENT_TASK_CHARS, `The task is at most ${MAX_AGENT_TASK_CHARS} characters`),
  /** The command that runs the project's tests (default `npm test` for fix-tests; none: custom runs no tests). */
  testCommand: optionalText(
    MAX_TEST_COMMAND_CHARS,
    `The test command is at most ${MAX_TEST_COMMAND_CHARS} characters`,
  ),
  /** The model of the agent (and of the workflow's other model steps); default: your first available one. */
  model: z
    .string()
    .trim()
    .min(1, "Choose a model")
    .max(240, "A model id is at most 240 characters")
    .optional(),
  /** A cost cap for this run in USD, on top of your budgets. */
  budgetUsd: z.number().positive().max(MAX_AGENT_TASK_BUDGET_USD).optional(),
};

function checkKind(value: { kind: AgentTaskKind; task?: string | undefined }, ctx: z.RefinementCtx): void {
  if (value.kind === "custom" && value.task === undefined) {
    ctx.addIssue({ code: "custom", path: ["task"], message: "Describe the task for the agent" });
  }
  if (value.kind === "fix-tests" && value.task !== undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["task"],
      message: 'A task description applies to kind "custom" only',
    });
  }
}

/** The task's fields, without the project (the form's schema). */
export const ZAgentTaskFields = z.object(fields).superRefine(checkKind);
export type TAgentTaskFields = z.input<typeof ZAgentTaskFields>;

/** REST: POST /projects/{id}/agent-task; `id` is the project's. */
export const ZStartAgentTaskInput = z
  .object({ id: z.uuid({ message: "id must be a UUID" }), ...fields })
  .superRefine(checkKind);
export type TStartAgentTaskInput = z.input<typeof ZStartAgentTaskInput>;

export const ZStartAgentTaskOutput = z.object({
  runId: z.string(),
  workflowId: z.string(),
  /** The workflow version the run is pinned to. */
  version: z.number().int(),
  /** Whether this call created the workflow (false: an existing one was reused). */
  created: z.boolean(),
});
export type TStartAgentTaskOutput = z.infer<typeof ZStartAgentTaskOutput>;
