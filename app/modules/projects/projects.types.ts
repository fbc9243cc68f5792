/**
 * Projects and files: zod schemas shared by forms, tRPC and REST. No server code here: this file is
 * bundled into the browser.
 */
import { z } from "zod";
import { isAppError } from "#app/lib/app-error.ts";
import { normalizeProjectPath } from "./paths.ts";

/** Largest text file a save accepts, in UTF-8 bytes (2 MiB). Imports take theirs from ImportLimits. */
export const MAX_FILE_BYTES = 2 * 1024 * 1024;

export const ZProjectId = z.uuid({ message: "id must be a UUID" });

export const ZProjectName = z
  .string()
  .trim()
  .min(1, "Enter a name")
  .max(100, "Name must be at most 100 characters");

export const ZProjectDescription = z.string().trim().max(2000, "Description must be at most 2000 characters");

/**
 * A path inside a project, normalised (see paths.ts): `src\\a.ts` → `src/a.ts`; `../x`, `/etc/passwd`,
 * `C:\\x`, NUL... are refused with "Unsafe path: …".
 */
export const ZFilePath = z
  .string()
  .max(4096, "Path is too long")
  .transform((value, ctx) => {
    try {
      return normalizeProjectPath(value);
    } catch (error) {
      ctx.addIssue({ code: "custom", message: isAppError(error) ? error.message : "Invalid path" });
      return z.NEVER;
    }
  });

export const ZFileVersionNumber = z.number().int().min(1);

// ─── Inputs ──────────────────────────────────────────────────────────────────

export const ZCreateProjectInput = z.object({
  name: ZProjectName,
  description: ZProjectDescription.optional(),
});
export type TCreateProjectInput = z.input<typeof ZCreateProjectInput>;

export const ZUpdateProjectInput = z.object({
  id: ZProjectId,
  name: ZProjectName.optional(),
  /** null clears it. */
  description: ZProjectDescription.nullable().optional(),
  /** true archives (hidden from the default list), false restores. */
  archived: z.boolean().optional(),
});
export type TUpdateProjectInput = z.input<typeof ZUpdateProjectInput>;

/**
 * A boolean query flag: REST sends strings, the tRPC client booleans. (trpc-to-openapi would coerce a
 * plain z.boolean() with Boolean("false") === true.)
 */
export const ZQueryFlag = z
  .union([z.boolean(), z.enum(["true", "false", "1", "0"])])
  .transform((value) => value === true || value === "true" || value === "1");

/** REST sends query values as strings; the tRPC client sends numbers. */
export const ZQueryInt = (min: number, max: number) =>
  z
    .union([z.number(), z.string().regex(/^\d+$/, "must be a whole number")])
    .transform((value) => Number(value))
    .pipe(z.number().int().min(min).max(max));

/**
 * Archived projects are left out unless asked for. Paged when `limit` is given (pass `nextCursor` back as
 * `cursor`); without it, every project in one answer (nextCursor null), as before.
 */
export const ZListProjectsInput = z
  .object({
    includeArchived: ZQueryFlag.optional(),
    limit: ZQueryInt(1, 100).optional(),
    cursor: z.string().max(100).optional(),
  })
  .optional();

export const ZProjectFileInput = z.object({ id: ZProjectId, path: ZFilePath });

export const ZSaveFileInput = z.object({
  id: ZProjectId,
  path: ZFilePath,
  /** UTF-8 text; its byte length is checked against MAX_FILE_BYTES by the service. */
  content: z.string().max(MAX_FILE_BYTES, "File is larger than 2 MB"),
  /**
   * The version the edit started from. Absent or null creates the file (409 if it exists); a number
   * updates it (409 if the file has moved on since).
   */
  baseVersion: ZFileVersionNumber.nullable().optional(),
});
export type TSaveFileInput = z.input<typeof ZSaveFileInput>;

export const ZMoveFileInput = z.object({
  id: ZProjectId,
  /** A file, or a folder: every file under it moves. */
  from: ZFilePath,
  to: ZFilePath,
});
export type TMoveFileInput = z.input<typeof ZMoveFileInput>;

