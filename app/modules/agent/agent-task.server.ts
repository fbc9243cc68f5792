/**
 * The one-click agent task of a project page: "fix the failing tests" or "do this task", started with one
 * call. It finds (or makes) the project's workflow for that kind of task, points its model steps at the
 * chosen model (a new version when the model changes), and queues a run of it.
 *
 * Which workflow is "the project's workflow for this": recognised by its SHAPE, never by its name. A live
 * (not archived) workflow of the project whose latest version is the blueprint's definition with only the
 * model of its model steps differing is the one; the most recently changed wins when there are several.
 * So a user may rename it freely and it is still reused; once a user edits its steps or inputs it is
 * theirs, it no longer matches, and the next task makes a fresh one under a free name ("Fix failing tests
 * 2", "Agent task 2"...) rather than overwriting their edits with a new version. Shapes:
 * - fix-tests: the starter template `fix-failing-tests` (its test command is a run input, not the shape);
 * - custom with a test command: one agent step, then a `run_tests` command step (it fails the run if the
 *   tests still fail);
 * - custom without one: the agent step alone.
 * A changed template (a new app version) simply stops matching old workflows, which stay as they are.
 *
 * Two concurrent first calls for the same project may each create one workflow (the creations are
 * serialised by the workflows module's lock, but the lookup before them is not); both run, and later
 * calls reuse the most recently changed. Not worth a lock held across two modules' transactions.
 */
import type { Db } from "#app/db/client.server.ts";
import { AppError, isAppError } from "#app/lib/app-error.ts";
import { isUuid, parseInput } from "#app/lib/use-case.ts";
import type { ModelOption } from "#app/modules/ai/ai.types.ts";
import { assertProjectOwned } from "#app/modules/projects/deps.server.ts";
import { createRun } from "#app/modules/runs/index.server.ts";
import {
  createWorkflow,
  createWorkflowFromTemplate,
  definitionHash,
  instantiateTemplate,
  updateWorkflow,
  type WorkflowDefinition,
  type WorkflowDefinitionInput,
  type WorkflowsDeps,
  ZWorkflowDefinition,
} from "#app/modules/workflows/index.server.ts";
import {
  type AgentTaskKind,
  DEFAULT_TEST_COMMAND,
  type TStartAgentTaskOutput,
  ZAgentTaskFields,
} from "./agent-task.types.ts";

export type AgentTaskDeps = {
  db: Db;
  /** Whether a model id can be called (as the workflows module checks it). Absent: not checked. */
  isKnownModel?: (id: string) => boolean;
  /** The caller's models: a model listed without credentials is refused before anything is written. */
  listModels?: (userId: string) => Promise<ModelOption[]>;
  /** How commands run on this server; "unavailable" refuses the task (its steps would be refused). */
  sandbox?: () => Promise<{ mode: "bwrap" | "unsafe" | "unavailable" } | null>;
  /** The clock. Default `() => new Date()`; tests pass a fixed one. */
  now?: () => Date;
};

export type StartAgentTaskArgs = {
  userId: string;
  projectId: string;
  kind: AgentTaskKind;
  task?: string;
  testCommand?: string;
  /** The agent's model; the transports fill in the caller's default. Absent: BAD_REQUEST. */
  model?: string;
  budgetUsd?: number;
  apiKeyId?: string | null;
};

/** The template the fix-tests task runs. */
export const FIX_TESTS_TEMPLATE_ID = "fix-failing-tests";
/** The name a new custom-task workflow gets (made unique in the project). */
export const CUSTOM_TASK_NAME = "Agent task";
/** Stands for "any model" when shapes are compared. */
const ANY_MODEL = "agent-task:any-model";
/** Candidates looked at (most recently changed first); a project has far fewer workflows. */
const MAX_CANDIDATES = 50;

type Plan = {
  /** The definition with every model step on `model`. */
  definition(model: string): WorkflowDefinition;
  /** Create the workflow (version 1) on `model`. */
  create(scope: { userId: string; projectId: string }, model: string, deps: WorkflowsDeps): Promise<Created>;
};
type Created = { id: string; version: { number: number } };

