import { createTwoFilesPatch } from "diff";
import { describe, expect, it } from "vitest";
import type { Prisma } from "#app/db/client.server.ts";
import { createProject, createRun, createUser, createWorkflow } from "#tests/factories/index.ts";
import { setupTestDatabase } from "#tests/setup/database.ts";
import { followUpChangeSet } from "./changeset-follow-up.server.ts";

const database = setupTestDatabase();
const db = () => database.db;
const MODEL = "compat:mock/fixer";

/** A finished run of a workflow whose agent step `fix` runs on MODEL, and a change set of that step. */
async function setup(hunkStatus: "pending" | "rejected", comment?: string, status = "partially_applied") {
  const user = await createUser(db());
  const project = await createProject(db(), { userId: user.id });
  const scope = { userId: user.id, projectId: project.id };
  const { workflow, version } = await createWorkflow(db(), {
    ...scope,
    definition: {
      inputs: { test_command: { type: "string" } },
      steps: [{ id: "fix", type: "agent", model: MODEL, instructions: "Fix it" }],
    },
  });
  const run = await createRun(db(), {
    ...scope,
    workflowId: workflow.id,
    workflowVersionId: version.id,
    status: "succeeded",
    input: { test_command: "npm run check" },
  });
  const step = await db().stepRun.create({
    data: { userId: user.id, runId: run.id, stepId: "fix", index: 0, type: "agent", status: "succeeded" },
  });
  const diff = createTwoFilesPatch("a/src/a.js", "b/src/a.js", "let x = 1;\n", "var x = 1;\n", "", "", {
    context: 0,
  });
  const changeSet = await db().changeSet.create({
    data: {
      ...scope,
      runId: run.id,
      stepRunId: step.id,
      status: status as "pending",
      summary: "Renamed the declaration",
      diff,
      files: [
        {
          path: "src/a.js",
          baseVersion: 1,
          status: "modified",
          diff,
          additions: 1,
          deletions: 1,
          hunks: [
            { index: 0, header: "@@ -1,1 +1,1 @@", status: hunkStatus, ...(comment ? { comment } : {}) },
          ],
        },
      ] as unknown as Prisma.InputJsonValue,
    },
  });
  return { ...scope, runId: run.id, changeSetId: changeSet.id };
}

describe("followUpChangeSet", () => {
  it("starts an agent task quoting each rejected hunk and its comment, on the agent's model and test command", async () => {
    const s = await setup("rejected", "Keep let; use const if anything");
    const started = await followUpChangeSet({ userId: s.userId, changeSetId: s.changeSetId }, { db: db() });
    const run = await db().workflowRun.findUniqueOrThrow({
      where: { id: started.runId },
      select: { status: true, projectId: true, input: true, version: { select: { definition: true } } },
    });
    expect(run.status).toBe("queued");
    expect(run.projectId).toBe(s.projectId);
    const input = run.input as { task: string; test_command: string };
    expect(input.test_command).toBe("npm run check");
    expect(input.task).toContain("## 1. src/a.js");
    expect(input.task).toContain("-let x = 1;\n+var x = 1;");
    expect(input.task).toContain("Reviewer's comment: Keep let; use const if anything");
    expect(input.task).toContain("Renamed the declaration");
    const steps = (run.version.definition as { steps: Array<{ type: string; model?: string }> }).steps;
    expect(steps.find((step) => step.type === "agent")?.model).toBe(MODEL);
    const audit = await db().auditEvent.findFirst({
      where: { userId: s.userId, action: "changeset.follow_up", targetId: s.changeSetId },
    });
    expect(audit?.data).toMatchObject({ followUpRunId: started.runId, comments: 1 });
  });

  it("waits for the change set to be decided, and needs a commented rejection", async () => {
    const pending = await setup("pending", undefined, "pending");
    await expect(
      followUpChangeSet({ userId: pending.userId, changeSetId: pending.changeSetId }, { db: db() }),
    ).rejects.toMatchObject({ code: "CONFLICT" });
    const silent = await setup("rejected", undefined, "rejected");
    await expect(
      followUpChangeSet({ userId: silent.userId, changeSetId: silent.changeSetId }, { db: db() }),
    ).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: expect.stringMatching(/No rejected hunk has a comment/),
    });
  });

  it("answers NOT_FOUND for another user's change set, and starts nothing", async () => {
    const s = await setup("rejected", "Not like this");
    const other = await createUser(db());
    await expect(
      followUpChangeSet({ userId: other.id, changeSetId: s.changeSetId }, { db: db() }),
    ).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(await db().workflowRun.count({ where: { projectId: s.projectId } })).toBe(1);
  });
});
