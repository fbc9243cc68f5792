/**
 * Projects and files over tRPC and REST (`/api/v1/...`, through trpc-to-openapi). Procedures parse,
 * delegate and return; reads need `projects:read`, writes `projects:write`. Zip import/export are plain
 * Express routes (zip.http.server.ts).
 */
import { z } from "zod";
import { router, scopedProcedure, type TrpcContext } from "#app/trpc/init.server.ts";
import { deleteFile, listFiles, moveFile, readFile, saveFile } from "./files.server.ts";
import {
  createProject,
  deleteProject,
  getProject,
  listProjectsPage,
  updateProject,
} from "./projects.server.ts";
import {
  ZCreateProjectInput,
  ZDiffFileVersionsInput,
  ZFileContent,
  ZFileEntry,
  ZFileVersionContent,
  ZFileVersionView,
  ZListFileVersionsInput,
  ZListProjectsInput,
  ZMoveFileInput,
  ZMoveResult,
  ZProjectFileInput,
  ZProjectId,
  ZProjectSummary,
  ZProjectView,
  ZReadFileVersionInput,
  ZRestoreFileVersionInput,
  ZSavedFile,
  ZSaveFileInput,
  ZUpdateProjectInput,
} from "./projects.types.ts";
import {
  diffFileVersions,
  listFileVersions,
  readFileVersion,
  restoreFileVersion,
} from "./versions.server.ts";

const read = scopedProcedure("projects:read");
const write = scopedProcedure("projects:write");
const ZId = z.object({ id: ZProjectId });
const deps = (ctx: TrpcContext) => ({ db: ctx.db });
const tags = ["projects"];
const fileTags = ["files"];

