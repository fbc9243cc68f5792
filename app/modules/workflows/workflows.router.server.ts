/**
 * Workflows over tRPC and REST (`/api/v1/projects/{id}/workflows`, `/api/v1/workflows/...`). Procedures
 * parse, delegate and return; reads need `workflows:read`, writes `workflows:write`.
 */
import { z } from "zod";
import { router, scopedProcedure, type TrpcContext } from "#app/trpc/init.server.ts";
import {
  checkWorkflowDefinition,
  createWorkflow,
  createWorkflowFromTemplate,
  deleteWorkflow,
  diffVersions,
  getVersion,
  getWorkflow,
  listVersionsPage,
  listWorkflowsPage,
  listWorkflowTemplates,
  restoreVersion,
  updateWorkflow,
  type WorkflowsDeps,
} from "./workflows.server.ts";
import {
  ZCreateFromTemplateInput,
  ZCreateWorkflowInput,
  ZDiffWorkflowInput,
  ZGetWorkflowInput,
  ZListVersionsInput,
  ZListWorkflowsInput,
  ZUpdateWorkflowInput,
  ZValidateWorkflowInput,
  ZValidationResult,
  ZWorkflowDiff,
  ZWorkflowId,
  ZWorkflowSummary,
  ZWorkflowTemplateView,
  ZWorkflowVersionDetail,
  ZWorkflowVersionInput,
  ZWorkflowVersionSummary,
  ZWorkflowView,
} from "./workflows.types.ts";

const read = scopedProcedure("workflows:read");
const write = scopedProcedure("workflows:write");
const ZId = z.object({ id: ZWorkflowId });
const tags = ["workflows"];

/** The offline demo model's id: the fallback for a template when the user has no provider yet. */
export const DEMO_MODEL_ID = "compat:demo/demo";

/**
 * A model is known when the catalog lists it, or when it is on an OpenAI-compatible endpoint (`compat:`):
 * those serve whatever models they have, the catalog cannot list them all.
 */
export function isKnownModelIn(ctx: Pick<TrpcContext, "ai">) {
  return (id: string) => ctx.ai.catalog.get(id) !== undefined || id.startsWith("compat:");
}

const deps = (ctx: TrpcContext): WorkflowsDeps => ({ db: ctx.db, isKnownModel: isKnownModelIn(ctx) });

/**
 * The model a template gets when the caller names none: their first available model that is not the demo,
 * else the demo model when it is on, else none (the template keeps its own).
 */
export async function defaultTemplateModel(ctx: Pick<TrpcContext, "ai">, userId: string) {
  const models = await ctx.ai.service.listModels(userId);
  return (
    models.find((model) => model.available && !model.demo)?.id ??
    models.find((model) => model.available && model.id === DEMO_MODEL_ID)?.id
  );
}

