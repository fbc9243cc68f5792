import { describe, expect, it } from "vitest";
import type { ModelOption } from "#app/modules/ai/ai.types.ts";
import { getWorkflow, updateWorkflow } from "#app/modules/workflows/index.server.ts";
import { createProject, createUser } from "#tests/factories/index.ts";
import { rejection } from "#tests/setup/assertions.ts";
import { setupTestDatabase } from "#tests/setup/database.ts";
import { type AgentTaskDeps, startAgentTask } from "./agent-task.server.ts";

const database = setupTestDatabase();
const db = () => database.db;
const deps = (extra: Partial<AgentTaskDeps> = {}): AgentTaskDeps => ({ db: database.db, ...extra });
const MODEL = "compat:mock/echo";
const OTHER_MODEL = "compat:mock/other";

async function owner() {
  const user = await createUser(db());
  const project = await createProject(db(), { userId: user.id });
  return { userId: user.id, projectId: project.id };
}

/** The run with its pinned version's number. */
async function runOf(runId: string) {
  return db().workflowRun.findUniqueOrThrow({
    where: { id: runId },
    select: { status: true, input: true, workflowId: true, version: { select: { number: true } } },
  });
}

const modelsOf = (definition: { steps: Array<{ type: string; model?: string }> }) =>
  definition.steps.filter((step) => step.type === "agent" || step.type === "llm").map((step) => step.model);

