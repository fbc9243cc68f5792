/**
 * Reviewing a run's ChangeSet: decide hunk by hunk, then apply the accepted hunks to the project's files.
 *
 * - `reviewChangeSet` records decisions (accepted / rejected / back to pending, with an optional comment) on a
 *   change set that is still pending, so a review survives a reload or is shared between tabs.
 * - `applyChangeSet` (optionally recording decisions first) writes, in ONE transaction, a new version of every
 *   file with an accepted hunk (FileVersion source `agent`, with the run). The hunks are applied to the file's
 *   CURRENT content: a file edited since the run started still takes the hunks whose lines are unchanged
 *   (applyHunks locates them), and a hunk whose lines were edited is a conflict. Any conflict aborts the
 *   whole apply (CONFLICT, details.conflicts per file), so the project never holds half a change; the user
 *   rejects or re-runs the conflicting hunks and applies again. Pending hunks count as rejected when the
 *   change set is applied. Final status: `applied` (every hunk accepted), `partially_applied`, or `rejected`
 *   (none accepted).
 * - `rejectChangeSet` rejects what is still pending and closes the change set.
 *
 * Files without hunks (binary, too large, empty) cannot be applied from a review and are left untouched. A
 * change set is decided once: after apply or reject it answers CONFLICT to further changes. Every apply and
 * reject writes an audit event in its transaction. Another user's change set answers NOT_FOUND.
 */
import { z } from "zod";
import type { Db, DbOrTx, DbTx, Prisma } from "#app/db/client.server.ts";
import { AppError } from "#app/lib/app-error.ts";
import { isUuid, parseInput } from "#app/lib/use-case.ts";
import { recordAuditEvent } from "#app/modules/auth/audit.server.ts";
import { writeFileInTx } from "#app/modules/projects/files.server.ts";
import { applyHunks, type ChangeSetFile } from "./changeset.server.ts";
import { changeSetView, storedFiles } from "./changesets.server.ts";
import type { ChangeSetView } from "./changesets.types.ts";
import { type HunkDecision, ZHunkDecisions } from "./changesets.types.ts";

export type ReviewDeps = { db: Db; now?: () => Date };

/** Who acts, for the audit trail. */
export type ReviewActor = { userId: string; apiKeyId?: string | null };

/** An audit event about a change set, by `actor`, in the transaction of the change it records. */
export async function auditChangeSet(
  db: DbOrTx,
  actor: ReviewActor,
  action: "changeset.applied" | "changeset.rejected" | "changeset.follow_up",
  changeSet: { id: string; projectId: string; runId: string | null },
  data: Prisma.InputJsonObject = {},
): Promise<void> {
  await recordAuditEvent(db, {
    userId: actor.userId,
    action,
    actorType: actor.apiKeyId ? "api_key" : "user",
    apiKeyId: actor.apiKeyId ?? null,
    targetType: "changeset",
    targetId: changeSet.id,
    data: { projectId: changeSet.projectId, runId: changeSet.runId, ...data },
  });
}

const changeSetNotFound = () => new AppError("NOT_FOUND", "Change set not found");

type LockedChangeSet = {
  id: string;
  projectId: string;
  runId: string | null;
  status: string;
  files: ChangeSetFile[];
};

/** The caller's change set, row-locked for the rest of the transaction (concurrent reviews queue up). */
async function lockChangeSet(tx: DbTx, userId: string, changeSetId: string): Promise<LockedChangeSet> {
  if (!isUuid(userId) || !isUuid(changeSetId)) throw changeSetNotFound();
  const locked = await tx.$queryRaw<Array<{ id: string }>>`
    SELECT id FROM "ChangeSet" WHERE id = ${changeSetId}::uuid AND "userId" = ${userId}::uuid FOR UPDATE`;
  if (locked.length === 0) throw changeSetNotFound();
  const row = await tx.changeSet.findFirstOrThrow({
    where: { id: changeSetId, userId },
    select: { id: true, projectId: true, runId: true, status: true, files: true },
  });
  return { ...row, files: storedFiles(row.files) };
}

function assertPending(changeSet: LockedChangeSet): void {
  if (changeSet.status !== "pending") {
    const what = changeSet.status === "rejected" ? "rejected" : "applied";
    throw new AppError("CONFLICT", `This change set was already ${what}; it can no longer change`, {
      status: changeSet.status,
    });
  }
}

