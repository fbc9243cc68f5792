/**
 * Starter workflows a user can begin from. Their model steps name `openai:gpt-4.1-mini`; the service
 * swaps in the user's own default model with `instantiateTemplate`. Browser-safe (the builder lists them).
 * Prompts describe the task to the model; they never contain an answer.
 */
import {
  type Step,
  type WorkflowDefinition,
  type WorkflowDefinitionInput,
  ZWorkflowDefinition,
} from "./definition.ts";

export type WorkflowTemplate = {
  /** Stable id (`plan-implement-test-review`), used by the API. */
  id: string;
  name: string;
  description: string;
  definition: WorkflowDefinitionInput;
};

/** The model the templates are written with. */
export const TEMPLATE_MODEL = "openai:gpt-4.1-mini";

const planImplementTestReview: WorkflowTemplate = {
  id: "plan-implement-test-review",
  name: "Plan → implement → test → review",
  description:
    "A model plans the change, the agent implements it, the test command runs, and a model reviews the result against the plan and the test output.",
  definition: {
    version: 1,
    inputs: {
      task: {
        type: "text",
        label: "Task",
        description: "What should change in the project, in your own words.",
        required: true,
      },
      test_command: {
        type: "string",
        label: "Test command",
        description: "The command that runs the project's tests.",
        default: "npm test",
      },
    },
    steps: [
      {
        id: "plan",
        name: "Plan",
        type: "llm",
        model: TEMPLATE_MODEL,
        system:
          "You are a senior software engineer. You plan changes to an existing code base before anyone writes code.",
        prompt: [
          "Write a plan for the following task.",
          "",
          "Task:",
          "{{inputs.task}}",
          "",
          "Answer with a numbered list of short, concrete steps: which files to create or change, what to add or",
          "modify in each, and which tests to add or update. Do not write the code itself.",
        ].join("\n"),
        temperature: 0.2,
      },
      {
        id: "implement",
        name: "Implement",
        type: "agent",
        model: TEMPLATE_MODEL,
        instructions: [
          "Implement the following task in the project's workspace.",
          "",
          "Task:",
          "{{inputs.task}}",
          "",
          "Follow this plan:",
          "{{steps.plan.output}}",
          "",
          "Keep the existing code style. Add or update tests for the new behaviour.",
          "When you are done, summarise what you changed and why.",
        ].join("\n"),
      },
      {
        id: "test",
        name: "Run the tests",
        type: "command",
        run: "{{inputs.test_command}}",
        continueOnError: true,
      },
      {
        id: "review",
        name: "Review",
        type: "llm",
        model: TEMPLATE_MODEL,
        system: "You are a careful code reviewer. You judge a change by the task it was meant to accomplish.",
        prompt: [
          "Review a change made to a project.",
          "",
          "The task was:",
          "{{inputs.task}}",
          "",
          "The plan was:",
          "{{steps.plan.output}}",
          "",
          "The implementer's summary of the change:",
          "{{steps.implement.output}}",
          "",
          "The test command exited with code {{steps.test.output.exitCode}}. Its standard output:",
          "{{steps.test.output.stdout}}",
          "",
          "Its standard error:",
          "{{steps.test.output.stderr}}",
          "",
          'Answer with a JSON object with three keys: "verdict" ("pass" when the change accomplishes the task and',
          'the tests pass, "fail" otherwise), "summary" (a short paragraph explaining the verdict) and "issues"',
          "(a list of the problems that remain, empty when there are none).",
        ].join("\n"),
        temperature: 0,
        output: "json",
        schema: {
          type: "object",
          properties: {
            verdict: { type: "string", enum: ["pass", "fail"] },
            summary: { type: "string" },
            issues: { type: "array", items: { type: "string" } },
          },
          required: ["verdict", "summary", "issues"],
          additionalProperties: false,
        },
      },
    ],
  },
};

