/**
 * Prompt templates over tRPC and REST (`/api/v1/prompts...`). Procedures parse, delegate and return;
 * reads need `workflows:read`, writes `workflows:write` (templates are workflow building blocks).
 */
import { z } from "zod";
import { router, scopedProcedure, type TrpcContext } from "#app/trpc/init.server.ts";
import {
  createTemplate,
  deleteTemplate,
  getTemplate,
  getTemplateVersion,
  listTemplatesPage,
  previewTemplateVersion,
  restoreTemplateVersion,
  updateTemplate,
} from "./templates.server.ts";
import {
  ZCreateTemplateInput,
  ZListTemplatesInput,
  ZRenderTemplateInput,
  ZTemplateDetail,
  ZTemplateId,
  ZTemplatePreview,
  ZTemplateSummary,
  ZTemplateVersionDetail,
  ZTemplateVersionInput,
  ZTemplateView,
  ZUpdateTemplateInput,
} from "./templates.types.ts";

const read = scopedProcedure("workflows:read");
const write = scopedProcedure("workflows:write");
const ZId = z.object({ id: ZTemplateId });
const deps = (ctx: TrpcContext) => ({ db: ctx.db });
const tags = ["prompts"];

export const templatesRouter = router({
  list: read
    .meta({
      openapi: {
        method: "GET",
        path: "/prompts",
        tags,
        summary:
          "Your prompt templates, most recently changed first (?projectId= for those available in a project; ?limit=N&cursor=… pages them)",
      },
    })
    .input(ZListTemplatesInput)
    .output(z.object({ items: z.array(ZTemplateSummary), nextCursor: z.string().nullable() }))
    .query(({ ctx, input }) =>
      listTemplatesPage(
        { userId: ctx.auth.userId, projectId: input?.projectId, limit: input?.limit, cursor: input?.cursor },
        deps(ctx),
      ),
    ),

  create: write
    .meta({
      openapi: {
        method: "POST",
        path: "/prompts",
        tags,
        summary: "Create a prompt template with its version 1 (201; 409 if the name is taken in its scope)",
      },
    })
    .input(ZCreateTemplateInput)
    .output(ZTemplateView)
    .mutation(async ({ ctx, input }) => {
      const template = await createTemplate({ userId: ctx.auth.userId, ...input }, deps(ctx));
      ctx.response.setStatus(201);
      return template;
    }),

  get: read
    .meta({
      openapi: {
        method: "GET",
        path: "/prompts/{id}",
        tags,
        summary: "A prompt template with every version, newest first, and each version's call count",
      },
    })
    .input(ZId)
    .output(ZTemplateDetail)
    .query(({ ctx, input }) => getTemplate({ userId: ctx.auth.userId, templateId: input.id }, deps(ctx))),

  update: write
    .meta({
      openapi: {
        method: "PUT",
        path: "/prompts/{id}",
        tags,
        summary:
          "Rename and/or save a new body (a new version only when the body changes; 409 if baseVersion is stale)",
      },
    })
    .input(ZUpdateTemplateInput)
    .output(ZTemplateView)
    .mutation(({ ctx, input }) =>
      updateTemplate(
        {
          userId: ctx.auth.userId,
          templateId: input.id,
          name: input.name,
          body: input.body,
          baseVersion: input.baseVersion,
        },
        deps(ctx),
      ),
    ),

  delete: write
    .meta({
      openapi: {
        method: "DELETE",
        path: "/prompts/{id}",
        tags,
        summary: "Delete a prompt template and its versions (model calls keep their spend)",
      },
    })
    .input(ZId)
    .output(z.object({ ok: z.literal(true) }))
    .mutation(({ ctx, input }) =>
      deleteTemplate({ userId: ctx.auth.userId, templateId: input.id }, deps(ctx)),
    ),

  getVersion: read
    .meta({
      openapi: {
        method: "GET",
        path: "/prompts/{id}/versions/{number}",
        tags,
        summary: "One version of a prompt template, with its body and call count",
      },
    })
    .input(ZTemplateVersionInput)
    .output(ZTemplateVersionDetail)
    .query(({ ctx, input }) =>
      getTemplateVersion({ userId: ctx.auth.userId, templateId: input.id, number: input.number }, deps(ctx)),
    ),

  restoreVersion: write
    .meta({
      openapi: {
        method: "POST",
        path: "/prompts/{id}/versions/{number}/restore",
        tags,
        summary: "Make an old version's body the newest version",
      },
    })
    .input(ZTemplateVersionInput)
    .output(ZTemplateView)
    .mutation(({ ctx, input }) =>
      restoreTemplateVersion(
        { userId: ctx.auth.userId, templateId: input.id, number: input.number },
        deps(ctx),
      ),
    ),

  render: read
    .meta({
      openapi: {
        method: "POST",
        path: "/prompts/{id}/render",
        tags,
        summary:
          "Preview a version (default: latest) with variables; missing ones stay as {{tags}} and are listed. Never calls a model",
      },
    })
    .input(ZRenderTemplateInput)
    .output(ZTemplatePreview)
    .mutation(({ ctx, input }) =>
      previewTemplateVersion(
        { userId: ctx.auth.userId, templateId: input.id, version: input.version, variables: input.variables },
        deps(ctx),
      ),
    ),
});