function customDefinition(model: string, withTests: boolean): WorkflowDefinition {
  const definition: WorkflowDefinitionInput = {
    version: 1,
    inputs: {
      task: {
        type: "text",
        label: "Task",
        description: "What the agent should do in the project, in your own words.",
        required: true,
      },
      ...(withTests
        ? {
            test_command: {
              type: "string" as const,
              label: "Test command",
              description: "The command that runs the project's tests.",
              default: DEFAULT_TEST_COMMAND,
            },
          }
        : {}),
    },
    steps: [
      {
        id: "agent",
        name: "Do the task",
        type: "agent",
        model,
        instructions: [
          "Do the following task in the project's workspace.",
          "",
          "Task:",
          "{{inputs.task}}",
          "",
          ...(withTests
            ? [
                "The project's tests run with this command:",
                "{{inputs.test_command}}",
                "Run it to check your change: it runs again after you finish, and the task fails if the tests fail.",
                "",
              ]
            : []),
          "Keep the existing code style. When you are done, summarise what you changed and why.",
        ].join("\n"),
      },
      ...(withTests
        ? [
            {
              id: "run_tests",
              name: "Run the tests",
              type: "command" as const,
              run: "{{inputs.test_command}}",
              continueOnError: false,
            },
          ]
        : []),
    ],
  };
  return ZWorkflowDefinition.parse(definition);
}

function planFor(kind: AgentTaskKind, withTests: boolean): Plan {
  if (kind === "fix-tests") {
    return {
      definition: (model) => instantiateTemplate(FIX_TESTS_TEMPLATE_ID, { model }),
      create: (scope, model, deps) =>
        createWorkflowFromTemplate({ ...scope, templateId: FIX_TESTS_TEMPLATE_ID, model }, deps),
    };
  }
  return {
    definition: (model) => customDefinition(model, withTests),
    create: async (scope, model, deps) =>
      createWorkflow(
        {
          ...scope,
          name: await freeName(deps.db, scope, CUSTOM_TASK_NAME),
          description: withTests
            ? "The agent does the task you describe, then the tests run: the run fails if they fail."
            : "The agent does the task you describe.",
          definition: customDefinition(model, withTests),
        },
        deps,
      ),
  };
}

const isModelStep = (step: WorkflowDefinition["steps"][number]) =>
  step.type === "llm" || step.type === "agent";

/** The hash of a definition with every model step's model replaced: equal shapes, equal hashes. */
function shapeHash(definition: WorkflowDefinition): string {
  return definitionHash({
    ...definition,
    steps: definition.steps.map((step) => (isModelStep(step) ? { ...step, model: ANY_MODEL } : step)),
  });
}

function modelsOf(definition: WorkflowDefinition): string[] {
  return definition.steps.flatMap((step) =>
    step.type === "llm" || step.type === "agent" ? [step.model] : [],
  );
}

/** The project's live workflow of this shape, most recently changed first, with its latest version. */
async function findMatching(
  db: Db,
  scope: { userId: string; projectId: string },
  blueprint: WorkflowDefinition,
): Promise<{ id: string; latestVersion: number; models: string[] } | null> {
  const stepIds = JSON.stringify(blueprint.steps.map((step) => step.id));
  // Step ids first, in SQL: definitions of unrelated workflows are not loaded.
  const rows = await db.$queryRaw<Array<{ id: string; latestVersion: number; definition: unknown }>>`
    SELECT w.id::text AS id, w."latestVersion" AS "latestVersion", v.definition
    FROM "AIWorkflow" w
    JOIN "WorkflowVersion" v
      ON v."workflowId" = w.id AND v."userId" = w."userId" AND v.number = w."latestVersion"
    WHERE w."userId" = ${scope.userId}::uuid AND w."projectId" = ${scope.projectId}::uuid
      AND w."archivedAt" IS NULL
      AND jsonb_path_query_array(v.definition::jsonb, '$.steps[*].id') = ${stepIds}::jsonb
    ORDER BY w."updatedAt" DESC, w.id DESC
    LIMIT ${MAX_CANDIDATES}`;
  const wanted = shapeHash(blueprint);
  for (const row of rows) {
    const parsed = ZWorkflowDefinition.safeParse(row.definition);
    if (parsed.success && shapeHash(parsed.data) === wanted) {
      return { id: row.id, latestVersion: row.latestVersion, models: modelsOf(parsed.data) };
    }
  }
  return null;
}

/** `name`, else "name 2", "name 3"...: the first not taken by a live workflow of the project (any case). */
async function freeName(db: Db, scope: { userId: string; projectId: string }, name: string): Promise<string> {
  const rows = await db.aIWorkflow.findMany({
    where: { ...scope, archivedAt: null, name: { startsWith: name, mode: "insensitive" } },
    select: { name: true },
  });
  const taken = new Set(rows.map((row) => row.name.toLowerCase()));
  for (let n = 1; ; n++) {
    const candidate = n === 1 ? name : `${name} ${n}`;
    if (!taken.has(candidate.toLowerCase())) return candidate;
  }
}