const explainCode: WorkflowTemplate = {
  id: "explain-code",
  name: "Explain this code",
  description: "Paste some code and get an explanation of what it does, optionally focused on one aspect.",
  definition: {
    version: 1,
    inputs: {
      code: {
        type: "text",
        label: "Code",
        description: "The code to explain.",
        required: true,
      },
      focus: {
        type: "string",
        label: "Focus",
        description: "Optional: what to concentrate on (error handling, performance, a function's name...).",
        required: false,
      },
    },
    steps: [
      {
        id: "explain",
        name: "Explain",
        type: "llm",
        model: TEMPLATE_MODEL,
        system: "You explain code clearly to developers who are new to it.",
        prompt: [
          "Explain what the following code does: its purpose, how it works step by step, and anything",
          "surprising or risky in it.",
          "",
          "Code:",
          "{{inputs.code}}",
          "",
          "If a focus is given on the next line, concentrate the explanation on it; if it is empty, cover the",
          "code as a whole.",
          "Focus: {{inputs.focus}}",
        ].join("\n"),
        temperature: 0.2,
      },
    ],
  },
};

const fixFailingTests: WorkflowTemplate = {
  id: "fix-failing-tests",
  name: "Fix failing tests",
  description:
    "Runs the tests, lets the agent fix what fails using their output, then runs the tests again: the run fails if they still fail.",
  definition: {
    version: 1,
    inputs: {
      test_command: {
        type: "string",
        label: "Test command",
        description: "The command that runs the project's tests.",
        default: "npm test",
      },
    },
    steps: [
      {
        id: "run_tests",
        name: "Run the tests",
        type: "command",
        run: "{{inputs.test_command}}",
        continueOnError: true,
      },
      {
        id: "fix",
        name: "Fix the failures",
        type: "agent",
        model: TEMPLATE_MODEL,
        instructions: [
          "The project's tests were run with this command:",
          "{{inputs.test_command}}",
          "",
          "It exited with code {{steps.run_tests.output.exitCode}}. Its standard output:",
          "{{steps.run_tests.output.stdout}}",
          "",
          "Its standard error:",
          "{{steps.run_tests.output.stderr}}",
          "",
          "If the exit code is 0, the tests already pass: change nothing and say so.",
          "Otherwise find the cause of each failure and fix it. Fix the code under test rather than the tests,",
          "unless a test is clearly wrong. Run the test command to check your fix.",
          "When you are done, summarise the cause of each failure and what you changed.",
        ].join("\n"),
      },
      {
        id: "rerun_tests",
        name: "Run the tests again",
        type: "command",
        run: "{{inputs.test_command}}",
        continueOnError: false,
      },
    ],
  },
};

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** The starter templates, in the order the builder shows them. Frozen: copy before changing one. */
export const WORKFLOW_TEMPLATES: ReadonlyArray<WorkflowTemplate> = deepFreeze([
  planImplementTestReview,
  explainCode,
  fixFailingTests,
]);

/** A starter template by id, or undefined. */
export function getWorkflowTemplate(id: string): WorkflowTemplate | undefined {
  return WORKFLOW_TEMPLATES.find((template) => template.id === id);
}

/**
 * A template's definition (a fresh copy, defaults applied) with every model step (llm, agent) set to
 * `model`. The model id is not checked here: validateWorkflow reports a bad or unknown one.
 * Throws for an unknown template id (check with getWorkflowTemplate first) or an empty model.
 */
export function instantiateTemplate(id: string, { model }: { model: string }): WorkflowDefinition {
  const template = getWorkflowTemplate(id);
  if (!template) throw new Error(`Unknown workflow template "${id}"`);
  const definition = ZWorkflowDefinition.parse(structuredClone(template.definition));
  definition.steps = definition.steps.map(
    (step): Step => (step.type === "llm" || step.type === "agent" ? { ...step, model } : step),
  );
  const checked = ZWorkflowDefinition.safeParse(definition);
  if (!checked.success) {
    throw new Error(`Cannot use model "${model}" in template "${id}": ${checked.error.issues[0]?.message}`);
  }
  return checked.data;
}
