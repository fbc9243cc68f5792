import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Prisma } from "#app/db/client.server.ts";
import { createFile, createProject, createUser, createWorkflow } from "#tests/factories/index.ts";
import { rejection } from "#tests/setup/assertions.ts";
import { setupTestDatabase } from "#tests/setup/database.ts";
import { setupEngineHarness } from "#tests/setup/engine.ts";
import { apiCall, signupViaApi, startTestServer, type TestServer } from "#tests/setup/http-server.ts";
import { executeRun } from "./engine.server.ts";
import { createRun, getRun, restartRun } from "./runs.server.ts";

const database = setupTestDatabase();
const db = () => database.db;
const engine = setupEngineHarness(database);
beforeEach(() => engine.mock.reset());

const execute = (runId: string) => executeRun(runId, engine.deps());

/** plan (a model call) → notes (reads a project file that does not exist yet: the step fails). */
const DEFINITION = {
  inputs: { task: { type: "string" } },
  steps: [
    { id: "plan", type: "llm", model: "compat:mock/echo", prompt: "Plan: {{inputs.task}}" },
    {
      id: "notes",
      type: "transform",
      template: '{{steps.plan.output}} / {{project.files["notes.md"]}}',
    },
  ],
} satisfies Prisma.InputJsonValue;

async function failedRun() {
  const user = await createUser(db());
  const project = await createProject(db(), { userId: user.id });
  const { workflow } = await createWorkflow(db(), {
    userId: user.id,
    projectId: project.id,
    definition: DEFINITION,
  });
  const { runId } = await createRun(
    { userId: user.id, workflowId: workflow.id, input: { task: "ship" }, budgetUsd: 2 },
    { db: db() },
  );
  expect(await execute(runId)).toBe("failed");
  return { user, project, workflow, runId };
}

describe("restartRun", () => {
  it("retry reuses the steps that succeeded: the model is not called again, the failed step runs", async () => {
    const { user, project, runId } = await failedRun();
    expect(engine.mock.requests).toHaveLength(1);
    const failed = await getRun({ userId: user.id, runId }, { db: db() });
    expect(failed.error).toMatchObject({ stepId: "notes" });

    await createFile(db(), { userId: user.id, projectId: project.id, path: "notes.md", content: "ok" });
    const retried = await restartRun({ userId: user.id, runId, mode: "retry" }, { db: db() });
    expect(retried.reusedSteps).toEqual(["plan"]);

    const queued = await getRun({ userId: user.id, runId: retried.runId }, { db: db() });
    expect(queued).toMatchObject({
      status: "queued",
      retryOfRunId: runId,
      input: { task: "ship" },
      budgetMicros: 2_000_000,
      versionNumber: 1,
    });
    expect(queued.steps.map((s) => [s.stepId, s.status, s.reusedFromRunId, s.output])).toEqual([
      ["plan", "succeeded", runId, "Echo: Plan: ship"],
    ]);
    // A watcher of the new run learns what was reused from its first events.
    const head = await db().runEvent.findMany({ where: { runId: retried.runId }, orderBy: { seq: "asc" } });
    expect(head.map((e) => [e.seq, e.type, e.stepId])).toEqual([
      [1, "log", null],
      [2, "step_finished", "plan"],
    ]);
    expect((head[0]?.data as { message?: string } | undefined)?.message).toContain(
      'reusing the output of 1 finished step ("plan")',
    );

    expect(await execute(retried.runId)).toBe("succeeded");
    expect(engine.mock.requests).toHaveLength(1); // plan was not called again
    const done = await getRun({ userId: user.id, runId: retried.runId }, { db: db() });
    expect(done.output).toBe("Echo: Plan: ship / ok");
    expect(done.tokensIn + done.tokensOut).toBe(0); // the reused call was paid by the first run
    const seqs = (
      await db().runEvent.findMany({ where: { runId: retried.runId }, orderBy: { seq: "asc" } })
    ).map((e) => e.seq);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    expect(done.lastEventSeq).toBe(seqs.length);

    // Re-run: everything again, from the start.
    const again = await restartRun({ userId: user.id, runId: retried.runId, mode: "rerun" }, { db: db() });
    expect(again.reusedSteps).toEqual([]);
    expect(await execute(again.runId)).toBe("succeeded");
    expect(engine.mock.requests).toHaveLength(2);
    const rerun = await getRun({ userId: user.id, runId: again.runId }, { db: db() });
    expect(rerun.retryOfRunId).toBe(retried.runId);
    expect(rerun.steps.every((s) => s.reusedFromRunId === null && s.attempt === 1)).toBe(true);
  });

  it("refuses what cannot be restarted: running or queued (CONFLICT), retry of a success, archived, others' runs", async () => {
    const { user, workflow, runId } = await failedRun();
    const deps = { db: db() };
    const { runId: queued } = await createRun(
      { userId: user.id, workflowId: workflow.id, input: { task: "x" } },
      deps,
    );
    expect(
      await rejection(restartRun({ userId: user.id, runId: queued, mode: "rerun" }, deps)),
    ).toMatchObject({
      code: "CONFLICT",
      message: expect.stringContaining("still queued"),
    });
    await createFile(db(), { userId: user.id, projectId: workflow.projectId, path: "notes.md", content: "" });
    const ok = await restartRun({ userId: user.id, runId, mode: "retry" }, deps);
    expect(await execute(ok.runId)).toBe("succeeded");
    expect(
      await rejection(restartRun({ userId: user.id, runId: ok.runId, mode: "retry" }, deps)),
    ).toMatchObject({
      code: "CONFLICT",
      message: expect.stringContaining("re-run it instead"),
    });

    const stranger = await createUser(db());
    for (const mode of ["retry", "rerun"] as const) {
      expect(await rejection(restartRun({ userId: stranger.id, runId, mode }, deps))).toMatchObject({
        code: "NOT_FOUND",
      });
    }
    expect(
      await rejection(restartRun({ userId: user.id, runId: "nope", mode: "retry" }, deps)),
    ).toMatchObject({
      code: "NOT_FOUND",
    });

    await db().aIWorkflow.update({ where: { id: workflow.id }, data: { archivedAt: new Date() } });
    expect(await rejection(restartRun({ userId: user.id, runId, mode: "rerun" }, deps))).toMatchObject({
      code: "CONFLICT",
      message: expect.stringContaining("archived"),
    });
  });
});

