/**
 * Workflows: zod schemas for the inputs and answers of the service, tRPC and REST. Browser-safe (no server
 * code): the builder shares them. The definition itself is described in definition.ts; inputs carry it as
 * any JSON (`z.unknown()`) because `validateWorkflow` checks it and reports every problem with its path,
 * which one zod issue could not.
 */
import { z } from "zod";
import { ZQueryInt } from "#app/modules/projects/projects.types.ts";
import { ZWorkflowDefinition } from "./definition.ts";

export const ZWorkflowId = z.uuid({ message: "id must be a UUID" });
const ZProjectId = z.uuid({ message: "id must be a UUID" });

export const ZWorkflowName = z
  .string()
  .trim()
  .min(1, "Enter a name")
  .max(100, "Name must be at most 100 characters");

export const ZWorkflowDescription = z
  .string()
  .trim()
  .max(2000, "Description must be at most 2000 characters");

/** What a save says about itself ("Tighter prompt"), shown in the history. */
export const ZVersionNote = z.string().trim().max(500, "A note is at most 500 characters");

export const ZWorkflowVersionNumber = z.number().int().min(1, "Versions start at 1");

/** A definition as sent: checked by `validateWorkflow`, not by zod (see the file comment). */
export const ZDefinitionInput = z
  .unknown()
  .describe("A workflow definition: { version?, inputs?, steps: [...] } (see the workflow format)");

/**
 * A boolean query flag: REST sends strings, the tRPC client booleans (a plain z.boolean() would be coerced
 * with Boolean("false") === true by trpc-to-openapi).
 */
const ZQueryFlag = z
  .union([z.boolean(), z.enum(["true", "false", "1", "0"])])
  .transform((value) => value === true || value === "true" || value === "1");

// ─── Inputs ──────────────────────────────────────────────────────────────────

/** Create: `id` is the project's (REST: POST /projects/{id}/workflows). */
export const ZCreateWorkflowInput = z.object({
  id: ZProjectId,
  name: ZWorkflowName,
  description: ZWorkflowDescription.optional(),
  definition: ZDefinitionInput,
});
export type TCreateWorkflowInput = z.input<typeof ZCreateWorkflowInput>;

/** The fields of a create, as the service parses them (the project comes separately). */
export const ZCreateWorkflowFields = ZCreateWorkflowInput.omit({ id: true, definition: true });

/** A model id as a step names it (`openai:gpt-4.1-mini`); the validator checks that it exists. */
export const ZModelIdInput = z
  .string()
  .trim()
  .min(1, "Choose a model")
  .max(240, "A model id is at most 240 characters");

export const ZCreateFromTemplateInput = z.object({
  id: ZProjectId,
  templateId: z.string().min(1, "Choose a template").max(100),
  /** Default: the template's name (made unique in the project: "Name 2", "Name 3"...). */
  name: ZWorkflowName.optional(),
  /** The model for the template's model steps. Default: your first available model, else the demo model. */
  model: ZModelIdInput.optional(),
});
export type TCreateFromTemplateInput = z.input<typeof ZCreateFromTemplateInput>;

export const ZUpdateWorkflowInput = z.object({
  id: ZWorkflowId,
  name: ZWorkflowName.optional(),
  /** null clears it. */
  description: ZWorkflowDescription.nullable().optional(),
  /** A definition that differs from the latest version's makes a new version; the same makes none. */
  definition: ZDefinitionInput.optional(),
  /** Kept with the new version (ignored when no version is made). */
  note: ZVersionNote.optional(),
  /** The version the edit started from: 409 (details.latestVersion) when someone saved since. */
  baseVersion: ZWorkflowVersionNumber.optional(),
  /** true archives (hidden from the default list, its name freed), false restores. */
  archived: z.boolean().optional(),
});
export type TUpdateWorkflowInput = z.input<typeof ZUpdateWorkflowInput>;

/** The fields of an update, as the service parses them. */
export const ZUpdateWorkflowFields = ZUpdateWorkflowInput.omit({ id: true, definition: true });

export const ZListWorkflowsInput = z.object({
  /** The project's id. */
  id: ZProjectId,
  includeArchived: ZQueryFlag.optional(),
  /** Paged when given (pass `nextCursor` back as `cursor`); without it, every workflow. */
  limit: ZQueryInt(1, 100).optional(),
  cursor: z.string().max(100).optional(),
});

