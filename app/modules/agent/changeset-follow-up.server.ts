/**
 * A follow-up run from a review: the hunks a reviewer rejected WITH a comment become an agent task on the
 * project (as it is now, the accepted hunks applied), run by the model of the agent step that made them.
 * The task quotes each rejected hunk and its comment; the model is told the accepted changes are in place.
 * It reuses the project's "custom agent task" workflow (agent-task.server.ts), with the test command of
 * the original run when it had one.
 */
import { parsePatch } from "diff";
import type { Db } from "#app/db/client.server.ts";
import { AppError } from "#app/lib/app-error.ts";
import { isUuid } from "#app/lib/use-case.ts";
import { type AgentTaskDeps, startAgentTask } from "./agent-task.server.ts";
import { MAX_AGENT_TASK_CHARS, type TStartAgentTaskOutput } from "./agent-task.types.ts";
import { auditChangeSet } from "./changeset-review.server.ts";
import { storedFiles } from "./changesets.server.ts";

const changeSetNotFound = () => new AppError("NOT_FOUND", "Change set not found");

/** Room kept for the instructions around the quoted hunks. */
const FRAME_CHARS = 2_000;

function hunkText(diff: string, index: number): string {
  const hunk = parsePatch(diff)[0]?.hunks[index];
  if (!hunk) return "";
  const oldStart = hunk.oldLines === 0 ? hunk.oldStart - 1 : hunk.oldStart;
  const newStart = hunk.newLines === 0 ? hunk.newStart - 1 : hunk.newStart;
  return [`@@ -${oldStart},${hunk.oldLines} +${newStart},${hunk.newLines} @@`, ...hunk.lines].join("\n");
}

/** The agent's model in the run's pinned workflow version, for the step that wrote the change set. */
async function agentModelOf(db: Db, userId: string, stepRunId: string | null): Promise<string | undefined> {
  if (!stepRunId) return undefined;
  const stepRun = await db.stepRun.findFirst({
    where: { id: stepRunId, userId },
    select: { stepId: true, run: { select: { version: { select: { definition: true } } } } },
  });
  const definition = stepRun?.run.version.definition as
    | { steps?: Array<Record<string, unknown>> }
    | undefined;
  const step = definition?.steps?.find((s) => s.id === stepRun?.stepId);
  return typeof step?.model === "string" ? step.model : undefined;
}

/**
 * Start the follow-up run of a decided change set (CONFLICT while it is still pending: apply or reject it
 * first, so the agent starts from the files as they will stay). BAD_REQUEST when no rejected hunk has a
 * comment. NOT_FOUND for another user's change set.
 */
export async function followUpChangeSet(
  input: { userId: string; changeSetId: string; apiKeyId?: string | null; model?: string },
  deps: AgentTaskDeps,
): Promise<TStartAgentTaskOutput> {
  if (!isUuid(input.userId) || !isUuid(input.changeSetId)) throw changeSetNotFound();
  const row = await deps.db.changeSet.findFirst({
    where: { id: input.changeSetId, userId: input.userId },
    select: {
      id: true,
      projectId: true,
      runId: true,
      stepRunId: true,
      status: true,
      summary: true,
      files: true,
      run: { select: { input: true } },
    },
  });
  if (!row) throw changeSetNotFound();
  if (row.status === "pending") {
    throw new AppError(
      "CONFLICT",
      "Apply or reject this change set first: the follow-up starts from the project's files as they then are",
    );
  }
  const rejected = storedFiles(row.files).flatMap((file) =>
    file.hunks
      .filter((hunk) => hunk.status === "rejected" && hunk.comment)
      .map((hunk) => ({ path: file.path, comment: hunk.comment!, text: hunkText(file.diff, hunk.index) })),
  );
  if (rejected.length === 0) {
    throw new AppError("BAD_REQUEST", "No rejected hunk has a comment: say what the agent should do instead");
  }

  const intro = [
    "A reviewer looked at the changes an earlier agent run made to this project.",
    row.status === "rejected"
      ? "They rejected all of them: none is in the project's files."
      : "The changes they accepted are already in the project's files; the ones below were rejected and are NOT.",
    "For each rejected change, do what the reviewer's comment asks, in the project as it is now.",
    ...(row.summary ? ["", "The earlier run's summary of its work:", row.summary] : []),
  ].join("\n");
  let budget = MAX_AGENT_TASK_CHARS - FRAME_CHARS - intro.length;
  const parts: string[] = [];
  let left = 0;
  for (const [i, item] of rejected.entries()) {
    const part = [
      `## ${i + 1}. ${item.path}`,
      "The rejected change (unified diff against the file as it was then):",
      "```diff",
      item.text,
      "```",
      `Reviewer's comment: ${item.comment}`,
    ].join("\n");
    if (part.length > budget) {
      left = rejected.length - i;
      break;
    }
    budget -= part.length;
    parts.push(part);
  }
  if (parts.length === 0) throw new AppError("BAD_REQUEST", "The rejected hunks are too large to quote");
  const task = [
    intro,
    "",
    ...parts,
    ...(left > 0 ? ["", `(${left} more rejected change${left === 1 ? "" : "s"} left out for length.)`] : []),
    "",
    "When you are done, summarise what you changed for each comment.",
  ].join("\n");

  const runInput = row.run?.input as Record<string, unknown> | null | undefined;
  const testCommand = typeof runInput?.test_command === "string" ? runInput.test_command : undefined;
  const model = input.model ?? (await agentModelOf(deps.db, input.userId, row.stepRunId));
  const started = await startAgentTask(
    {
      userId: input.userId,
      projectId: row.projectId,
      kind: "custom",
      task,
      ...(testCommand ? { testCommand } : {}),
      model,
      apiKeyId: input.apiKeyId ?? null,
    },
    deps,
  );
  await auditChangeSet(deps.db, input, "changeset.follow_up", row, {
    followUpRunId: started.runId,
    comments: rejected.length,
  });
  return started;
}
