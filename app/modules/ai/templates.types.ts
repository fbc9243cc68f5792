/**
 * Prompt templates: zod schemas shared by forms, tRPC and REST. Browser-safe (no server code).
 */
import { z } from "zod";
import { ZQueryInt } from "#app/modules/projects/projects.types.ts";

/** Largest template body, in characters (~200 KB): a prompt, not a corpus; variables carry the bulk. */
export const MAX_TEMPLATE_BODY = 200_000;

export const ZTemplateId = z.uuid({ message: "id must be a UUID" });

export const ZTemplateName = z
  .string()
  .trim()
  .min(1, "Enter a name")
  .max(100, "Name must be at most 100 characters");

export const ZTemplateBody = z
  .string()
  .max(MAX_TEMPLATE_BODY, `A template is at most ${MAX_TEMPLATE_BODY.toLocaleString("en-US")} characters`);

export const ZTemplateVersionNumber = z.number().int().min(1, "Versions start at 1");

/** Values for a render: any JSON; nested objects and arrays are reached with paths (`items.0.name`). */
export const ZTemplateVariables = z.record(z.string(), z.unknown());

// ─── Inputs ──────────────────────────────────────────────────────────────────

export const ZCreateTemplateInput = z.object({
  name: ZTemplateName,
  body: ZTemplateBody,
  /** A project of yours; absent or null: available in all your projects. */
  projectId: z.uuid({ message: "projectId must be a UUID" }).nullable().optional(),
});
export type TCreateTemplateInput = z.input<typeof ZCreateTemplateInput>;

export const ZUpdateTemplateInput = z.object({
  id: ZTemplateId,
  name: ZTemplateName.optional(),
  /** A different body makes a new version; the same body makes none. */
  body: ZTemplateBody.optional(),
  /**
   * The version the edit started from. When given and the template has moved on since, 409 (someone saved
   * in between). Absent: last write wins.
   */
  baseVersion: ZTemplateVersionNumber.optional(),
});
export type TUpdateTemplateInput = z.input<typeof ZUpdateTemplateInput>;

export const ZListTemplatesInput = z
  .object({
    /** Only the templates available in this project: its own and the ones for all projects. */
    projectId: z.uuid({ message: "projectId must be a UUID" }).optional(),
    /** Paged when given (pass `nextCursor` back as `cursor`); without it, every template. */
    limit: ZQueryInt(1, 100).optional(),
    cursor: z.string().max(100).optional(),
  })
  .optional();

export const ZTemplateVersionInput = z.object({ id: ZTemplateId, number: ZTemplateVersionNumber });

export const ZRenderTemplateInput = z.object({
  id: ZTemplateId,
  variables: ZTemplateVariables.default({}),
  /** Default: the latest version. */
  version: ZTemplateVersionNumber.optional(),
});
export type TRenderTemplateInput = z.input<typeof ZRenderTemplateInput>;

// ─── Views (outputs) ─────────────────────────────────────────────────────────

export const ZTemplateProject = z.object({ id: z.string(), name: z.string() });

export const ZTemplateVersionView = z.object({
  id: z.string(),
  number: z.number().int(),
  body: z.string(),
  /** Canonical variable paths, in order of first use. */
  variables: z.array(z.string()),
  /** sha256 of the body, hex. */
  hash: z.string(),
  createdAt: z.date(),
});
export type TemplateVersionView = z.infer<typeof ZTemplateVersionView>;

export const ZTemplateVersionDetail = ZTemplateVersionView.extend({
  /** Model calls made with this version (AiCall rows that link to it). */
  usage: z.number().int(),
});
export type TemplateVersionDetail = z.infer<typeof ZTemplateVersionDetail>;

const templateFields = {
  id: z.string(),
  name: z.string(),
  /** null: available in all of your projects. */
  projectId: z.string().nullable(),
  project: ZTemplateProject.nullable(),
  latestVersion: z.number().int(),
  createdAt: z.date(),
  updatedAt: z.date(),
};

/** A template in a list: its latest version's variables, not its body. */
export const ZTemplateSummary = z.object({ ...templateFields, variables: z.array(z.string()) });
export type TemplateSummary = z.infer<typeof ZTemplateSummary>;

/** A template with its latest version (what create, update and restore answer). */
export const ZTemplateView = z.object({ ...templateFields, latest: ZTemplateVersionView });
export type TemplateView = z.infer<typeof ZTemplateView>;

/** A template with every version, newest first, and how many model calls each made. */
export const ZTemplateDetail = ZTemplateView.extend({ versions: z.array(ZTemplateVersionDetail) });
export type TemplateDetail = z.infer<typeof ZTemplateDetail>;

export const ZRenderedTemplate = z.object({
  text: z.string(),
  templateVersionId: z.string(),
  number: z.number().int(),
});
export type RenderedTemplate = z.infer<typeof ZRenderedTemplate>;

/** A preview: missing values stay as their tags in `text` and are listed in `missing`. */
export const ZTemplatePreview = ZRenderedTemplate.extend({ missing: z.array(z.string()) });
export type TemplatePreview = z.infer<typeof ZTemplatePreview>;
