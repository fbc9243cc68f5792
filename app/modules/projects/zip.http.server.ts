/**
 * The zip endpoints of the REST API, as plain Express handlers (trpc-to-openapi only speaks JSON):
 *
 *   POST /api/v1/projects/:id/import        body: the zip (application/zip or application/octet-stream)
 *                                           → 200 {created, updated, unchanged, skipped}     projects:write
 *   GET  /api/v1/projects/:id/export[?at=]  → the zip, as an attachment                       projects:read
 *   POST /api/v1/projects/:id/import-local  {dir} → like import, from a server directory; only when the
 *                                           operator allows it (403 otherwise)                projects:write
 *
 * The caller is the Principal the app's auth middleware left in `res.locals.auth`. The body is read only
 * after the caller is known and allowed, and never beyond `maxArchiveBytes`. Errors use the API's one
 * JSON shape.
 */
import express, { type ErrorRequestHandler, type Response } from "express";
import { z } from "zod";
import type { Db } from "#app/db/client.server.ts";
import { isAppError } from "#app/lib/app-error.ts";
import type { Logger } from "#app/lib/logger.server.ts";
import type { Scope } from "#app/modules/auth/auth.types.ts";
import type { Principal } from "#app/modules/auth/authenticate.server.ts";
import type { AuthRuntime } from "#app/modules/auth/runtime.server.ts";
import { jsonError } from "#app/server/api-errors.server.ts";
import { requireApiScope } from "#app/server/guards.server.ts";
import { exportZip } from "./export.server.ts";
import {
  DEFAULT_IMPORT_LIMITS,
  type ImportLimits,
  importLocalDirectory,
  importZip,
} from "./import.server.ts";
import { getProject } from "./projects.server.ts";

export type ProjectZipRoutesOptions = {
  db: Db;
  logger: Logger;
  /** Overrides of DEFAULT_IMPORT_LIMITS (the body limit is `maxArchiveBytes`). */
  limits?: Partial<ImportLimits>;
  /** AGENTRY_LOCAL_IMPORT_ROOT: the one server folder import-local may read below. Default: none (disabled). */
  localImportRoot?: string | null;
  /** When given, API-key and per-user request limits apply here as on every other API route. */
  runtime?: Pick<AuthRuntime, "rateLimits">;
};

const ZIP_TYPES = ["application/zip", "application/x-zip-compressed", "application/octet-stream"];

const ZExportQuery = z.object({
  at: z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value === "") return undefined;
      const date = new Date(value);
      if (Number.isNaN(date.getTime())) {
        ctx.addIssue({ code: "custom", message: "`at` must be an ISO date-time" });
        return z.NEVER;
      }
      return date;
    }),
});

const ZImportLocalBody = z.object({ dir: z.string().min(1).max(4096) });

/** A project name as a safe ASCII file name; the exact name goes in `filename*` (RFC 6266/5987). */
export function exportFileName(projectName: string, at?: Date): { ascii: string; utf8: string } {
  const stamp = at
    ? `-at-${at
        .toISOString()
        .replace(/[-:]/g, "")
        .replace(/\.\d{3}/, "")}`
    : "";
  const ascii =
    projectName
      .normalize("NFKD")
      .replace(/[\u0300-\u036f]/g, "")
      .replace(/[^A-Za-z0-9._-]+/g, "-")
      .replace(/^[-.]+|[-.]+$/g, "")
      .slice(0, 80) || "project";
  return { ascii: `${ascii}${stamp}.zip`, utf8: `${projectName.trim() || "project"}${stamp}.zip` };
}