export const workflowsRouter = router({
  list: read
    .meta({
      openapi: {
        method: "GET",
        path: "/projects/{id}/workflows",
        tags,
        summary:
          "A project's workflows, most recently changed first, with step types and last run (?includeArchived=true for all; ?limit=N&cursor=… pages them)",
      },
    })
    .input(ZListWorkflowsInput)
    .output(z.object({ items: z.array(ZWorkflowSummary), nextCursor: z.string().nullable() }))
    .query(({ ctx, input }) =>
      listWorkflowsPage(
        {
          userId: ctx.auth.userId,
          projectId: input.id,
          includeArchived: input.includeArchived ?? false,
          limit: input.limit,
          cursor: input.cursor,
        },
        deps(ctx),
      ),
    ),

  create: write
    .meta({
      openapi: {
        method: "POST",
        path: "/projects/{id}/workflows",
        tags,
        summary:
          "Create a workflow with its version 1 (201; 400 with error.details.issues for an invalid definition; 409 if the name is taken)",
      },
    })
    .input(ZCreateWorkflowInput)
    .output(ZWorkflowView)
    .mutation(async ({ ctx, input }) => {
      const { id, ...fields } = input;
      const workflow = await createWorkflow({ userId: ctx.auth.userId, projectId: id, ...fields }, deps(ctx));
      ctx.response.setStatus(201);
      return workflow;
    }),

  createFromTemplate: write
    .meta({
      openapi: {
        method: "POST",
        path: "/projects/{id}/workflows/from-template",
        tags,
        summary:
          "Create a workflow from a starter template (201); its model steps use `model`, else your first available model",
      },
    })
    .input(ZCreateFromTemplateInput)
    .output(ZWorkflowView)
    .mutation(async ({ ctx, input }) => {
      const userId = ctx.auth.userId;
      const model = input.model ?? (await defaultTemplateModel(ctx, userId));
      const workflow = await createWorkflowFromTemplate(
        { userId, projectId: input.id, templateId: input.templateId, name: input.name, model },
        deps(ctx),
      );
      ctx.response.setStatus(201);
      return workflow;
    }),

  get: read
    .meta({
      openapi: {
        method: "GET",
        path: "/workflows/{id}",
        tags,
        summary: "A workflow with its latest version's definition (?version=N for another version)",
      },
    })
    .input(ZGetWorkflowInput)
    .output(ZWorkflowView)
    .query(({ ctx, input }) =>
      getWorkflow({ userId: ctx.auth.userId, workflowId: input.id, version: input.version }, deps(ctx)),
    ),

  update: write
    .meta({
      openapi: {
        method: "PUT",
        path: "/workflows/{id}",
        tags,
        summary:
          "Rename, describe, archive and/or save a definition (a new version only when it changes; 409 if baseVersion is stale)",
      },
    })
    .input(ZUpdateWorkflowInput)
    .output(ZWorkflowView)
    .mutation(({ ctx, input }) => {
      const { id, ...fields } = input;
      return updateWorkflow({ userId: ctx.auth.userId, workflowId: id, ...fields }, deps(ctx));
    }),

  delete: write
    .meta({
      openapi: {
        method: "DELETE",
        path: "/workflows/{id}",
        tags,
        summary: "Delete a workflow, its versions and finished runs (409 while runs are queued or running)",
      },
    })
    .input(ZId)
    .output(z.object({ ok: z.literal(true) }))
    .mutation(({ ctx, input }) =>
      deleteWorkflow({ userId: ctx.auth.userId, workflowId: input.id }, deps(ctx)),
    ),

  listVersions: read
    .meta({
      openapi: {
        method: "GET",
        path: "/workflows/{id}/versions",
        tags,
        summary:
          "A workflow's versions, newest first, with step and run counts (?limit=N&cursor=… pages them: pass nextCursor back)",
      },
    })
    .input(ZListVersionsInput)
    .output(z.object({ items: z.array(ZWorkflowVersionSummary), nextCursor: z.string().nullable() }))
    .query(({ ctx, input }) =>
      listVersionsPage(
        { userId: ctx.auth.userId, workflowId: input.id, limit: input.limit, cursor: input.cursor },
        deps(ctx),
      ),
    ),

  getVersion: read
    .meta({
      openapi: {
        method: "GET",
        path: "/workflows/{id}/versions/{number}",
        tags,
        summary: "One version of a workflow with its definition",
      },
    })
    .input(ZWorkflowVersionInput)
    .output(ZWorkflowVersionDetail)
    .query(({ ctx, input }) =>
      getVersion({ userId: ctx.auth.userId, workflowId: input.id, number: input.number }, deps(ctx)),
    ),

  restoreVersion: write
    .meta({
      openapi: {
        method: "POST",
        path: "/workflows/{id}/versions/{number}/restore",
        tags,
        summary: "Make an old version's definition the newest version (nothing changes if it already is)",
      },
    })
    .input(ZWorkflowVersionInput)
    .output(ZWorkflowView)
    .mutation(({ ctx, input }) =>
      restoreVersion({ userId: ctx.auth.userId, workflowId: input.id, number: input.number }, deps(ctx)),
    ),

  diff: read
    .meta({
      openapi: {
        method: "GET",
        path: "/workflows/{id}/diff",
        tags,
        summary: "Unified diff and step summary between two versions (?from=1&to=2)",
      },
    })
    .input(ZDiffWorkflowInput)
    .output(ZWorkflowDiff)
    .query(({ ctx, input }) =>
      diffVersions(
        { userId: ctx.auth.userId, workflowId: input.id, from: input.from, to: input.to },
        deps(ctx),
      ),
    ),

  templates: read
    .meta({
      openapi: {
        method: "GET",
        path: "/workflow-templates",
        tags,
        summary: "Starter templates for new workflows",
      },
    })
    .input(z.object({}).optional())
    .output(z.object({ items: z.array(ZWorkflowTemplateView) }))
    .query(() => ({ items: listWorkflowTemplates() })),

  validate: read
    .meta({
      openapi: {
        method: "POST",
        path: "/workflows/validate",
        tags,
        summary: "Check a definition without saving it: every error and warning with its path",
      },
    })
    .input(ZValidateWorkflowInput)
    .output(ZValidationResult)
    .mutation(({ ctx, input }) => checkWorkflowDefinition(input.definition, deps(ctx))),
});
