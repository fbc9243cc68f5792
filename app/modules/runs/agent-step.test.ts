/**
 * The workflow `agent` step end to end on this machine: a scripted model (the mock provider, text-action
 * protocol of an OpenAI-compatible model without tool calling) runs the tests in the sandbox, reads the code,
 * edits it, runs the tests again and finishes; the engine streams tool calls and command output, checkpoints
 * the loop, and stores what changed as a ChangeSet — the project itself is untouched.
 */
import { describe, expect, it } from "vitest";
import { listRunChangeSets } from "#app/modules/agent/index.server.ts";
import { createFile, createProject, createUser, createWorkflow } from "#tests/factories/index.ts";
import { rejection } from "#tests/setup/assertions.ts";
import { setupTestDatabase } from "#tests/setup/database.ts";
import { setupEngineHarness } from "#tests/setup/engine.ts";
import { executeRun } from "./engine.server.ts";
import { createRun } from "./runs.server.ts";

const database = setupTestDatabase();
const db = () => database.db;
const engine = setupEngineHarness(database, { sandbox: true });
const deps = () => engine.deps();

const MATH = "module.exports.add = (a, b) => a - b;\n";
const TEST =
  "const { add } = require('./math.js');\n" +
  "if (add(2, 3) !== 5) { console.error('add(2, 3) should be 5, got ' + add(2, 3)); process.exit(1); }\n" +
  "console.log('ok');\n";

const action = (tool: string, input: Record<string, unknown>, before = "") => ({
  reply: `${before}\`\`\`action\n${JSON.stringify({ tool, input })}\n\`\`\``,
});

describe("agent steps", () => {
  it("fix a failing test in the sandbox: tool calls and output stream, the change is a ChangeSet", async () => {
    engine.mock.script("fix-add", [
      action("run_command", { command: "node test.js" }, "First, the tests.\n"),
      action("read_file", { path: "math.js" }),
      action("edit_file", { path: "math.js", old_text: "a - b", new_text: "a + b" }),
      action("run_command", { command: "node test.js" }),
      action("finish", { summary: "add() subtracted; it adds now and the test passes." }),
    ]);
    const user = await createUser(db());
    const project = await createProject(db(), { userId: user.id });
    await createFile(db(), { userId: user.id, projectId: project.id, path: "math.js", content: MATH });
    await createFile(db(), { userId: user.id, projectId: project.id, path: "test.js", content: TEST });
    const { workflow } = await createWorkflow(db(), {
      userId: user.id,
      projectId: project.id,
      definition: {
        inputs: { task: { type: "string" } },
        steps: [
          { id: "fix", type: "agent", model: "compat:mock/script:fix-add", instructions: "{{inputs.task}}" },
        ],
      },
    });
    const { runId } = await createRun(
      { userId: user.id, workflowId: workflow.id, input: { task: "Make the tests pass" } },
      { db: db() },
    );

    expect(await executeRun(runId, deps())).toBe("succeeded");

    const run = await db().workflowRun.findUniqueOrThrow({ where: { id: runId } });
    expect(run.output).toMatchObject({
      stopReason: "finished",
      summary: "add() subtracted; it adds now and the test passes.",
      turns: 5,
      files: [{ path: "math.js", status: "modified", additions: 1, deletions: 1 }],
    });
    const changeSet = await db().changeSet.findFirstOrThrow({ where: { runId } });
    expect((run.output as { changeSetId: string }).changeSetId).toBe(changeSet.id);
    expect(changeSet).toMatchObject({ userId: user.id, projectId: project.id, status: "pending" });
    expect(changeSet.diff).toContain("-module.exports.add = (a, b) => a - b;");
    expect(changeSet.diff).toContain("+module.exports.add = (a, b) => a + b;");
    // The project changes only when the change set is reviewed and applied.
    const file = await db().codeSnippet.findFirstOrThrow({
      where: { projectId: project.id, path: "math.js" },
    });
    expect(file.content).toBe(MATH);

    const stored = await db().runEvent.findMany({ where: { runId }, orderBy: { seq: "asc" } });
    const calls = stored.filter((e) => e.type === "tool_call").map((e) => (e.data as { name: string }).name);
    expect(calls).toEqual(["run_command", "read_file", "edit_file", "run_command", "finish"]);
    const output = stored
      .filter((e) => e.type === "output")
      .map((e) => (e.data as { text: string }).text)
      .join("");
    expect(output).toContain("add(2, 3) should be 5, got -1");
    expect(output).toContain("ok\n");
    const results = stored
      .filter((e) => e.type === "tool_result")
      .map((e) => e.data as { isError?: boolean });
    expect(results.map((r) => r.isError ?? false)).toEqual([true, false, false, false, false]);
    const usage = stored.filter((e) => e.type === "usage");
    expect(usage).toHaveLength(5);
    expect(stored.map((e) => e.seq)).toEqual(stored.map((_, i) => i + 1));

    // The API's view of it: per file and per hunk, for review; another user's caller sees no such run.
    const [view, ...others] = await listRunChangeSets({ userId: user.id, runId }, { db: db() });
    expect(others).toEqual([]);
    expect(view).toMatchObject({
      id: changeSet.id,
      status: "pending",
      summary: "add() subtracted; it adds now and the test passes.",
      files: [
        {
          path: "math.js",
          status: "modified",
          baseVersion: 1,
          binary: false,
          additions: 1,
          deletions: 1,
          hunks: [{ index: 0, status: "pending" }],
        },
      ],
    });
    expect(view?.files[0]?.diff).toContain("+module.exports.add = (a, b) => a + b;");
    const stranger = await createUser(db());
    expect(await rejection(listRunChangeSets({ userId: stranger.id, runId }, { db: db() }))).toMatchObject({
      code: "NOT_FOUND",
    });

    // The loop's state was checkpointed on the step, and every model call is in the ledger.
    const step = await db().stepRun.findFirstOrThrow({ where: { runId, stepId: "fix" } });
    expect(step.transcript).toMatchObject({ version: 1, turns: 5, outcome: { stopReason: "finished" } });
    expect(await db().aiCall.count({ where: { runId } })).toBe(5);
  });

  it("an agent that hits its turn limit fails the step, and its partial work is still a ChangeSet", async () => {
    engine.mock.script("wander", [
      action("write_file", { path: "notes.md", content: "thinking\n" }),
      action("list_files", {}),
      action("list_files", {}),
    ]);
    const user = await createUser(db());
    const project = await createProject(db(), { userId: user.id });
    const { workflow } = await createWorkflow(db(), {
      userId: user.id,
      projectId: project.id,
      definition: {
        steps: [
          { id: "fix", type: "agent", model: "compat:mock/script:wander", instructions: "Go", maxTurns: 2 },
        ],
      },
    });
    const { runId } = await createRun({ userId: user.id, workflowId: workflow.id, input: {} }, { db: db() });
    expect(await executeRun(runId, deps())).toBe("failed");
    const run = await db().workflowRun.findUniqueOrThrow({ where: { id: runId } });
    expect(run.error).toMatchObject({ code: "AGENT_MAX_TURNS", stepId: "fix" });
    const changeSet = await db().changeSet.findFirstOrThrow({ where: { runId } });
    expect(changeSet.diff).toContain("+thinking");
  });
});