/** Set the decisions on `files` (mutated). BAD_REQUEST for a path or hunk the change set does not have. */
function decide(files: ChangeSetFile[], decisions: HunkDecision[]): void {
  const byPath = new Map(files.map((file) => [file.path, file]));
  for (const decision of decisions) {
    const file = byPath.get(decision.path);
    if (!file) throw new AppError("BAD_REQUEST", `The change set has no file ${decision.path}`);
    const targets =
      decision.hunk === undefined ? file.hunks : file.hunks.filter((hunk) => hunk.index === decision.hunk);
    if (decision.hunk !== undefined && targets.length === 0) {
      throw new AppError(
        "BAD_REQUEST",
        `${decision.path} has no hunk ${decision.hunk} (it has ${file.hunks.length})`,
      );
    }
    for (const hunk of targets) {
      hunk.status = decision.status;
      if (decision.comment !== undefined) {
        const comment = decision.comment?.trim() ?? "";
        if (comment === "") delete hunk.comment;
        else hunk.comment = comment;
      }
    }
  }
}

async function saveFiles(
  tx: DbTx,
  changeSet: LockedChangeSet,
  data: Omit<Prisma.ChangeSetUpdateInput, "files"> = {},
): Promise<void> {
  await tx.changeSet.update({
    where: { id: changeSet.id },
    data: { ...data, files: changeSet.files as unknown as Prisma.InputJsonValue },
  });
}

async function reload(tx: DbTx, userId: string, changeSetId: string): Promise<ChangeSetView> {
  const row = await tx.changeSet.findFirstOrThrow({ where: { id: changeSetId, userId } });
  return changeSetView(row);
}

const ZReviewInput = z.object({ decisions: ZHunkDecisions });

/** Record decisions on a pending change set. CONFLICT once it was applied or rejected. */
export async function reviewChangeSet(
  input: ReviewActor & { changeSetId: string; decisions: unknown },
  deps: ReviewDeps,
): Promise<ChangeSetView> {
  const { decisions } = parseInput(ZReviewInput, { decisions: input.decisions });
  return deps.db.$transaction(async (tx) => {
    const changeSet = await lockChangeSet(tx, input.userId, input.changeSetId);
    assertPending(changeSet);
    decide(changeSet.files, decisions);
    await saveFiles(tx, changeSet);
    return reload(tx, input.userId, changeSet.id);
  });
}

export type AppliedFile = {
  path: string;
  action: "created" | "updated" | "deleted" | "unchanged";
  /** The file's version after the apply; null once deleted. */
  version: number | null;
};

export type FileConflict = { path: string; hunks: number[]; message: string };

type CurrentFile = { id: string; version: number; content: string; isBinary: boolean };

/** What one file's accepted hunks do to the project, or why they cannot. Writes nothing. */
function planFile(
  file: ChangeSetFile,
  current: CurrentFile | null,
): { conflict: FileConflict } | { content: string | null; unchanged?: boolean } {
  const accepted = file.hunks.filter((hunk) => hunk.status === "accepted").map((hunk) => hunk.index);
  const conflict = (message: string, hunks = accepted) => ({ conflict: { path: file.path, hunks, message } });
  if (file.status === "added") {
    const created = applyHunks({ content: "", diff: file.diff, accept: accepted });
    if (!created.ok) return conflict(created.message, created.conflicts);
    if (current) {
      return !current.isBinary && current.content === created.content
        ? { content: created.content, unchanged: true }
        : conflict(`${file.path} was created in the project since the run started`);
    }
    return { content: created.content };
  }
  if (!current) {
    return file.status === "deleted"
      ? { content: null, unchanged: true }
      : conflict(`${file.path} was deleted from the project since the run started`);
  }
  if (current.isBinary) return conflict(`${file.path} is now a binary file`);
  const applied = applyHunks({ content: current.content, diff: file.diff, accept: accepted });
  if (!applied.ok) return conflict(applied.message, applied.conflicts);
  // Every line of a deleted file removed: the file goes.
  const allAccepted = accepted.length === file.hunks.length;
  if (file.status === "deleted" && allAccepted && applied.content === "") return { content: null };
  return { content: applied.content, unchanged: applied.content === current.content };
}

const ZApplyInput = z.object({ decisions: ZHunkDecisions.optional() });

