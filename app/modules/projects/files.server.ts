/**
 * Files of a project (CodeSnippet rows): list, read, save with optimistic concurrency, delete, move.
 *
 * Every content change writes a FileVersion in the same transaction as the CodeSnippet, so history and
 * current state never disagree. A save names the version it was based on; it succeeds only through a
 * conditional UPDATE (`WHERE version = base`), so of two concurrent saves from the same base exactly one
 * wins and the other gets CONFLICT: never a silent overwrite.
 */

import { z } from "zod";
import type { DbOrTx, DbTx, FileVersionSource, Prisma } from "#app/db/client.server.ts";
import { AppError } from "#app/lib/app-error.ts";
import {
  assertProjectOwned,
  clock,
  fileNotFound,
  isUniqueViolation,
  type ProjectsDeps,
  parseInput,
  sha256Hex,
  touchProject,
} from "./deps.server.ts";
import { ancestorFolders, isInFolder, languageForPath } from "./paths.ts";
import {
  type FileContent,
  type FileEntry,
  MAX_FILE_BYTES,
  type MoveResult,
  type SavedFile,
  ZFilePath,
  ZFileVersionNumber,
} from "./projects.types.ts";

const ENTRY_SELECT = {
  path: true,
  version: true,
  size: true,
  language: true,
  isBinary: true,
  updatedAt: true,
} as const satisfies Prisma.CodeSnippetSelect;

