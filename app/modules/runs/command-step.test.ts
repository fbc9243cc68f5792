/**
 * The workflow `command` step in the real sandbox (bubblewrap): the project's files materialised once per run
 * and shared by its command steps, output streamed as `output` events, exit codes, the workspace removed at
 * the end, and the project itself untouched.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { Prisma } from "#app/db/client.server.ts";
import { createFile, createProject, createUser, createWorkflow } from "#tests/factories/index.ts";
import { setupTestDatabase } from "#tests/setup/database.ts";
import { setupEngineHarness } from "#tests/setup/engine.ts";
import { executeRun } from "./engine.server.ts";
import { createRun } from "./runs.server.ts";

const database = setupTestDatabase();
const db = () => database.db;
const engine = setupEngineHarness(database, { sandbox: true });
const deps = () => engine.deps();
const workspacesDir = () => engine.deps().sandbox?.workspacesDir ?? "";

async function runOf(definition: Prisma.InputJsonValue) {
  const user = await createUser(db());
  const project = await createProject(db(), { userId: user.id });
  await createFile(db(), { userId: user.id, projectId: project.id, path: "notes.md", content: "hello\n" });
  const { workflow } = await createWorkflow(db(), { userId: user.id, projectId: project.id, definition });
  const { runId } = await createRun({ userId: user.id, workflowId: workflow.id, input: {} }, { db: db() });
  return { user, project, runId };
}

const eventsOf = (runId: string) => db().runEvent.findMany({ where: { runId }, orderBy: { seq: "asc" } });

describe("command steps", () => {
  it("run in the sandbox on a copy of the project, share it within the run, stream their output", async () => {
    const { user, project, runId } = await runOf({
      steps: [
        {
          id: "edit",
          type: "command",
          run: "cat notes.md && echo to-stderr >&2 && echo changed > notes.md && pwd",
        },
        { id: "check", type: "command", run: "cat notes.md; id -u" },
        {
          id: "report",
          type: "transform",
          template: "exit {{steps.check.output.exitCode}}: {{steps.check.output.stdout}}",
        },
      ],
    });
    expect(await executeRun(runId, deps())).toBe("succeeded");
    const steps = await db().stepRun.findMany({ where: { runId }, orderBy: { index: "asc" } });
    expect(steps[0]?.output).toMatchObject({
      exitCode: 0,
      stdout: "hello\n/workspace\n",
      stderr: "to-stderr\n",
      timedOut: false,
    });
    // The second command sees the first one's edit; it runs as the sandbox's unprivileged user.
    expect(steps[1]?.output).toMatchObject({ exitCode: 0, stdout: "changed\n1000\n" });
    const run = await db().workflowRun.findUniqueOrThrow({ where: { id: runId } });
    expect(run.output).toBe("exit 0: changed\n1000\n");

    const output = (await eventsOf(runId)).filter((e) => e.type === "output");
    const streamed = (stepId: string, stream: string) =>
      output
        .filter((e) => e.stepId === stepId && (e.data as { stream: string }).stream === stream)
        .map((e) => (e.data as { text: string }).text)
        .join("");
    expect(streamed("edit", "stdout")).toBe("hello\n/workspace\n");
    expect(streamed("edit", "stderr")).toBe("to-stderr\n");
    expect(streamed("check", "stdout")).toBe("changed\n1000\n");

    // The project is untouched (a run's edits reach it only through a reviewed ChangeSet) and the
    // workspace is gone with the run.
    const file = await db().codeSnippet.findFirstOrThrow({
      where: { projectId: project.id, path: "notes.md" },
    });
    expect(file.content).toBe("hello\n");
    expect(file.userId).toBe(user.id);
    expect(existsSync(path.join(workspacesDir(), runId))).toBe(false);
  });

  it("a non-zero exit fails the step with its code, unless continueOnError", async () => {
    const failing = await runOf({ steps: [{ id: "test", type: "command", run: "echo boom; exit 3" }] });
    expect(await executeRun(failing.runId, deps())).toBe("failed");
    const run = await db().workflowRun.findUniqueOrThrow({ where: { id: failing.runId } });
    expect(run.error).toMatchObject({
      code: "COMMAND_FAILED",
      stepId: "test",
      message: 'Step "test": the command exited with code 3',
    });
    const streamed = (await eventsOf(failing.runId)).filter((e) => e.type === "output");
    expect(streamed.map((e) => (e.data as { text: string }).text).join("")).toBe("boom\n");

    const tolerant = await runOf({
      steps: [{ id: "test", type: "command", run: "exit 3", continueOnError: true }],
    });
    expect(await executeRun(tolerant.runId, deps())).toBe("succeeded");
    const done = await db().workflowRun.findUniqueOrThrow({ where: { id: tolerant.runId } });
    expect(done.output).toMatchObject({ exitCode: 3 });
  });

  it("a command past its timeout is killed and fails the step", async () => {
    const { runId } = await runOf({
      steps: [{ id: "slow", type: "command", run: "sleep 30", timeoutSeconds: 1 }],
    });
    const started = Date.now();
    expect(await executeRun(runId, deps())).toBe("failed");
    expect(Date.now() - started).toBeLessThan(10_000);
    const run = await db().workflowRun.findUniqueOrThrow({ where: { id: runId } });
    expect(run.error).toMatchObject({
      code: "COMMAND_FAILED",
      message: expect.stringContaining("timed out after 1 s"),
    });
  });
});
