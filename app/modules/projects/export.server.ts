/**
 * Export a project as a .zip: its files now, or as they were at a past moment.
 */
import { strToU8, type Zippable, zipSync } from "fflate";
import { AppError } from "#app/lib/app-error.ts";
import { assertProjectOwned, type ProjectsDeps } from "./deps.server.ts";
import { isBinaryVersion } from "./versions.server.ts";

/** Zip timestamps are MS-DOS times: 1980–2107. */
const DOS_EPOCH = new Date("1980-01-02T00:00:00Z");

/**
 * The project's files as a zip archive (deflate, paths as stored, modification times from the versions).
 *
 * With `at`, each file is exported at its newest version written at or before `at`. Deliberately simple:
 * the files considered are those that exist now (a file deleted since is not brought back, and a file
 * created after `at` is left out); a file moved since keeps its current path.
 *
 * Binary files are left out: their bytes were never kept (only size and sha256).
 */
export async function exportZip(
  input: { userId: string; projectId: string; at?: Date },
  deps: ProjectsDeps,
): Promise<Uint8Array> {
  await assertProjectOwned(deps.db, input.userId, input.projectId);
  const { at } = input;
  if (at && Number.isNaN(at.getTime())) throw new AppError("BAD_REQUEST", "`at` is not a valid date");

  type Row = { path: string; content: string; size: number; time: Date };
  const rows: Row[] = at
    ? await deps.db.$queryRaw<Row[]>`
        SELECT DISTINCT ON (v."snippetId") c.path, v.content, v.size, v."createdAt" AS time
        FROM "FileVersion" v
        JOIN "CodeSnippet" c ON c.id = v."snippetId"
        WHERE c."projectId" = ${input.projectId}::uuid AND c."userId" = ${input.userId}::uuid
          AND v."userId" = ${input.userId}::uuid AND v."createdAt" <= ${at}
        ORDER BY v."snippetId", v.version DESC`
    : (
        await deps.db.codeSnippet.findMany({
          where: { projectId: input.projectId, userId: input.userId },
          select: { path: true, content: true, size: true, updatedAt: true },
        })
      ).map(({ updatedAt, ...row }) => ({ ...row, time: updatedAt }));

  const files: Zippable = {};
  for (const row of rows) {
    if (isBinaryVersion(row)) continue;
    files[row.path] = [strToU8(row.content), { mtime: row.time < DOS_EPOCH ? DOS_EPOCH : row.time }];
  }
  return zipSync(files, { level: 6 });
}