describe("startAgentTask", () => {
  it("fix-tests: creates the workflow from the template once, then reuses it (even renamed)", async () => {
    const scope = await owner();
    const first = await startAgentTask({ ...scope, kind: "fix-tests", model: MODEL }, deps());
    expect(first).toMatchObject({ version: 1, created: true });
    const workflow = await getWorkflow({ userId: scope.userId, workflowId: first.workflowId }, deps());
    expect(workflow.name).toBe("Fix failing tests");
    expect(workflow.definition.steps.map((step) => step.id)).toEqual(["run_tests", "fix", "rerun_tests"]);
    expect(modelsOf(workflow.definition)).toEqual([MODEL]);
    expect(await runOf(first.runId)).toMatchObject({
      status: "queued",
      workflowId: first.workflowId,
      input: { test_command: "npm test" },
      version: { number: 1 },
    });

    const second = await startAgentTask(
      { ...scope, kind: "fix-tests", model: MODEL, testCommand: "  pnpm test  " },
      deps(),
    );
    expect(second).toMatchObject({ workflowId: first.workflowId, version: 1, created: false });
    expect((await runOf(second.runId)).input).toEqual({ test_command: "pnpm test" });

    // A rename keeps it the project's fix-tests workflow.
    await updateWorkflow(
      { userId: scope.userId, workflowId: first.workflowId, name: "Our CI fixer" },
      deps(),
    );
    const third = await startAgentTask({ ...scope, kind: "fix-tests", model: MODEL }, deps());
    expect(third).toMatchObject({ workflowId: first.workflowId, created: false });
    expect(await db().aIWorkflow.count({ where: { projectId: scope.projectId } })).toBe(1);
    expect(await db().workflowRun.count({ where: { workflowId: first.workflowId } })).toBe(3);
  });

  it("a different model saves a new version (noted) and the run is pinned to it; the same model again makes none", async () => {
    const scope = await owner();
    const first = await startAgentTask({ ...scope, kind: "fix-tests", model: MODEL }, deps());
    const changed = await startAgentTask({ ...scope, kind: "fix-tests", model: OTHER_MODEL }, deps());
    expect(changed).toMatchObject({ workflowId: first.workflowId, version: 2, created: false });
    expect((await runOf(changed.runId)).version.number).toBe(2);
    const workflow = await getWorkflow({ userId: scope.userId, workflowId: first.workflowId }, deps());
    expect(modelsOf(workflow.definition)).toEqual([OTHER_MODEL]);
    expect(workflow.version.note).toBe(`Model set to ${OTHER_MODEL} for an agent task`);

    const again = await startAgentTask({ ...scope, kind: "fix-tests", model: OTHER_MODEL }, deps());
    expect(again).toMatchObject({ workflowId: first.workflowId, version: 2 });
    expect(await db().workflowVersion.count({ where: { workflowId: first.workflowId } })).toBe(2);
  });

  it("a workflow whose steps the user edited is theirs: a fresh one is made under a free name", async () => {
    const scope = await owner();
    const first = await startAgentTask({ ...scope, kind: "fix-tests", model: MODEL }, deps());
    const workflow = await getWorkflow({ userId: scope.userId, workflowId: first.workflowId }, deps());
    const edited = structuredClone(workflow.definition);
    const rerun = edited.steps[2];
    if (rerun?.type !== "command") throw new Error("expected the rerun command step");
    rerun.timeoutSeconds = 900;
    await updateWorkflow(
      { userId: scope.userId, workflowId: first.workflowId, definition: edited, baseVersion: 1 },
      deps(),
    );

    const next = await startAgentTask({ ...scope, kind: "fix-tests", model: MODEL }, deps());
    expect(next.created).toBe(true);
    expect(next.workflowId).not.toBe(first.workflowId);
    const made = await getWorkflow({ userId: scope.userId, workflowId: next.workflowId }, deps());
    expect(made.name).toBe("Fix failing tests 2");
    // The user's edit stays as they left it.
    const mine = await getWorkflow({ userId: scope.userId, workflowId: first.workflowId }, deps());
    expect(mine.latestVersion).toBe(2);
    // An archived match is not reused either.
    await updateWorkflow({ userId: scope.userId, workflowId: next.workflowId, archived: true }, deps());
    const after = await startAgentTask({ ...scope, kind: "fix-tests", model: MODEL }, deps());
    expect(after.created).toBe(true);
  });

  it("custom: one agent step (+ the tests when a command is given), the task as input; each shape reused", async () => {
    const scope = await owner();
    const task = "Add a --verbose flag to the CLI";
    const withTests = await startAgentTask(
      { ...scope, kind: "custom", task, testCommand: "npm run test:unit", model: MODEL },
      deps(),
    );
    expect(withTests.created).toBe(true);
    const a = await getWorkflow({ userId: scope.userId, workflowId: withTests.workflowId }, deps());
    expect(a.name).toBe("Agent task");
    expect(a.definition.steps.map((step) => [step.id, step.type])).toEqual([
      ["agent", "agent"],
      ["run_tests", "command"],
    ]);
    expect(await runOf(withTests.runId)).toMatchObject({
      input: { task, test_command: "npm run test:unit" },
      version: { number: 1 },
    });

    const noTests = await startAgentTask(
      { ...scope, kind: "custom", task: "Explain the build", testCommand: "", model: MODEL },
      deps(),
    );
    expect(noTests.created).toBe(true);
    const b = await getWorkflow({ userId: scope.userId, workflowId: noTests.workflowId }, deps());
    expect(b.name).toBe("Agent task 2");
    expect(b.definition.steps.map((step) => step.id)).toEqual(["agent"]);
    expect((await runOf(noTests.runId)).input).toEqual({ task: "Explain the build" });

    const reused = await startAgentTask({ ...scope, kind: "custom", task: "Again", model: MODEL }, deps());
    expect(reused).toMatchObject({ workflowId: noTests.workflowId, created: false });
    const reusedWithTests = await startAgentTask(
      { ...scope, kind: "custom", task: "Again", testCommand: "make test", model: MODEL },
      deps(),
    );
    expect(reusedWithTests).toMatchObject({ workflowId: withTests.workflowId, created: false });
    // The fix-tests task has its own workflow.
    const fix = await startAgentTask({ ...scope, kind: "fix-tests", model: MODEL }, deps());
    expect(fix.created).toBe(true);
    expect(await db().aIWorkflow.count({ where: { projectId: scope.projectId } })).toBe(3);
  });

  it("another user's project (or a malformed id) is NOT_FOUND, and nothing is written", async () => {
    const alice = await owner();
    const bob = await owner();
    for (const projectId of [alice.projectId, "not-a-uuid"]) {
      const error = await rejection(
        startAgentTask({ userId: bob.userId, projectId, kind: "fix-tests", model: MODEL }, deps()),
      );
      expect(error.code).toBe("NOT_FOUND");
    }
    expect(await db().aIWorkflow.count({ where: { projectId: alice.projectId } })).toBe(0);
    expect(await db().workflowRun.count({ where: { userId: bob.userId } })).toBe(0);
  });

  it("bad input is BAD_REQUEST with the field: no task, a task for fix-tests, unknown kind, too long, no model", async () => {
    const scope = await owner();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ kind: "custom", model: MODEL }, "task"],
      [{ kind: "custom", task: "   ", model: MODEL }, "task"],
      [{ kind: "fix-tests", task: "also this", model: MODEL }, "task"],
      [{ kind: "refactor", model: MODEL }, "kind"],
      [{ kind: "fix-tests", testCommand: "x".repeat(1001), model: MODEL }, "testCommand"],
      [{ kind: "fix-tests", model: MODEL, budgetUsd: -1 }, "budgetUsd"],
      [{ kind: "fix-tests" }, "model"],
    ];
    for (const [fields, path] of cases) {
      const error = await rejection(
        startAgentTask({ ...scope, ...fields } as Parameters<typeof startAgentTask>[0], deps()),
      );
      expect(error.code, JSON.stringify(fields)).toBe("BAD_REQUEST");
      const issues = (error.details?.issues ?? []) as Array<{ path: string[] }>;
      expect(issues[0]?.path, JSON.stringify(fields)).toEqual([path]);
    }
    expect(await db().aIWorkflow.count({ where: { projectId: scope.projectId } })).toBe(0);
  });

  it("refuses an unknown model, a model without an API key, and a server without a sandbox", async () => {
    const scope = await owner();
    const unknown = await rejection(
      startAgentTask(
        { ...scope, kind: "fix-tests", model: "openai:no-such-model" },
        deps({ isKnownModel: (id) => id.startsWith("compat:") }),
      ),
    );
    expect(unknown).toMatchObject({ code: "BAD_REQUEST", message: expect.stringContaining("Unknown model") });

    const noKey = await rejection(
      startAgentTask(
        { ...scope, kind: "fix-tests", model: "openai:gpt-4.1-mini" },
        deps({
          listModels: async () => [
            { id: "openai:gpt-4.1-mini", label: "GPT-4.1 mini", available: false } as ModelOption,
          ],
        }),
      ),
    );
    expect(noKey).toMatchObject({ code: "BAD_REQUEST", message: expect.stringContaining("no API key") });

    const noSandbox = await rejection(
      startAgentTask(
        { ...scope, kind: "fix-tests", model: MODEL },
        deps({ sandbox: async () => ({ mode: "unavailable" }) }),
      ),
    );
    expect(noSandbox.code).toBe("SERVICE_UNAVAILABLE");
    expect(await db().aIWorkflow.count({ where: { projectId: scope.projectId } })).toBe(0);

    // The unsafe mode runs (the operator chose it, the banner says so).
    const unsafe = await startAgentTask(
      { ...scope, kind: "fix-tests", model: MODEL },
      deps({ sandbox: async () => ({ mode: "unsafe" }) }),
    );
    expect(unsafe.created).toBe(true);
  });
});
