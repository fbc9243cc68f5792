/**
 * A file's history: its versions, the content of one, a unified diff between two, and restore.
 * History belongs to the file (its CodeSnippet), so it follows the file through moves.
 */
import { createTwoFilesPatch } from "diff";
import type { DbOrTx } from "#app/db/client.server.ts";
import { AppError } from "#app/lib/app-error.ts";
import { assertProjectOwned, fileNotFound, type ProjectsDeps, parseInput } from "./deps.server.ts";
import { writeFileVersion } from "./files.server.ts";
import {
  type FileVersionContent,
  type FileVersionView,
  type SavedFile,
  ZFilePath,
  ZFileVersionNumber,
} from "./projects.types.ts";

/** How long a diff may compute before it gives up (jsdiff is O(N·D) on very different texts). */
export const DIFF_TIMEOUT_MS = 2_000;

const VERSION_SELECT = {
  version: true,
  path: true,
  size: true,
  sha256: true,
  createdAt: true,
  source: true,
} as const;

async function snippetIdOf(
  db: DbOrTx,
  input: { userId: string; projectId: string },
  path: string,
): Promise<string> {
  await assertProjectOwned(db, input.userId, input.projectId);
  const snippet = await db.codeSnippet.findFirst({
    where: { projectId: input.projectId, userId: input.userId, path },
    select: { id: true },
  });
  if (!snippet) throw fileNotFound(path);
  return snippet.id;
}

/**
 * Versions of the file at `path`, newest first: `limit` per page (default 100, at most 1000), older than
 * `before` when given.
 */
export async function listFileVersions(
  input: { userId: string; projectId: string; path: string; limit?: number; before?: number },
  deps: ProjectsDeps,
): Promise<FileVersionView[]> {
  const path = parseInput(ZFilePath, input.path);
  const limit = Math.min(Math.max(input.limit ?? 100, 1), 1000);
  const snippetId = await snippetIdOf(deps.db, input, path);
  return deps.db.fileVersion.findMany({
    where: {
      snippetId,
      userId: input.userId,
      ...(input.before !== undefined ? { version: { lt: input.before } } : {}),
    },
    select: VERSION_SELECT,
    orderBy: { version: "desc" },
    take: limit,
  });
}

/**
 * A version's content. A binary file's versions hold metadata only: their content is empty although
 * their size is not, which is how `isBinary` is told here.
 */
export async function readFileVersion(
  input: { userId: string; projectId: string; path: string; version: number },
  deps: ProjectsDeps,
): Promise<FileVersionContent> {
  const path = parseInput(ZFilePath, input.path);
  const version = parseInput(ZFileVersionNumber, input.version);
  const snippetId = await snippetIdOf(deps.db, input, path);
  const row = await deps.db.fileVersion.findFirst({
    where: { snippetId, userId: input.userId, version },
    select: { ...VERSION_SELECT, content: true },
  });
  if (!row) throw new AppError("NOT_FOUND", `${path} has no version ${version}`);
  return { ...row, isBinary: isBinaryVersion(row) };
}

/** True for a version stored as metadata only (binary content is never kept). */
export function isBinaryVersion(row: { content: string; size: number }): boolean {
  return row.content === "" && row.size > 0;
}

/**
 * A unified diff (jsdiff's createTwoFilesPatch, 3 lines of context) from version `from` to version `to`
 * of the file at `path`. UNPROCESSABLE_CONTENT for binary versions or texts too different to diff within
 * {@link DIFF_TIMEOUT_MS}.
 */
export async function diffFileVersions(
  input: { userId: string; projectId: string; path: string; from: number; to: number },
  deps: ProjectsDeps,
): Promise<{ diff: string }> {
  const [a, b] = await Promise.all([
    readFileVersion({ ...input, version: input.from }, deps),
    readFileVersion({ ...input, version: input.to }, deps),
  ]);
  if (a.isBinary || b.isBinary) {
    throw new AppError(
      "UNPROCESSABLE_CONTENT",
      "Binary files are kept as metadata only; they cannot be diffed",
    );
  }
  const diff = createTwoFilesPatch(
    `a/${a.path}`,
    `b/${b.path}`,
    a.content,
    b.content,
    `version ${a.version}`,
    `version ${b.version}`,
    { context: 3, timeout: DIFF_TIMEOUT_MS },
  );
  if (diff === undefined) {
    throw new AppError("UNPROCESSABLE_CONTENT", "These versions differ too much to show a diff");
  }
  return { diff };
}

/**
 * Make the content of `version` the file's newest version (source `restore`), based on `baseVersion`
 * like a save: CONFLICT when the file has moved on. Binary versions cannot be restored (their bytes
 * were never kept).
 */
export async function restoreFileVersion(
  input: { userId: string; projectId: string; path: string; version: number; baseVersion: number },
  deps: ProjectsDeps,
): Promise<SavedFile> {
  const baseVersion = parseInput(ZFileVersionNumber, input.baseVersion);
  const old = await readFileVersion(input, deps);
  if (old.isBinary) {
    throw new AppError(
      "UNPROCESSABLE_CONTENT",
      "Binary files are kept as metadata only; they cannot be restored",
    );
  }
  return writeFileVersion(
    {
      userId: input.userId,
      projectId: input.projectId,
      path: parseInput(ZFilePath, input.path),
      content: old.content,
      baseVersion,
      source: "restore",
    },
    deps,
  );
}