/** The Express router for the zip endpoints; mount it before the OpenAPI middleware. */
export function projectZipRoutes({
  db,
  logger,
  limits: overrides,
  localImportRoot = null,
  runtime,
}: ProjectZipRoutesOptions): express.Router {
  const limits: ImportLimits = { ...DEFAULT_IMPORT_LIMITS, ...overrides };
  const routes = express.Router();

  const requireScope = (scope: Scope) =>
    requireApiScope({ scope, runtime, idParam: { name: "id", notFound: "Project not found" } });
  const principal = (res: Response) => res.locals.auth as Principal;

  routes.post(
    "/api/v1/projects/:id/import",
    requireScope("projects:write"),
    express.raw({ type: ZIP_TYPES, limit: limits.maxArchiveBytes }),
    async (req, res, next) => {
      try {
        if (!Buffer.isBuffer(req.body)) {
          jsonError(
            res,
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            "Send the archive as the request body with Content-Type application/zip",
          );
          return;
        }
        const started = performance.now();
        const result = await importZip(
          { userId: principal(res).userId, projectId: req.params.id!, data: req.body, limits },
          { db },
        );
        logger.info(
          {
            requestId: res.locals.requestId,
            projectId: req.params.id,
            bytes: req.body.byteLength,
            created: result.created,
            updated: result.updated,
            skipped: result.skipped.length,
            ms: Math.round(performance.now() - started),
          },
          "project import",
        );
        res.json(result);
      } catch (error) {
        next(error);
      }
    },
  );

  routes.post(
    "/api/v1/projects/:id/import-local",
    requireScope("projects:write"),
    express.json({ limit: "16kb" }),
    async (req, res, next) => {
      try {
        const body = ZImportLocalBody.safeParse(req.body);
        if (!body.success) {
          jsonError(res, 400, "BAD_REQUEST", 'Send {"dir": "/absolute/path"}');
          return;
        }
        const result = await importLocalDirectory(
          {
            userId: principal(res).userId,
            projectId: req.params.id!,
            dir: body.data.dir,
            allowedRoot: localImportRoot,
            limits,
          },
          { db },
        );
        res.json(result);
      } catch (error) {
        next(error);
      }
    },
  );

  routes.get("/api/v1/projects/:id/export", requireScope("projects:read"), async (req, res, next) => {
    try {
      const query = ZExportQuery.safeParse(req.query);
      if (!query.success) {
        jsonError(res, 400, "BAD_REQUEST", query.error.issues[0]?.message ?? "Invalid query");
        return;
      }
      const { userId } = principal(res);
      const project = await getProject({ userId, projectId: req.params.id! }, { db });
      const zip = await exportZip({ userId, projectId: project.id, at: query.data.at }, { db });
      const name = exportFileName(project.name, query.data.at);
      res.setHeader("Content-Type", "application/zip");
      res.setHeader(
        "Content-Disposition",
        `attachment; filename="${name.ascii}"; filename*=UTF-8''${encodeURIComponent(name.utf8)}`,
      );
      res.setHeader("Cache-Control", "no-store");
      res.setHeader("Content-Length", String(zip.byteLength));
      res.end(Buffer.from(zip.buffer, zip.byteOffset, zip.byteLength));
    } catch (error) {
      next(error);
    }
  });

  const onError: ErrorRequestHandler = (error, req, res, next) => {
    if (res.headersSent) return next(error);
    const requestId = res.locals.requestId;
    if (isAppError(error)) {
      const log = error.status >= 500 ? logger.error.bind(logger) : logger.warn.bind(logger);
      log({ requestId, path: req.path, code: error.code }, error.message);
      if (error.code === "TOO_MANY_REQUESTS") {
        res.setHeader(
          "Retry-After",
          String(Math.max(1, Math.ceil(Number(error.details?.retryAfterSeconds ?? 60)))),
        );
      }
      jsonError(res, error.status, error.code, error.message);
      return;
    }
    // body-parser's own errors: too large, aborted, malformed JSON.
    const type = (error as { type?: string })?.type;
    if (type === "entity.too.large") {
      logger.warn({ requestId, path: req.path }, "archive over the size limit");
      jsonError(
        res,
        413,
        "PAYLOAD_TOO_LARGE",
        `The archive is larger than the limit of ${Math.round(limits.maxArchiveBytes / 1024 / 1024)} MB`,
      );
      return;
    }
    const status = (error as { status?: number })?.status;
    if (typeof status === "number" && status >= 400 && status < 500) {
      logger.warn({ requestId, path: req.path, status }, String((error as Error).message));
      jsonError(res, status, "BAD_REQUEST", String((error as Error).message ?? "Bad request"));
      return;
    }
    next(error);
  };
  routes.use(onError);
  return routes;
}