/** A workflow's versions; paged when `limit` is given (pass `nextCursor` back as `cursor`). */
export const ZListVersionsInput = z.object({
  id: ZWorkflowId,
  limit: ZQueryInt(1, 100).optional(),
  cursor: z.string().max(20).optional(),
});

export const ZGetWorkflowInput = z.object({
  id: ZWorkflowId,
  /** Default: the latest version. */
  version: ZWorkflowVersionNumber.optional(),
});

export const ZWorkflowVersionInput = z.object({ id: ZWorkflowId, number: ZWorkflowVersionNumber });

export const ZDiffWorkflowInput = z.object({
  id: ZWorkflowId,
  from: ZWorkflowVersionNumber,
  to: ZWorkflowVersionNumber,
});

export const ZValidateWorkflowInput = z.object({ definition: ZDefinitionInput });

// ─── Views (outputs) ─────────────────────────────────────────────────────────

export const ZDefinitionIssue = z.object({
  /** JSON path of the problem in the definition: ["steps", 1, "prompt"]. */
  path: z.array(z.union([z.string(), z.number()])),
  message: z.string(),
});

export const ZRunStatus = z.enum(["queued", "running", "succeeded", "failed", "cancelled", "dead"]);

/** One version's facts, without its definition. */
export const ZWorkflowVersionMeta = z.object({
  id: z.string(),
  number: z.number().int(),
  /** sha256 of the canonical JSON of the definition, hex. */
  hash: z.string(),
  note: z.string().nullable(),
  createdAt: z.date(),
});
export type WorkflowVersionMeta = z.infer<typeof ZWorkflowVersionMeta>;

const workflowFields = {
  id: z.string(),
  projectId: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  latestVersion: z.number().int(),
  archivedAt: z.date().nullable(),
  createdAt: z.date(),
  updatedAt: z.date(),
};

/**
 * A workflow with one version's definition: the latest unless another was asked for (`version` says
 * which). `warnings` are the validator's for that definition today (a model no longer offered...).
 */
export const ZWorkflowView = z.object({
  ...workflowFields,
  version: ZWorkflowVersionMeta,
  definition: ZWorkflowDefinition,
  warnings: z.array(ZDefinitionIssue),
});
export type WorkflowView = z.infer<typeof ZWorkflowView>;

/** A workflow in a project's list. */
export const ZWorkflowSummary = z.object({
  ...workflowFields,
  /** Steps of the latest version. */
  stepCount: z.number().int(),
  /** The type of each step of the latest version, in order. */
  stepTypes: z.array(z.string()),
  /** The newest run of any version, if any. */
  lastRun: z
    .object({
      id: z.string(),
      status: ZRunStatus,
      createdAt: z.date(),
      finishedAt: z.date().nullable(),
    })
    .nullable(),
});
export type WorkflowSummary = z.infer<typeof ZWorkflowSummary>;

export const ZWorkflowVersionSummary = ZWorkflowVersionMeta.extend({
  stepCount: z.number().int(),
  /** Runs pinned to this version. */
  runCount: z.number().int(),
});
export type WorkflowVersionSummary = z.infer<typeof ZWorkflowVersionSummary>;

export const ZWorkflowVersionDetail = ZWorkflowVersionSummary.extend({ definition: ZWorkflowDefinition });
export type WorkflowVersionDetail = z.infer<typeof ZWorkflowVersionDetail>;

export const ZWorkflowDiff = z.object({
  from: z.number().int(),
  to: z.number().int(),
  /** Unified diff of the two definitions as indented JSON (3 lines of context). */
  patch: z.string(),
  summary: z.object({
    /** Step ids only in `to`, in its order. */
    added: z.array(z.string()),
    /** Step ids only in `from`, in its order. */
    removed: z.array(z.string()),
    /** Step ids in both whose step differs, in `to`'s order. */
    changed: z.array(z.string()),
    inputsChanged: z.boolean(),
    /** The steps both versions have are in another order. */
    reordered: z.boolean(),
  }),
});
export type WorkflowDiff = z.infer<typeof ZWorkflowDiff>;

export const ZValidationResult = z.object({
  ok: z.boolean(),
  errors: z.array(ZDefinitionIssue),
  warnings: z.array(ZDefinitionIssue),
});
export type ValidationResult = z.infer<typeof ZValidationResult>;

export const ZWorkflowTemplateView = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string(),
  definition: ZWorkflowDefinition,
  stepCount: z.number().int(),
});
export type WorkflowTemplateView = z.infer<typeof ZWorkflowTemplateView>;