/**
 * Apply the accepted hunks (after recording `decisions`, when given). All or nothing: CONFLICT with
 * `details.conflicts` ([{path, hunks, message}]) when any file cannot take its hunks; CONFLICT too when the
 * change set was already decided, or when nothing is accepted (reject it instead).
 */
export async function applyChangeSet(
  input: ReviewActor & { changeSetId: string; decisions?: unknown },
  deps: ReviewDeps,
): Promise<{ changeSet: ChangeSetView; files: AppliedFile[] }> {
  const parsed = parseInput(ZApplyInput, { decisions: input.decisions });
  const now = deps.now?.() ?? new Date();
  return deps.db.$transaction(async (tx) => {
    const changeSet = await lockChangeSet(tx, input.userId, input.changeSetId);
    assertPending(changeSet);
    if (parsed.decisions) decide(changeSet.files, parsed.decisions);
    const chosen = changeSet.files.filter((file) => file.hunks.some((hunk) => hunk.status === "accepted"));
    if (chosen.length === 0) {
      throw new AppError("CONFLICT", "No hunk is accepted: accept at least one, or reject the change set");
    }

    const scope = { userId: input.userId, projectId: changeSet.projectId };
    const rows = await tx.codeSnippet.findMany({
      where: { ...scope, path: { in: chosen.map((file) => file.path) } },
      select: { id: true, path: true, version: true, content: true, isBinary: true },
    });
    const currentByPath = new Map(rows.map((row) => [row.path, row]));
    const plans = chosen.map((file) => ({
      file,
      plan: planFile(file, currentByPath.get(file.path) ?? null),
    }));
    const conflicts = plans.flatMap(({ plan }) => ("conflict" in plan ? [plan.conflict] : []));
    if (conflicts.length > 0) {
      const first = conflicts[0]!;
      throw new AppError(
        "CONFLICT",
        conflicts.length === 1
          ? `Nothing was applied: ${first.message}`
          : `Nothing was applied: ${conflicts.length} files changed since the run started (${conflicts.map((c) => c.path).join(", ")})`,
        { conflicts },
      );
    }

    const applied: AppliedFile[] = [];
    for (const { file, plan } of plans) {
      if ("conflict" in plan) continue;
      const current = currentByPath.get(file.path) ?? null;
      if (plan.unchanged) {
        applied.push({ path: file.path, action: "unchanged", version: current?.version ?? null });
      } else if (plan.content === null) {
        await tx.codeSnippet.deleteMany({ where: { ...scope, id: current!.id } });
        applied.push({ path: file.path, action: "deleted", version: null });
      } else {
        const saved = await writeFileInTx(
          tx,
          {
            ...scope,
            path: file.path,
            content: plan.content,
            baseVersion: current?.version ?? null,
            source: "agent",
            runId: changeSet.runId,
          },
          now,
        );
        applied.push({ path: file.path, action: current ? "updated" : "created", version: saved.version });
      }
    }

    let accepted = 0;
    let total = 0;
    for (const file of changeSet.files) {
      for (const hunk of file.hunks) {
        total += 1;
        if (hunk.status === "pending") hunk.status = "rejected";
        if (hunk.status === "accepted") accepted += 1;
      }
    }
    const status = accepted === total ? "applied" : "partially_applied";
    await saveFiles(tx, changeSet, { status, appliedAt: now });
    await auditChangeSet(tx, input, "changeset.applied", changeSet, {
      status,
      hunksAccepted: accepted,
      hunksTotal: total,
      files: applied.map((file) => file.path).slice(0, 50),
    });
    return { changeSet: await reload(tx, input.userId, changeSet.id), files: applied };
  });
}

/** Reject what is still pending and close the change set (status `rejected`). CONFLICT once decided. */
export async function rejectChangeSet(
  input: ReviewActor & { changeSetId: string },
  deps: ReviewDeps,
): Promise<ChangeSetView> {
  return deps.db.$transaction(async (tx) => {
    const changeSet = await lockChangeSet(tx, input.userId, input.changeSetId);
    assertPending(changeSet);
    for (const file of changeSet.files) for (const hunk of file.hunks) hunk.status = "rejected";
    await saveFiles(tx, changeSet, { status: "rejected" });
    await auditChangeSet(tx, input, "changeset.rejected", changeSet);
    return reload(tx, input.userId, changeSet.id);
  });
}