async function assertModelUsable(model: string, userId: string, deps: AgentTaskDeps): Promise<void> {
  if (deps.isKnownModel && !deps.isKnownModel(model)) {
    throw new AppError("BAD_REQUEST", `Unknown model "${model}": choose one of your models`, {
      issues: [{ path: ["model"], message: "Unknown model" }],
    });
  }
  const listed = (await deps.listModels?.(userId))?.find((option) => option.id === model);
  if (listed && !listed.available) {
    throw new AppError(
      "BAD_REQUEST",
      `There is no API key for ${listed.label ?? model}: add one in Settings → Providers, or choose another model`,
      { issues: [{ path: ["model"], message: "No API key for this model's provider" }] },
    );
  }
}

/**
 * The workflow to run, on `model`: the project's matching one (a new version when its model differs),
 * else a new one. A save that raced ours (CONFLICT: stale base version, name taken) is retried once.
 */
async function workflowFor(
  scope: { userId: string; projectId: string },
  plan: Plan,
  model: string,
  deps: WorkflowsDeps,
): Promise<{ workflowId: string; version: number; created: boolean }> {
  for (let attempt = 1; ; attempt++) {
    try {
      const found = await findMatching(deps.db, scope, plan.definition(ANY_MODEL));
      if (!found) {
        const created = await plan.create(scope, model, deps);
        return { workflowId: created.id, version: created.version.number, created: true };
      }
      if (found.models.every((used) => used === model)) {
        return { workflowId: found.id, version: found.latestVersion, created: false };
      }
      const updated = await updateWorkflow(
        {
          userId: scope.userId,
          workflowId: found.id,
          definition: plan.definition(model),
          baseVersion: found.latestVersion,
          note: `Model set to ${model} for an agent task`,
        },
        deps,
      );
      return { workflowId: updated.id, version: updated.version.number, created: false };
    } catch (error) {
      if (attempt < 2 && isAppError(error) && error.code === "CONFLICT") continue;
      throw error;
    }
  }
}

/**
 * Start an agent task on one of the caller's projects (NOT_FOUND otherwise): find or create the project's
 * workflow for it (see the header), with its model steps on `model`, and queue a run of that version with
 * the task's inputs. BAD_REQUEST for a bad input, no model, an unknown model or one without an API key;
 * SERVICE_UNAVAILABLE when this server has no sandbox (the task's steps would be refused).
 */
export async function startAgentTask(
  input: StartAgentTaskArgs,
  deps: AgentTaskDeps,
): Promise<TStartAgentTaskOutput> {
  const fields = parseInput(ZAgentTaskFields, {
    kind: input.kind,
    task: input.task,
    testCommand: input.testCommand,
    model: input.model,
    budgetUsd: input.budgetUsd,
  });
  const scope = { userId: input.userId, projectId: input.projectId };
  // Ownership before anything else: someone else's project answers NOT_FOUND whatever the body.
  await assertProjectOwned(deps.db, scope.userId, scope.projectId);
  const model = fields.model;
  if (!model) {
    throw new AppError(
      "BAD_REQUEST",
      "No model is available: add an API key in Settings → Providers, then choose a model",
      { issues: [{ path: ["model"], message: "Choose a model" }] },
    );
  }
  await assertModelUsable(model, scope.userId, deps);
  const sandbox = await deps.sandbox?.();
  if (sandbox?.mode === "unavailable") {
    throw new AppError(
      "SERVICE_UNAVAILABLE",
      "This server has no sandbox, so it refuses command and agent steps: ask the operator to install bubblewrap",
    );
  }

  const withTests = fields.kind === "fix-tests" || fields.testCommand !== undefined;
  const plan = planFor(fields.kind, withTests);
  const workflowDeps: WorkflowsDeps = { db: deps.db, isKnownModel: deps.isKnownModel, now: deps.now };
  const target = await workflowFor(scope, plan, model, workflowDeps);

  const testCommand = fields.testCommand ?? DEFAULT_TEST_COMMAND;
  const runInput =
    fields.kind === "fix-tests"
      ? { test_command: testCommand }
      : { task: fields.task, ...(withTests ? { test_command: testCommand } : {}) };
  const { runId } = await createRun(
    {
      userId: scope.userId,
      workflowId: target.workflowId,
      version: target.version,
      input: runInput,
      budgetUsd: fields.budgetUsd,
      apiKeyId: input.apiKeyId && isUuid(input.apiKeyId) ? input.apiKeyId : null,
    },
    { db: deps.db, now: deps.now },
  );
  return { runId, workflowId: target.workflowId, version: target.version, created: target.created };
}