export const projectsRouter = router({
  create: write
    .meta({ openapi: { method: "POST", path: "/projects", tags, summary: "Create a project (201)" } })
    .input(ZCreateProjectInput)
    .output(ZProjectView)
    .mutation(async ({ ctx, input }) => {
      const project = await createProject({ userId: ctx.auth.userId, ...input }, deps(ctx));
      ctx.response.setStatus(201);
      return project;
    }),

  list: read
    .meta({
      openapi: {
        method: "GET",
        path: "/projects",
        tags,
        summary:
          "Your projects with last run and month-to-date cost, most recently active first (?limit, ?cursor=nextCursor)",
      },
    })
    .input(ZListProjectsInput)
    .output(z.object({ items: z.array(ZProjectSummary), nextCursor: z.string().nullable() }))
    .query(({ ctx, input }) =>
      listProjectsPage(
        {
          userId: ctx.auth.userId,
          includeArchived: input?.includeArchived ?? false,
          limit: input?.limit,
          cursor: input?.cursor,
        },
        deps(ctx),
      ),
    ),

  get: read
    .meta({ openapi: { method: "GET", path: "/projects/{id}", tags, summary: "A project with its summary" } })
    .input(ZId)
    .output(ZProjectSummary)
    .query(({ ctx, input }) => getProject({ userId: ctx.auth.userId, projectId: input.id }, deps(ctx))),

  update: write
    .meta({
      openapi: {
        method: "PATCH",
        path: "/projects/{id}",
        tags,
        summary: "Rename, describe, archive or unarchive a project",
      },
    })
    .input(ZUpdateProjectInput)
    .output(ZProjectView)
    .mutation(({ ctx, input }) => updateProject({ userId: ctx.auth.userId, ...input }, deps(ctx))),

  delete: write
    .meta({
      openapi: {
        method: "DELETE",
        path: "/projects/{id}",
        tags,
        summary: "Delete a project with its files and history (cannot be undone)",
      },
    })
    .input(ZId)
    .output(z.object({ ok: z.literal(true) }))
    .mutation(({ ctx, input }) => deleteProject({ userId: ctx.auth.userId, projectId: input.id }, deps(ctx))),

  listFiles: read
    .meta({
      openapi: {
        method: "GET",
        path: "/projects/{id}/files",
        tags: fileTags,
        summary: "Files, sorted by path",
      },
    })
    .input(ZId)
    .output(z.object({ files: z.array(ZFileEntry) }))
    .query(async ({ ctx, input }) => ({
      files: await listFiles({ userId: ctx.auth.userId, projectId: input.id }, deps(ctx)),
    })),

  readFile: read
    .meta({
      openapi: {
        method: "GET",
        path: "/projects/{id}/files/content",
        tags: fileTags,
        summary: "A file's content and version (empty content for binary files)",
      },
    })
    .input(ZProjectFileInput)
    .output(ZFileContent)
    .query(({ ctx, input }) =>
      readFile({ userId: ctx.auth.userId, projectId: input.id, path: input.path }, deps(ctx)),
    ),

  saveFile: write
    .meta({
      openapi: {
        method: "PUT",
        path: "/projects/{id}/files",
        tags: fileTags,
        summary:
          "Create (no baseVersion) or update (baseVersion = the version you edited) a text file; 409 if it changed meanwhile",
      },
    })
    .input(ZSaveFileInput)
    .output(ZSavedFile)
    .mutation(({ ctx, input }) =>
      saveFile(
        {
          userId: ctx.auth.userId,
          projectId: input.id,
          path: input.path,
          content: input.content,
          baseVersion: input.baseVersion,
        },
        deps(ctx),
      ),
    ),

  deleteFile: write
    .meta({
      openapi: {
        method: "DELETE",
        path: "/projects/{id}/files",
        tags: fileTags,
        summary: "Delete a file, or a folder with everything under it",
      },
    })
    .input(ZProjectFileInput)
    .output(z.object({ deleted: z.number().int() }))
    .mutation(({ ctx, input }) =>
      deleteFile({ userId: ctx.auth.userId, projectId: input.id, path: input.path }, deps(ctx)),
    ),

  moveFile: write
    .meta({
      openapi: {
        method: "POST",
        path: "/projects/{id}/files/move",
        tags: fileTags,
        summary: "Move or rename a file or a folder; 409 when a target exists",
      },
    })
    .input(ZMoveFileInput)
    .output(ZMoveResult)
    .mutation(({ ctx, input }) =>
      moveFile({ userId: ctx.auth.userId, projectId: input.id, from: input.from, to: input.to }, deps(ctx)),
    ),

  listFileVersions: read
    .meta({
      openapi: {
        method: "GET",
        path: "/projects/{id}/files/versions",
        tags: fileTags,
        summary: "A file's versions, newest first",
      },
    })
    .input(ZListFileVersionsInput)
    .output(z.object({ versions: z.array(ZFileVersionView) }))
    .query(async ({ ctx, input }) => ({
      versions: await listFileVersions(
        {
          userId: ctx.auth.userId,
          projectId: input.id,
          path: input.path,
          limit: input.limit,
          before: input.before,
        },
        deps(ctx),
      ),
    })),

  readFileVersion: read
    .meta({
      openapi: {
        method: "GET",
        path: "/projects/{id}/files/versions/{version}",
        tags: fileTags,
        summary: "One version of a file, with its content",
      },
    })
    .input(ZReadFileVersionInput)
    .output(ZFileVersionContent)
    .query(({ ctx, input }) =>
      readFileVersion(
        { userId: ctx.auth.userId, projectId: input.id, path: input.path, version: input.version },
        deps(ctx),
      ),
    ),

  diffFileVersions: read
    .meta({
      openapi: {
        method: "GET",
        path: "/projects/{id}/files/diff",
        tags: fileTags,
        summary: "Unified diff between two versions of a file",
      },
    })
    .input(ZDiffFileVersionsInput)
    .output(z.object({ diff: z.string() }))
    .query(({ ctx, input }) =>
      diffFileVersions(
        { userId: ctx.auth.userId, projectId: input.id, path: input.path, from: input.from, to: input.to },
        deps(ctx),
      ),
    ),

  restoreFileVersion: write
    .meta({
      openapi: {
        method: "POST",
        path: "/projects/{id}/files/restore",
        tags: fileTags,
        summary: "Make an old version the newest one (409 if the file changed since baseVersion)",
      },
    })
    .input(ZRestoreFileVersionInput)
    .output(ZSavedFile)
    .mutation(({ ctx, input }) =>
      restoreFileVersion(
        {
          userId: ctx.auth.userId,
          projectId: input.id,
          path: input.path,
          version: input.version,
          baseVersion: input.baseVersion,
        },
        deps(ctx),
      ),
    ),
});