/** Every file of the project, sorted by path. NOT_FOUND for another user's project. */
export async function listFiles(
  input: { userId: string; projectId: string },
  deps: ProjectsDeps,
): Promise<FileEntry[]> {
  await assertProjectOwned(deps.db, input.userId, input.projectId);
  const rows = await deps.db.codeSnippet.findMany({
    where: { projectId: input.projectId, userId: input.userId },
    select: ENTRY_SELECT,
  });
  // Sorted here, by code point, rather than by the database collation: the tree then orders the same
  // whatever the server's locale, and the same as the browser's own sorting.
  return rows.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** One file with its content (empty for a binary file). NOT_FOUND when absent. */
export async function readFile(
  input: { userId: string; projectId: string; path: string },
  deps: ProjectsDeps,
): Promise<FileContent> {
  const path = parseInput(ZFilePath, input.path);
  await assertProjectOwned(deps.db, input.userId, input.projectId);
  const row = await deps.db.codeSnippet.findFirst({
    where: { projectId: input.projectId, userId: input.userId, path },
    select: {
      path: true,
      content: true,
      version: true,
      language: true,
      isBinary: true,
      size: true,
      sha256: true,
      updatedAt: true,
    },
  });
  if (!row) throw fileNotFound(path);
  return row;
}

/** The byte length of a text, checked against the save limit; NUL cannot be stored by PostgreSQL. */
export function checkTextContent(content: string, maxBytes = MAX_FILE_BYTES): number {
  const size = Buffer.byteLength(content, "utf8");
  if (size > maxBytes) {
    throw new AppError(
      "PAYLOAD_TOO_LARGE",
      `File is ${size} bytes; the limit is ${maxBytes} bytes (${Math.round(maxBytes / 1024 / 1024)} MB)`,
    );
  }
  if (content.includes("\u0000")) {
    throw new AppError("BAD_REQUEST", "Text files cannot contain NUL characters");
  }
  return size;
}

/**
 * CONFLICT unless creating `path` keeps files and folders apart: no existing file may be one of its
 * folders (`a` when creating `a/b`), and it may not be an existing folder (`a` when `a/b` exists).
 * `ignore` lists paths about to move away.
 */
export async function assertNoFolderClash(
  tx: DbOrTx,
  scope: { userId: string; projectId: string },
  path: string,
  ignore: ReadonlySet<string> = new Set(),
): Promise<void> {
  const ancestors = ancestorFolders(path);
  const clash = await tx.codeSnippet.findMany({
    where: {
      projectId: scope.projectId,
      userId: scope.userId,
      OR: [
        ...(ancestors.length > 0 ? [{ path: { in: ancestors } }] : []),
        { path: { startsWith: `${path}/` } },
      ],
    },
    select: { path: true },
    take: 10,
  });
  const real = clash.filter((c) => !ignore.has(c.path));
  if (real.length === 0) return;
  const first = real[0]!.path;
  throw new AppError(
    "CONFLICT",
    ancestors.includes(first)
      ? `Cannot create ${path}: ${first} is a file, not a folder`
      : `Cannot create ${path}: it is a folder (it holds ${first})`,
  );
}

type CurrentFile = { id: string; version: number; content: string; sha256: string; isBinary: boolean };

function conflict(path: string, base: number | null, current: CurrentFile | null): AppError {
  const message = !current
    ? `${path} was deleted elsewhere; your edit was based on version ${base}. Save it again as a new file to keep it.`
    : base === null
      ? `${path} already exists (current version ${current.version}); open it and save on top of that version`
      : `${path} was changed elsewhere: your edit is based on version ${base}, the current version is ${current.version}`;
  return new AppError("CONFLICT", message, {
    path,
    currentVersion: current?.version ?? null,
    currentContent: current ? (current.isBinary ? null : current.content) : null,
  });
}

async function currentFile(
  tx: DbOrTx,
  scope: { userId: string; projectId: string },
  path: string,
): Promise<CurrentFile | null> {
  return tx.codeSnippet.findFirst({
    where: { projectId: scope.projectId, userId: scope.userId, path },
    select: { id: true, version: true, content: true, sha256: true, isBinary: true },
  });
}

export type WriteFileInput = {
  userId: string;
  projectId: string;
  /** Already normalised. */
  path: string;
  content: string;
  baseVersion: number | null;
  source: FileVersionSource;
  runId?: string | null;
};

/**
 * The one place a text file's content changes: create (baseVersion null) or conditional update, plus
 * its FileVersion, inside `tx`. Throws CONFLICT (details: currentVersion, currentContent) on a stale base.
 * An update that changes nothing returns the current version and writes no new one.
 */
export async function writeFileInTx(tx: DbTx, input: WriteFileInput, now: Date): Promise<SavedFile> {
  const scope = { userId: input.userId, projectId: input.projectId };
  const size = checkTextContent(input.content);
  const sha256 = sha256Hex(input.content);
  const existing = await currentFile(tx, scope, input.path);

  if (!existing) {
    if (input.baseVersion !== null) throw conflict(input.path, input.baseVersion, null);
    await assertNoFolderClash(tx, scope, input.path);
    const created = await tx.codeSnippet.create({
      data: {
        ...scope,
        path: input.path,
        content: input.content,
        language: languageForPath(input.path),
        isBinary: false,
        size,
        sha256,
        version: 1,
        createdAt: now,
        updatedAt: now,
      },
      select: { id: true },
    });
    await tx.fileVersion.create({
      data: {
        ...scope,
        snippetId: created.id,
        version: 1,
        path: input.path,
        content: input.content,
        size,
        sha256,
        source: input.source === "edit" ? "create" : input.source,
        runId: input.runId ?? null,
        createdAt: now,
      },
    });
    await touchProject(tx, input.userId, input.projectId, now);
    return { path: input.path, version: 1 };
  }

  if (input.baseVersion === null || input.baseVersion !== existing.version) {
    throw conflict(input.path, input.baseVersion, existing);
  }
  if (!existing.isBinary && existing.sha256 === sha256)
    return { path: input.path, version: existing.version };

  const next = existing.version + 1;
  // The conditional update is the concurrency guard: a concurrent save from the same base blocks on the
  // row lock, then finds version != base once the winner commits, and updates nothing.
  const { count } = await tx.codeSnippet.updateMany({
    where: { id: existing.id, userId: input.userId, version: input.baseVersion },
    data: {
      content: input.content,
      size,
      sha256,
      isBinary: false,
      version: next,
      language: languageForPath(input.path),
      updatedAt: now,
    },
  });
  if (count === 0) throw conflict(input.path, input.baseVersion, await currentFile(tx, scope, input.path));
  await tx.fileVersion.create({
    data: {
      ...scope,
      snippetId: existing.id,
      version: next,
      path: input.path,
      content: input.content,
      size,
      sha256,
      source: input.source,
      runId: input.runId ?? null,
      createdAt: now,
    },
  });
  await touchProject(tx, input.userId, input.projectId, now);
  return { path: input.path, version: next };
}

/**
 * Run writeFile in its own transaction. A concurrent creation of the same path surfaces as a unique
 * violation (the transaction is then unusable), so the conflict is reported after it.
 */
export async function writeFileVersion(input: WriteFileInput, deps: ProjectsDeps): Promise<SavedFile> {
  await assertProjectOwned(deps.db, input.userId, input.projectId);
  const now = clock(deps);
  try {
    return await deps.db.$transaction((tx) => writeFileInTx(tx, input, now));
  } catch (error) {
    if (isUniqueViolation(error)) {
      throw conflict(input.path, input.baseVersion, await currentFile(deps.db, input, input.path));
    }
    throw error;
  }
}

const ZSave = z.object({
  path: ZFilePath,
  content: z.string(),
  baseVersion: ZFileVersionNumber.nullable().optional(),
  source: z.enum(["edit", "agent"]).optional(),
  runId: z.uuid().nullable().optional(),
});

/**
 * Save a text file. Without `baseVersion` (or null) it creates the file: CONFLICT if it exists. With
 * it, it updates the file: CONFLICT when the file has moved on (details `currentVersion`,
 * `currentContent`) or was deleted. Writes a FileVersion (source `create`/`edit`, or `agent` with the
 * run) and bumps the project's activity. Saving identical content is a no-op returning the current
 * version. PAYLOAD_TOO_LARGE above 2 MB; BAD_REQUEST for an unsafe path or a NUL character.
 */
export async function saveFile(
  input: {
    userId: string;
    projectId: string;
    path: string;
    content: string;
    baseVersion?: number | null;
    source?: "edit" | "agent";
    runId?: string | null;
  },
  deps: ProjectsDeps,
): Promise<SavedFile> {
  const parsed = parseInput(ZSave, input);
  return writeFileVersion(
    {
      userId: input.userId,
      projectId: input.projectId,
      path: parsed.path,
      content: parsed.content,
      baseVersion: parsed.baseVersion ?? null,
      source: parsed.source ?? "edit",
      runId: parsed.runId ?? null,
    },
    deps,
  );
}

/**
 * Delete a file, or a folder with every file under it, and their history. Returns how many files went.
 * NOT_FOUND when nothing is at `path`.
 */
export async function deleteFile(
  input: { userId: string; projectId: string; path: string },
  deps: ProjectsDeps,
): Promise<{ deleted: number }> {
  const path = parseInput(ZFilePath, input.path);
  await assertProjectOwned(deps.db, input.userId, input.projectId);
  const now = clock(deps);
  return deps.db.$transaction(async (tx) => {
    const { count } = await tx.codeSnippet.deleteMany({
      where: {
        projectId: input.projectId,
        userId: input.userId,
        OR: [{ path }, { path: { startsWith: `${path}/` } }],
      },
    });
    if (count === 0) throw fileNotFound(path);
    await touchProject(tx, input.userId, input.projectId, now);
    return { deleted: count };
  });
}

/**
 * Move (rename) a file, or a folder with everything under it. CONFLICT when a target path is taken by a
 * file that is not moving, or when the move would mix a file and a folder of one name; BAD_REQUEST for
 * moving a folder into itself; NOT_FOUND when nothing is at `from`. A move keeps each file's version and
 * history (the FileVersion rows keep the path they were written at).
 */
export async function moveFile(
  input: { userId: string; projectId: string; from: string; to: string },
  deps: ProjectsDeps,
): Promise<MoveResult> {
  const from = parseInput(ZFilePath, input.from);
  const to = parseInput(ZFilePath, input.to);
  const scope = { userId: input.userId, projectId: input.projectId };
  await assertProjectOwned(deps.db, input.userId, input.projectId);
  if (from === to) return { moved: [] };
  const now = clock(deps);
  try {
    return await deps.db.$transaction(async (tx) => {
      const file = await tx.codeSnippet.findFirst({
        where: { ...scope, path: from },
        select: { id: true, path: true },
      });
      let sources: Array<{ id: string; path: string }>;
      if (file) {
        sources = [file];
      } else {
        if (isInFolder(to, from)) {
          throw new AppError("BAD_REQUEST", `Cannot move the folder ${from} into itself (${to})`);
        }
        sources = await tx.codeSnippet.findMany({
          where: { ...scope, path: { startsWith: `${from}/` } },
          select: { id: true, path: true },
        });
        if (sources.length === 0) throw fileNotFound(from);
      }
      const moves = sources.map((s) => ({
        id: s.id,
        from: s.path,
        to: file ? to : `${to}${s.path.slice(from.length)}`,
      }));
      const moving = new Set(moves.map((m) => m.from));

      // Targets taken by files that stay where they are.
      const taken = await tx.codeSnippet.findMany({
        where: { ...scope, path: { in: moves.map((m) => m.to) } },
        select: { path: true },
      });
      const collisions = taken.map((t) => t.path).filter((p) => !moving.has(p));
      if (collisions.length > 0) {
        throw new AppError(
          "CONFLICT",
          `Cannot move ${from} to ${to}: ${collisions.length === 1 ? `${collisions[0]} already exists` : `${collisions.length} files already exist (${collisions.slice(0, 5).join(", ")})`}`,
          { collisions },
        );
      }
      if (file) await assertNoFolderClash(tx, scope, to, moving);
      else {
        // The folder lands at `to`: no file may sit at `to` itself or at one of its folders.
        const blockers = await tx.codeSnippet.findMany({
          where: { ...scope, path: { in: [to, ...ancestorFolders(to)] } },
          select: { path: true },
        });
        const blocker = blockers.find((b) => !moving.has(b.path));
        if (blocker)
          throw new AppError("CONFLICT", `Cannot move ${from} to ${to}: ${blocker.path} is a file`);
      }

      // Two steps, so a target equal to another moving file's current path never trips the unique index
      // half-way: first out of the way (control characters never occur in real paths), then into place.
      const ids = moves.map((m) => m.id);
      await tx.$executeRaw`
        UPDATE "CodeSnippet" SET path = E'\\x01' || id::text
        WHERE id = ANY(${ids}::uuid[]) AND "userId" = ${input.userId}::uuid`;
      await tx.$executeRaw`
        UPDATE "CodeSnippet" AS c SET path = m.path, language = m.language, "updatedAt" = ${now}
        FROM unnest(${ids}::uuid[], ${moves.map((m) => m.to)}::text[], ${moves.map((m) => languageForPath(m.to))}::text[])
          AS m(id, path, language)
        WHERE c.id = m.id AND c."userId" = ${input.userId}::uuid`;
      await touchProject(tx, input.userId, input.projectId, now);
      return { moved: moves.map(({ from: f, to: t }) => ({ from: f, to: t })) };
    });
  } catch (error) {
    // A file created at a target path by a concurrent request, after our checks.
    if (isUniqueViolation(error)) {
      throw new AppError("CONFLICT", `Cannot move ${from} to ${to}: a target path was just taken; try again`);
    }
    throw error;
  }
}