export const ZListFileVersionsInput = z.object({
  id: ZProjectId,
  path: ZFilePath,
  /** Page size, newest first. Default 100. */
  limit: z.number().int().min(1).max(1000).optional(),
  /** Only versions older than this one (the previous page's last version). */
  before: ZFileVersionNumber.optional(),
});

export const ZReadFileVersionInput = z.object({
  id: ZProjectId,
  path: ZFilePath,
  version: ZFileVersionNumber,
});

export const ZDiffFileVersionsInput = z.object({
  id: ZProjectId,
  path: ZFilePath,
  from: ZFileVersionNumber,
  to: ZFileVersionNumber,
});

export const ZRestoreFileVersionInput = z.object({
  id: ZProjectId,
  path: ZFilePath,
  /** The version whose content becomes the new current version. */
  version: ZFileVersionNumber,
  /** The current version the restore is based on (optimistic concurrency, like a save). */
  baseVersion: ZFileVersionNumber,
});

// ─── Views (outputs) ─────────────────────────────────────────────────────────

export const ZProjectView = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  archivedAt: z.date().nullable(),
  createdAt: z.date(),
  updatedAt: z.date(),
  lastActivityAt: z.date(),
});
export type ProjectView = z.infer<typeof ZProjectView>;

export const ZRunStatus = z.enum(["queued", "running", "succeeded", "failed", "cancelled", "dead"]);

export const ZProjectSummary = ZProjectView.extend({
  fileCount: z.number().int(),
  lastRun: z.object({ id: z.string(), status: ZRunStatus, createdAt: z.date() }).nullable(),
  /** Sum of the project's AiCall costs since the 1st of the current month (UTC), in micro-dollars. */
  monthToDateCostMicros: z.number().int(),
});
export type ProjectSummary = z.infer<typeof ZProjectSummary>;

export const ZFileEntry = z.object({
  path: z.string(),
  version: z.number().int(),
  size: z.number().int(),
  language: z.string().nullable(),
  isBinary: z.boolean(),
  updatedAt: z.date(),
});
export type FileEntry = z.infer<typeof ZFileEntry>;

export const ZFileContent = z.object({
  path: z.string(),
  /** Empty for binary files (kept as metadata only). */
  content: z.string(),
  version: z.number().int(),
  language: z.string().nullable(),
  isBinary: z.boolean(),
  size: z.number().int(),
  sha256: z.string(),
  updatedAt: z.date(),
});
export type FileContent = z.infer<typeof ZFileContent>;

export const ZSavedFile = z.object({ path: z.string(), version: z.number().int() });
export type SavedFile = z.infer<typeof ZSavedFile>;

export const ZFileVersionSource = z.enum(["create", "edit", "import", "restore", "agent"]);

export const ZFileVersionView = z.object({
  version: z.number().int(),
  /** The file's path when this version was written (files can move). */
  path: z.string(),
  size: z.number().int(),
  sha256: z.string(),
  createdAt: z.date(),
  source: ZFileVersionSource,
});
export type FileVersionView = z.infer<typeof ZFileVersionView>;

export const ZFileVersionContent = ZFileVersionView.extend({
  content: z.string(),
  /** A binary file's version: metadata only, `content` is empty. */
  isBinary: z.boolean(),
});
export type FileVersionContent = z.infer<typeof ZFileVersionContent>;

export const ZMoveResult = z.object({ moved: z.array(z.object({ from: z.string(), to: z.string() })) });
export type MoveResult = z.infer<typeof ZMoveResult>;

export const ZImportSkip = z.object({ path: z.string(), reason: z.string() });

export const ZImportResult = z.object({
  /** Files that did not exist and were created. */
  created: z.number().int(),
  /** Existing files whose content changed (a new version each). */
  updated: z.number().int(),
  /** Existing files with the same content: left as they were. */
  unchanged: z.number().int(),
  /** Entries not imported, with why (ignored folders are reported once, as `node_modules/`). */
  skipped: z.array(ZImportSkip),
});
export type ImportResult = z.infer<typeof ZImportResult>;
