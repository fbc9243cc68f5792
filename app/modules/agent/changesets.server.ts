/**
 * Reading change sets: the ones a run of the caller's produced, with their files and hunks (reviewing and
 * applying them: changeset-review.server.ts). Another user's run answers NOT_FOUND like a missing one.
 */
import type { Db, Prisma } from "#app/db/client.server.ts";
import { AppError } from "#app/lib/app-error.ts";
import { isUuid } from "#app/lib/use-case.ts";
import type { ChangeSetFile } from "./changeset.server.ts";
import type { ChangeSetFileView, ChangeSetView } from "./changesets.types.ts";

const runNotFound = () => new AppError("NOT_FOUND", "Run not found");

/** ChangeSet.files as stored (written by the engine from computeChangeSet, updated by the review), read defensively. */
export function storedFiles(json: Prisma.JsonValue): ChangeSetFile[] {
  if (!Array.isArray(json)) return [];
  const files: ChangeSetFile[] = [];
  for (const raw of json) {
    if (!raw || typeof raw !== "object" || Array.isArray(raw)) continue;
    const file = raw as Record<string, unknown>;
    if (typeof file.path !== "string") continue;
    const status = file.status === "added" || file.status === "deleted" ? file.status : "modified";
    const hunks = Array.isArray(file.hunks) ? file.hunks : [];
    files.push({
      path: file.path,
      baseVersion: typeof file.baseVersion === "number" ? file.baseVersion : null,
      status,
      ...(file.binary === true ? { binary: true } : {}),
      ...(file.tooLarge === true ? { tooLarge: true } : {}),
      additions: typeof file.additions === "number" ? file.additions : 0,
      deletions: typeof file.deletions === "number" ? file.deletions : 0,
      diff: typeof file.diff === "string" ? file.diff : "",
      hunks: hunks.flatMap((h) => {
        if (!h || typeof h !== "object") return [];
        const hunk = h as Record<string, unknown>;
        if (typeof hunk.index !== "number" || typeof hunk.header !== "string") return [];
        const state = hunk.status === "accepted" || hunk.status === "rejected" ? hunk.status : "pending";
        return [
          {
            index: hunk.index,
            header: hunk.header,
            status: state,
            ...(typeof hunk.comment === "string" ? { comment: hunk.comment } : {}),
          },
        ];
      }),
    });
  }
  return files;
}

/** A ChangeSet row as the API shows it. */
export function changeSetView(row: {
  id: string;
  runId: string | null;
  stepRunId: string | null;
  status: ChangeSetView["status"];
  summary: string | null;
  createdAt: Date;
  appliedAt: Date | null;
  files: Prisma.JsonValue;
}): ChangeSetView {
  return {
    id: row.id,
    runId: row.runId,
    stepRunId: row.stepRunId,
    status: row.status,
    summary: row.summary,
    createdAt: row.createdAt,
    appliedAt: row.appliedAt,
    files: storedFiles(row.files).map(
      (file): ChangeSetFileView => ({
        ...file,
        binary: file.binary === true,
        tooLarge: file.tooLarge === true,
      }),
    ),
  };
}

/** The change sets of the caller's run, oldest first. */
export async function listRunChangeSets(
  { userId, runId }: { userId: string; runId: string },
  { db }: { db: Db },
): Promise<ChangeSetView[]> {
  if (!isUuid(userId) || !isUuid(runId)) throw runNotFound();
  const run = await db.workflowRun.findFirst({ where: { id: runId, userId }, select: { id: true } });
  if (!run) throw runNotFound();
  const rows = await db.changeSet.findMany({
    where: { runId, userId },
    orderBy: [{ createdAt: "asc" }, { id: "asc" }],
  });
  return rows.map(changeSetView);
}