describe("REST retry and rerun", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server?.close());

  it("POST /runs/{id}/retry and /rerun: 202 with the new run; 409 on a running run; 404 for another user", async () => {
    const alice = await signupViaApi(server.base);
    const bob = await signupViaApi(server.base);
    const sdb = server.database.db;
    const project = await createProject(sdb, { userId: alice.userId });
    const { workflow, version } = await createWorkflow(sdb, {
      userId: alice.userId,
      projectId: project.id,
      definition: DEFINITION,
    });
    const failed = await sdb.workflowRun.create({
      data: {
        userId: alice.userId,
        projectId: project.id,
        workflowId: workflow.id,
        workflowVersionId: version.id,
        input: { task: "rest" },
        status: "failed",
        error: { code: "TEMPLATE_MISSING", message: "x", stepId: "notes" },
      },
    });
    await sdb.stepRun.create({
      data: {
        userId: alice.userId,
        runId: failed.id,
        stepId: "plan",
        index: 0,
        type: "llm",
        status: "succeeded",
        output: "the plan",
      },
    });
    const retry = await apiCall(server.base, "POST", `/runs/${failed.id}/retry`, alice.accessToken, {});
    expect(retry.status).toBe(202);
    expect(retry.body).toMatchObject({ runId: expect.any(String), reusedSteps: ["plan"] });
    const rerun = await apiCall(server.base, "POST", `/runs/${failed.id}/rerun`, alice.accessToken, {});
    expect(rerun.status).toBe(202);
    expect(rerun.body).toMatchObject({ reusedSteps: [] });

    const newRunId = (retry.body as { runId: string }).runId;
    const busy = await apiCall(server.base, "POST", `/runs/${newRunId}/rerun`, alice.accessToken, {});
    expect(busy.status).toBe(409);
    const foreign = await apiCall(server.base, "POST", `/runs/${failed.id}/retry`, bob.accessToken, {});
    expect(foreign.status).toBe(404);
    expect(await sdb.workflowRun.count({ where: { retryOfRunId: failed.id } })).toBe(2);
  });
});
