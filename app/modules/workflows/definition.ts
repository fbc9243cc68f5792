/**
 * The workflow definition format (version 1), shared by the builder in the browser, the API and the engine.
 * A definition is data: typed inputs and an ordered list of steps. Templates in steps read
 * `{{inputs.x}}`, `{{steps.<id>.output}}`, `{{steps.<id>.output.<path>}}` and `{{project.files["path"]}}`.
 *
 *   {"inputs":{"task":{"type":"string"}},
 *    "steps":[{"id":"plan","type":"llm","model":"openai:gpt-4.1-mini","prompt":"Plan: {{inputs.task}}"},
 *             {"id":"check","type":"command","run":"npm test"}]}
 *
 * The zod schema checks shape; `validateWorkflow` (validate.ts) adds the cross-field checks (duplicate ids,
 * references, templates, models) and reports every problem with its path.
 */
import { z } from "zod";

export const WORKFLOW_FORMAT_VERSION = 1;
export const MAX_STEPS = 50;
export const MAX_INPUTS = 30;
export const MAX_TEMPLATE_CHARS = 100_000;

/** Step ids and input names: they appear in templates (`steps.plan.output`, `inputs.task`). */
export const ZIdentifier = z
  .string()
  .regex(/^[a-z][a-z0-9_]{0,39}$/, "Use lower-case letters, digits and _ (start with a letter, at most 40)");

export const INPUT_TYPES = ["string", "text", "number", "boolean", "json"] as const;
export type InputType = (typeof INPUT_TYPES)[number];

export const ZInputSpec = z
  .object({
    /** string: one line; text: several lines; json: any JSON value. */
    type: z.enum(INPUT_TYPES),
    label: z.string().max(100).optional(),
    description: z.string().max(1000).optional(),
    /** Required unless it has a default or `required: false`. */
    required: z.boolean().optional(),
    default: z.unknown().optional(),
    /** For string inputs: the allowed values (a select in the run form). */
    enum: z.array(z.string().max(200)).min(1).max(100).optional(),
  })
  .strict();
export type InputSpec = z.infer<typeof ZInputSpec>;

const ZTemplateText = z
  .string()
  .max(MAX_TEMPLATE_CHARS, `At most ${MAX_TEMPLATE_CHARS.toLocaleString("en")} characters`);

const stepBase = {
  id: ZIdentifier,
  /** Shown in the builder and the results panel; defaults to the id. */
  name: z.string().max(100).optional(),
};

/** A model call. `output: "json"` parses the answer as JSON and checks it against `schema` when given. */
export const ZLlmStep = z
  .object({
    ...stepBase,
    type: z.literal("llm"),
    model: z.string().min(1, "Choose a model").max(240),
    prompt: ZTemplateText.min(1, "Write the prompt"),
    system: ZTemplateText.optional(),
    temperature: z.number().min(0).max(2).optional(),
    maxTokens: z.number().int().min(1).max(200_000).optional(),
    seed: z.number().int().optional(),
    output: z.enum(["text", "json"]).default("text"),
    /** JSON Schema the parsed output must satisfy (output "json" only). */
    schema: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

/** A template rendered to text, or parsed as JSON (`output: "json"`). No model call. */
export const ZTransformStep = z
  .object({
    ...stepBase,
    type: z.literal("transform"),
    template: ZTemplateText,
    output: z.enum(["text", "json"]).default("text"),
  })
  .strict();

/** A shell command in the sandbox, in the run's workspace. Its output is `{exitCode, stdout, stderr}`. */
export const ZCommandStep = z
  .object({
    ...stepBase,
    type: z.literal("command"),
    run: ZTemplateText.min(1, "Write the command"),
    timeoutSeconds: z.number().int().min(1).max(3600).default(300),
    /** A non-zero exit fails the step (and the run) unless this is true. */
    continueOnError: z.boolean().default(false),
  })
  .strict();

/** The autonomous coding agent (its loop and tools are provided by the agent module). */
export const ZAgentStep = z
  .object({
    ...stepBase,
    type: z.literal("agent"),
    model: z.string().min(1, "Choose a model").max(240),
    instructions: ZTemplateText.min(1, "Write the instructions"),
    maxTurns: z.number().int().min(1).max(200).default(30),
    /** Stop when the agent's calls have used this many tokens (in + out). */
    maxTokens: z.number().int().min(1_000).max(50_000_000).optional(),
    /** Stop when the agent's calls cost more than this (USD). */
    maxCostUsd: z.number().positive().max(1000).optional(),
    maxMinutes: z.number().int().min(1).max(240).default(20),
  })
  .strict();

export const ZStep = z.discriminatedUnion("type", [ZLlmStep, ZTransformStep, ZCommandStep, ZAgentStep]);
export type Step = z.infer<typeof ZStep>;
export type StepType = Step["type"];
export type LlmStep = z.infer<typeof ZLlmStep>;
export type TransformStep = z.infer<typeof ZTransformStep>;
export type CommandStep = z.infer<typeof ZCommandStep>;
export type AgentStep = z.infer<typeof ZAgentStep>;

export const ZWorkflowDefinition = z
  .object({
    /** Format version of this document. */
    version: z.literal(WORKFLOW_FORMAT_VERSION).default(WORKFLOW_FORMAT_VERSION),
    inputs: z
      .record(ZIdentifier, ZInputSpec)
      .default({})
      .refine((inputs) => Object.keys(inputs).length <= MAX_INPUTS, `At most ${MAX_INPUTS} inputs`),
    steps: z.array(ZStep).min(1, "Add at least one step").max(MAX_STEPS, `At most ${MAX_STEPS} steps`),
  })
  .strict();
export type WorkflowDefinition = z.infer<typeof ZWorkflowDefinition>;
export type WorkflowDefinitionInput = z.input<typeof ZWorkflowDefinition>;

/** One problem in a definition, at a JSON path (`["steps", 1, "prompt"]`). */
export type DefinitionIssue = { path: Array<string | number>; message: string };

/** The template fields of a step, by step type (what the validator parses and the engine renders). */
export const TEMPLATE_FIELDS: Record<StepType, readonly string[]> = {
  llm: ["prompt", "system"],
  transform: ["template"],
  command: ["run"],
  agent: ["instructions"],
};

/** Roots a template may read. */
export const TEMPLATE_ROOTS = ["inputs", "steps", "project"] as const;
