import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canonicalJson } from "#app/modules/ai/cache.server.ts";
import { addCredential } from "#app/modules/ai/credentials.server.ts";
import type { Scope } from "#app/modules/auth/auth.types.ts";
import { createCallerFactory } from "#app/trpc/init.server.ts";
import { createAiCall, createProject, createRun, createUser } from "#tests/factories/index.ts";
import { type Rejection, rejection, trpcRejection } from "#tests/setup/assertions.ts";
import { setupTestDatabase } from "#tests/setup/database.ts";
import {
  apiCall,
  apiErrorOf,
  sessionPrincipal,
  signupViaApi,
  startTestServer,
  type TestServer,
  testContext,
} from "#tests/setup/http-server.ts";
import { WORKFLOW_TEMPLATES } from "./starter-templates.ts";
import { DEMO_MODEL_ID, defaultTemplateModel, workflowsRouter } from "./workflows.router.server.ts";
import {
  archiveWorkflow,
  createWorkflow,
  createWorkflowFromTemplate,
  deleteWorkflow,
  diffVersions,
  formatIssuePath,
  getVersion,
  getWorkflow,
  listVersions,
  listWorkflows,
  listWorkflowTemplates,
  restoreVersion,
  summariseChanges,
  unarchiveWorkflow,
  updateWorkflow,
} from "./workflows.server.ts";

const database = setupTestDatabase();
const deps = () => ({ db: database.db });
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** Two steps, one input; the shape a user would send (defaults left out). */
const DEFINITION = {
  inputs: { task: { type: "string" } },
  steps: [
    { id: "plan", type: "llm", model: "openai:gpt-4.1-mini", prompt: "Plan: {{inputs.task}}" },
    { id: "check", type: "command", run: "npm test" },
  ],
};

/** DEFINITION as the validator completes it. */
const VALIDATED = {
  version: 1,
  inputs: { task: { type: "string" } },
  steps: [
    {
      id: "plan",
      type: "llm",
      model: "openai:gpt-4.1-mini",
      prompt: "Plan: {{inputs.task}}",
      output: "text",
    },
    { id: "check", type: "command", run: "npm test", timeoutSeconds: 300, continueOnError: false },
  ],
};

/** Three problems: an empty prompt, a duplicate id, an undeclared input. */
const BROKEN = {
  steps: [
    { id: "plan", type: "llm", model: "openai:gpt-4.1-mini", prompt: "" },
    { id: "plan", type: "command", run: "echo {{inputs.nope}}" },
  ],
};

/** DEFINITION with another prompt, a step added and the input changed. */
function edited(prompt: string) {
  return {
    inputs: { task: { type: "text" } },
    steps: [
      { id: "plan", type: "llm", model: "openai:gpt-4.1-mini", prompt },
      { id: "check", type: "command", run: "npm test" },
      { id: "report", type: "transform", template: "{{inputs.task}}: {{steps.plan.output}}" },
    ],
  };
}

async function owner() {
  const user = await createUser(database.db);
  const project = await createProject(database.db, { userId: user.id });
  return { user, project };
}

describe("createWorkflow", () => {
  it("creates version 1 with the validated definition and the sha256 of its canonical JSON", async () => {
    const { user, project } = await owner();
    const at = new Date("2025-05-01T10:00:00Z");
    const workflow = await createWorkflow(
      {
        userId: user.id,
        projectId: project.id,
        name: "  Plan and check ",
        description: " Plans, then tests ",
        definition: DEFINITION,
      },
      { ...deps(), now: () => at },
    );
    expect(workflow).toMatchObject({
      projectId: project.id,
      name: "Plan and check",
      description: "Plans, then tests",
      latestVersion: 1,
      archivedAt: null,
      createdAt: at,
      updatedAt: at,
      definition: VALIDATED,
      version: { number: 1, note: null, createdAt: at, hash: sha256(canonicalJson(VALIDATED)) },
      warnings: [],
    });
    const rows = await database.db.workflowVersion.findMany({ where: { workflowId: workflow.id } });
    expect(rows).toEqual([
      expect.objectContaining({
        userId: user.id,
        number: 1,
        definition: VALIDATED,
        hash: workflow.version.hash,
      }),
    ]);
  });

  it("keeps inputs in the order they were declared (the run form's order)", async () => {
    const user = await createUser(database.db);
    const project = await createProject(database.db, { userId: user.id });
    const definition = {
      // jsonb would answer zeta, alpha, middle_name (shorter keys first).
      inputs: { middle_name: { type: "text" }, zeta: { type: "string" }, alpha: { type: "number" } },
      steps: [
        {
          id: "use",
          type: "transform",
          template: "{{inputs.zeta}} {{inputs.alpha}} {{inputs.middle_name}}",
        },
      ],
    };
    const created = await createWorkflow(
      { userId: user.id, projectId: project.id, name: "Ordered", definition },
      deps(),
    );
    const read = await getWorkflow({ userId: user.id, workflowId: created.id }, deps());
    expect(Object.keys(read.definition.inputs)).toEqual(["middle_name", "zeta", "alpha"]);
  });

  it("answers the validator's warnings (an input no step reads)", async () => {
    const { user, project } = await owner();
    const workflow = await createWorkflow(
      {
        userId: user.id,
        projectId: project.id,
        name: "Warned",
        definition: { ...DEFINITION, inputs: { ...DEFINITION.inputs, unused: { type: "string" } } },
      },
      deps(),
    );
    expect(workflow.warnings).toEqual([
      { path: ["inputs", "unused"], message: expect.stringContaining("not used") },
    ]);
  });

  it("an invalid definition is a BAD_REQUEST naming the first problem, with every issue and its path", async () => {
    const { user, project } = await owner();
    const error = await rejection(
      createWorkflow({ userId: user.id, projectId: project.id, name: "Broken", definition: BROKEN }, deps()),
    );
    expect(error.code).toBe("BAD_REQUEST");
    expect(error.message).toBe("The workflow definition has 3 problems: steps[0].prompt: Write the prompt");
    expect(error.details?.issues).toEqual([
      { path: ["steps", 0, "prompt"], message: "Write the prompt" },
      { path: ["steps", 1, "id"], message: expect.stringContaining('Duplicate step id "plan"') },
      { path: ["steps", 1, "run"], message: expect.stringContaining('"inputs.nope"') },
    ]);
    const single = await rejection(
      createWorkflow({ userId: user.id, projectId: project.id, name: "Text", definition: "steps" }, deps()),
    );
    expect(single.message).toBe("The workflow definition has 1 problem: Expected an object, got a string");
    expect(await database.db.aIWorkflow.count({ where: { projectId: project.id } })).toBe(0);
  });

  it("checks models with isKnownModel when given", async () => {
    const { user, project } = await owner();
    const error = await rejection(
      createWorkflow(
        { userId: user.id, projectId: project.id, name: "Model", definition: DEFINITION },
        { ...deps(), isKnownModel: (id) => id !== "openai:gpt-4.1-mini" },
      ),
    );
    expect(error).toMatchObject({
      code: "BAD_REQUEST",
      details: { issues: [{ path: ["steps", 0, "model"], message: 'Unknown model "openai:gpt-4.1-mini"' }] },
    });
  });

  it("refuses an empty or overlong name and an overlong description", async () => {
    const { user, project } = await owner();
    for (const fields of [
      { name: "  " },
      { name: "n".repeat(101) },
      { name: "ok", description: "d".repeat(2001) },
    ]) {
      const error = await rejection(
        createWorkflow({ userId: user.id, projectId: project.id, definition: DEFINITION, ...fields }, deps()),
      );
      expect(error.code).toBe("BAD_REQUEST");
    }
    expect(await database.db.aIWorkflow.count({ where: { projectId: project.id } })).toBe(0);
  });

  it("names are unique per project among live workflows, without case", async () => {
    const { user, project } = await owner();
    const other = await createProject(database.db, { userId: user.id });
    const first = await createWorkflow(
      { userId: user.id, projectId: project.id, name: "Deploy", definition: DEFINITION },
      deps(),
    );
    const clash = await rejection(
      createWorkflow(
        { userId: user.id, projectId: project.id, name: "deploy ", definition: DEFINITION },
        deps(),
      ),
    );
    expect(clash).toMatchObject({ code: "CONFLICT", details: { workflowId: first.id } });
    expect(clash.message).toContain('"Deploy" already exists in this project');
    // Another project may use it; an archived workflow frees it.
    await createWorkflow(
      { userId: user.id, projectId: other.id, name: "Deploy", definition: DEFINITION },
      deps(),
    );
    await archiveWorkflow({ userId: user.id, workflowId: first.id }, deps());
    const again = await createWorkflow(
      { userId: user.id, projectId: project.id, name: "DEPLOY", definition: DEFINITION },
      deps(),
    );
    expect(again.name).toBe("DEPLOY");
  });

  it("concurrent creates of one name: exactly one wins", async () => {
    const { user, project } = await owner();
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, () =>
        createWorkflow(
          { userId: user.id, projectId: project.id, name: "Race", definition: DEFINITION },
          deps(),
        ),
      ),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of results)
      if (r.status === "rejected") expect((r.reason as Rejection).code).toBe("CONFLICT");
    expect(await database.db.aIWorkflow.count({ where: { projectId: project.id } })).toBe(1);
  });

  it("another user's project, or a malformed id, is NOT_FOUND and gets nothing", async () => {
    const { project } = await owner();
    const stranger = await createUser(database.db);
    for (const projectId of [project.id, "not-a-uuid"]) {
      const error = await rejection(
        createWorkflow({ userId: stranger.id, projectId, name: "Mine", definition: DEFINITION }, deps()),
      );
      expect(error.code).toBe("NOT_FOUND");
    }
    expect(await database.db.aIWorkflow.count({ where: { projectId: project.id } })).toBe(0);
  });
});

describe("updateWorkflow", () => {
  it("a changed definition makes a new version; the same one (any key order, defaults or not) makes none", async () => {
    const { user, project } = await owner();
    const day = (d: number) => ({ ...deps(), now: () => new Date(Date.UTC(2025, 0, d)) });
    const workflow = await createWorkflow(
      { userId: user.id, projectId: project.id, name: "Evolving", definition: DEFINITION },
      day(1),
    );

    const v2 = await updateWorkflow(
      {
        userId: user.id,
        workflowId: workflow.id,
        definition: edited("Plan better: {{inputs.task}}"),
        note: " Better ",
      },
      day(2),
    );
    expect(v2).toMatchObject({
      latestVersion: 2,
      updatedAt: new Date(Date.UTC(2025, 0, 2)),
      version: { number: 2, note: "Better", createdAt: new Date(Date.UTC(2025, 0, 2)) },
      definition: { steps: [{ prompt: "Plan better: {{inputs.task}}" }, { id: "check" }, { id: "report" }] },
    });

    // The same definition, written differently: key order, defaults spelled out.
    const same = edited("Plan better: {{inputs.task}}");
    const reordered = {
      steps: same.steps.map((step) => Object.fromEntries(Object.entries(step).reverse())),
      version: 1,
      inputs: same.inputs,
    };
    reordered.steps[1] = { ...reordered.steps[1], timeoutSeconds: 300, continueOnError: false };
    const unchanged = await updateWorkflow(
      { userId: user.id, workflowId: workflow.id, definition: reordered, note: "ignored" },
      day(3),
    );
    expect(unchanged).toMatchObject({ latestVersion: 2, updatedAt: new Date(Date.UTC(2025, 0, 2)) });

    const renamed = await updateWorkflow(
      { userId: user.id, workflowId: workflow.id, name: "Evolved", description: "now described" },
      day(4),
    );
    expect(renamed).toMatchObject({
      name: "Evolved",
      description: "now described",
      latestVersion: 2,
      updatedAt: new Date(Date.UTC(2025, 0, 4)),
    });
    const cleared = await updateWorkflow(
      { userId: user.id, workflowId: workflow.id, description: null },
      day(5),
    );
    expect(cleared.description).toBeNull();
    expect(await database.db.workflowVersion.count({ where: { workflowId: workflow.id } })).toBe(2);
    // Version 1 is untouched.
    expect(
      (await getVersion({ userId: user.id, workflowId: workflow.id, number: 1 }, deps())).definition,
    ).toEqual(VALIDATED);
  });

  it("baseVersion: CONFLICT with the latest version when someone saved in between; nothing changes", async () => {
    const { user, project } = await owner();
    const workflow = await createWorkflow(
      { userId: user.id, projectId: project.id, name: "Shared", definition: DEFINITION },
      deps(),
    );
    await updateWorkflow(
      { userId: user.id, workflowId: workflow.id, definition: edited("mine"), baseVersion: 1 },
      deps(),
    );
    const stale = await rejection(
      updateWorkflow(
        {
          userId: user.id,
          workflowId: workflow.id,
          name: "Theirs",
          definition: edited("theirs"),
          baseVersion: 1,
        },
        deps(),
      ),
    );
    expect(stale).toMatchObject({ code: "CONFLICT", details: { latestVersion: 2 } });
    expect(await getWorkflow({ userId: user.id, workflowId: workflow.id }, deps())).toMatchObject({
      name: "Shared",
      latestVersion: 2,
      definition: { steps: [{ prompt: "mine" }, {}, {}] },
    });
  });

  it("5 concurrent saves of different definitions get versions 2..6, no gaps, no duplicates", async () => {
    const { user, project } = await owner();
    const workflow = await createWorkflow(
      { userId: user.id, projectId: project.id, name: "Busy", definition: DEFINITION },
      deps(),
    );
    const results = await Promise.all(
      [1, 2, 3, 4, 5].map((n) =>
        updateWorkflow(
          { userId: user.id, workflowId: workflow.id, definition: edited(`Prompt ${n}`) },
          deps(),
        ),
      ),
    );
    expect(results.map((r) => r.latestVersion).sort()).toEqual([2, 3, 4, 5, 6]);
    const versions = await listVersions({ userId: user.id, workflowId: workflow.id }, deps());
    expect(versions.map((v) => v.number)).toEqual([6, 5, 4, 3, 2, 1]);
    const prompts = await database.db.workflowVersion.findMany({
      where: { workflowId: workflow.id, number: { gt: 1 } },
      select: { definition: true },
    });
    expect(prompts.map((p) => (p.definition as typeof VALIDATED).steps[0]?.prompt).sort()).toEqual([
      "Prompt 1",
      "Prompt 2",
      "Prompt 3",
      "Prompt 4",
      "Prompt 5",
    ]);
    expect((await getWorkflow({ userId: user.id, workflowId: workflow.id }, deps())).latestVersion).toBe(6);
  });

  it("an invalid definition is refused with its issues, and the rename with it", async () => {
    const { user, project } = await owner();
    const workflow = await createWorkflow(
      { userId: user.id, projectId: project.id, name: "Fine", definition: DEFINITION },
      deps(),
    );
    const error = await rejection(
      updateWorkflow(
        { userId: user.id, workflowId: workflow.id, name: "Renamed", definition: BROKEN },
        deps(),
      ),
    );
    expect(error).toMatchObject({ code: "BAD_REQUEST", details: { issues: expect.any(Array) } });
    expect(await getWorkflow({ userId: user.id, workflowId: workflow.id }, deps())).toMatchObject({
      name: "Fine",
      latestVersion: 1,
    });
  });

  it("rename onto a live name is a CONFLICT; archive frees the name; unarchive into a taken name is a CONFLICT", async () => {
    const { user, project } = await owner();
    const a = await createWorkflow(
      { userId: user.id, projectId: project.id, name: "A", definition: DEFINITION },
      deps(),
    );
    const b = await createWorkflow(
      { userId: user.id, projectId: project.id, name: "B", definition: DEFINITION },
      deps(),
    );
    expect(
      (await rejection(updateWorkflow({ userId: user.id, workflowId: b.id, name: "a" }, deps()))).code,
    ).toBe("CONFLICT");
    // Its own name in another case is fine.
    expect((await updateWorkflow({ userId: user.id, workflowId: b.id, name: "b" }, deps())).name).toBe("b");

    const at = new Date("2025-06-01T00:00:00Z");
    const archived = await archiveWorkflow(
      { userId: user.id, workflowId: a.id },
      { ...deps(), now: () => at },
    );
    expect(archived.archivedAt).toEqual(at);
    // Archiving again keeps the first date.
    expect((await archiveWorkflow({ userId: user.id, workflowId: a.id }, deps())).archivedAt).toEqual(at);
    await updateWorkflow({ userId: user.id, workflowId: b.id, name: "A" }, deps());

    const back = await rejection(unarchiveWorkflow({ userId: user.id, workflowId: a.id }, deps()));
    expect(back).toMatchObject({ code: "CONFLICT", details: { workflowId: b.id } });
    // Renamed while archived, it can come back.
    const restored = await updateWorkflow(
      { userId: user.id, workflowId: a.id, name: "A (old)", archived: false },
      deps(),
    );
    expect(restored).toMatchObject({ name: "A (old)", archivedAt: null });
  });

  it("another user's workflow (or a malformed id) is NOT_FOUND and untouched", async () => {
    const { user, project } = await owner();
    const stranger = await createUser(database.db);
    const workflow = await createWorkflow(
      { userId: user.id, projectId: project.id, name: "Private", definition: DEFINITION },
      deps(),
    );
    for (const workflowId of [workflow.id, "nope"]) {
      const error = await rejection(
        updateWorkflow({ userId: stranger.id, workflowId, name: "Stolen", definition: edited("x") }, deps()),
      );
      expect(error.code).toBe("NOT_FOUND");
    }
    expect(await getWorkflow({ userId: user.id, workflowId: workflow.id }, deps())).toMatchObject({
      name: "Private",
      latestVersion: 1,
    });
  });
});

describe("listWorkflows", () => {
  it("latest change first, with step count and types of the latest version and the newest run", async () => {
    const { user, project } = await owner();
    const day = (d: number) => ({ ...deps(), now: () => new Date(Date.UTC(2025, 1, d)) });
    const first = await createWorkflow(
      { userId: user.id, projectId: project.id, name: "First", definition: DEFINITION },
      day(1),
    );
    const second = await createWorkflow(
      { userId: user.id, projectId: project.id, name: "Second", definition: DEFINITION },
      day(2),
    );
    const gone = await createWorkflow(
      { userId: user.id, projectId: project.id, name: "Gone", definition: DEFINITION },
      day(3),
    );
    await archiveWorkflow({ userId: user.id, workflowId: gone.id }, day(4));
    await updateWorkflow({ userId: user.id, workflowId: first.id, definition: edited("v2") }, day(5));
    const older = await createRun(database.db, {
      userId: user.id,
      projectId: project.id,
      workflowId: first.id,
      workflowVersionId: first.version.id,
      status: "succeeded",
      createdAt: new Date(Date.UTC(2025, 1, 6)),
      finishedAt: new Date(Date.UTC(2025, 1, 6, 0, 1)),
    });
    const newer = await createRun(database.db, {
      userId: user.id,
      projectId: project.id,
      workflowId: first.id,
      workflowVersionId: first.version.id,
      status: "running",
      createdAt: new Date(Date.UTC(2025, 1, 7)),
    });
    expect(older.id).not.toBe(newer.id);

    const list = await listWorkflows({ userId: user.id, projectId: project.id }, deps());
    expect(list.map((w) => w.name)).toEqual(["First", "Second"]);
    expect(list[0]).toMatchObject({
      id: first.id,
      latestVersion: 2,
      stepCount: 3,
      stepTypes: ["llm", "command", "transform"],
      lastRun: {
        id: newer.id,
        status: "running",
        createdAt: new Date(Date.UTC(2025, 1, 7)),
        finishedAt: null,
      },
    });
    expect(list[1]).toMatchObject({
      id: second.id,
      stepCount: 2,
      stepTypes: ["llm", "command"],
      lastRun: null,
    });
    expect(list[0]).not.toHaveProperty("definition");

    const all = await listWorkflows(
      { userId: user.id, projectId: project.id, includeArchived: true },
      deps(),
    );
    expect(all.map((w) => w.name).sort()).toEqual(["First", "Gone", "Second"]);
    expect(all.find((w) => w.id === gone.id)?.archivedAt).toEqual(new Date(Date.UTC(2025, 1, 4)));
  });

  it("another user's project is NOT_FOUND; an empty project lists nothing", async () => {
    const { user, project } = await owner();
    const stranger = await createUser(database.db);
    await createWorkflow(
      { userId: user.id, projectId: project.id, name: "W", definition: DEFINITION },
      deps(),
    );
    expect(
      (await rejection(listWorkflows({ userId: stranger.id, projectId: project.id }, deps()))).code,
    ).toBe("NOT_FOUND");
    const empty = await createProject(database.db, { userId: user.id });
    expect(await listWorkflows({ userId: user.id, projectId: empty.id }, deps())).toEqual([]);
  });
});

describe("getWorkflow, listVersions, getVersion", () => {
  it("the latest version or the one asked for; warnings are today's (a model no longer known)", async () => {
    const { user, project } = await owner();
    const workflow = await createWorkflow(
      { userId: user.id, projectId: project.id, name: "Read", definition: DEFINITION },
      deps(),
    );
    await updateWorkflow({ userId: user.id, workflowId: workflow.id, definition: edited("v2") }, deps());

    const latest = await getWorkflow({ userId: user.id, workflowId: workflow.id }, deps());
    expect(latest).toMatchObject({ latestVersion: 2, version: { number: 2 }, warnings: [] });
    expect(latest.definition.steps).toHaveLength(3);
    const v1 = await getWorkflow({ userId: user.id, workflowId: workflow.id, version: 1 }, deps());
    expect(v1).toMatchObject({ latestVersion: 2, version: { number: 1 }, definition: VALIDATED });
    expect(
      (await rejection(getWorkflow({ userId: user.id, workflowId: workflow.id, version: 3 }, deps())))
        .message,
    ).toBe("Workflow version 3 not found");

    const gone = await getWorkflow(
      { userId: user.id, workflowId: workflow.id },
      { ...deps(), isKnownModel: () => false },
    );
    expect(gone.warnings).toEqual([
      { path: ["steps", 0, "model"], message: 'Unknown model "openai:gpt-4.1-mini"' },
    ]);
  });

  it("versions newest first with hash, note, step count and runs pinned to each", async () => {
    const { user, project } = await owner();
    const workflow = await createWorkflow(
      { userId: user.id, projectId: project.id, name: "History", definition: DEFINITION },
      deps(),
    );
    const v2 = await updateWorkflow(
      { userId: user.id, workflowId: workflow.id, definition: edited("v2"), note: "third step" },
      deps(),
    );
    const run = (workflowVersionId: string) =>
      createRun(database.db, {
        userId: user.id,
        projectId: project.id,
        workflowId: workflow.id,
        workflowVersionId,
        status: "succeeded",
      });
    await run(workflow.version.id);
    await run(v2.version.id);
    await run(v2.version.id);

    const versions = await listVersions({ userId: user.id, workflowId: workflow.id }, deps());
    expect(versions).toEqual([
      {
        id: v2.version.id,
        number: 2,
        hash: v2.version.hash,
        note: "third step",
        createdAt: v2.version.createdAt,
        stepCount: 3,
        runCount: 2,
      },
      {
        id: workflow.version.id,
        number: 1,
        hash: sha256(canonicalJson(VALIDATED)),
        note: null,
        createdAt: workflow.version.createdAt,
        stepCount: 2,
        runCount: 1,
      },
    ]);

    const detail = await getVersion({ userId: user.id, workflowId: workflow.id, number: 2 }, deps());
    expect(detail).toMatchObject({ number: 2, note: "third step", stepCount: 3, runCount: 2 });
    expect(detail.definition.steps.map((s) => s.id)).toEqual(["plan", "check", "report"]);
    expect(
      (await rejection(getVersion({ userId: user.id, workflowId: workflow.id, number: 9 }, deps()))).code,
    ).toBe("NOT_FOUND");
    expect(
      (await rejection(getVersion({ userId: user.id, workflowId: workflow.id, number: 0 }, deps()))).code,
    ).toBe("BAD_REQUEST");
  });

  it("another user's workflow is NOT_FOUND on every read", async () => {
    const { user, project } = await owner();
    const stranger = await createUser(database.db);
    const workflow = await createWorkflow(
      { userId: user.id, projectId: project.id, name: "Mine", definition: DEFINITION },
      deps(),
    );
    const workflowId = workflow.id;
    for (const call of [
      () => getWorkflow({ userId: stranger.id, workflowId }, deps()),
      () => listVersions({ userId: stranger.id, workflowId }, deps()),
      () => getVersion({ userId: stranger.id, workflowId, number: 1 }, deps()),
      () => diffVersions({ userId: stranger.id, workflowId, from: 1, to: 1 }, deps()),
    ]) {
      expect((await rejection(call())).code).toBe("NOT_FOUND");
    }
  });
});

describe("diffVersions", () => {
  it("a unified diff of the JSON and a summary by step id", async () => {
    const { user, project } = await owner();
    const workflow = await createWorkflow(
      { userId: user.id, projectId: project.id, name: "Diffed", definition: DEFINITION },
      deps(),
    );
    await updateWorkflow(
      {
        userId: user.id,
        workflowId: workflow.id,
        definition: {
          inputs: DEFINITION.inputs,
          steps: [
            { id: "check", type: "command", run: "npm test -- --run" },
            { id: "lint", type: "command", run: "npm run lint" },
          ],
        },
      },
      deps(),
    );
    const diff = await diffVersions({ userId: user.id, workflowId: workflow.id, from: 1, to: 2 }, deps());
    expect(diff.from).toBe(1);
    expect(diff.to).toBe(2);
    expect(diff.summary).toEqual({
      added: ["lint"],
      removed: ["plan"],
      changed: ["check"],
      inputsChanged: false,
      reordered: false,
    });
    expect(diff.patch).toContain("--- a/workflow.json\tversion 1");
    expect(diff.patch).toContain("+++ b/workflow.json\tversion 2");
    expect(diff.patch).toContain('-      "run": "npm test",');
    expect(diff.patch).toContain('+      "run": "npm test -- --run",');
    expect(diff.patch).toContain('-      "prompt": "Plan: {{inputs.task}}",');

    const back = await diffVersions({ userId: user.id, workflowId: workflow.id, from: 2, to: 1 }, deps());
    expect(back.summary).toMatchObject({ added: ["plan"], removed: ["lint"], changed: ["check"] });
    const none = await diffVersions({ userId: user.id, workflowId: workflow.id, from: 2, to: 2 }, deps());
    expect(none.summary).toEqual({
      added: [],
      removed: [],
      changed: [],
      inputsChanged: false,
      reordered: false,
    });
    expect(none.patch).not.toContain("@@");
    expect(
      (await rejection(diffVersions({ userId: user.id, workflowId: workflow.id, from: 1, to: 7 }, deps())))
        .code,
    ).toBe("NOT_FOUND");
  });

  it("summariseChanges: inputs and order", () => {
    const a = {
      version: 1 as const,
      inputs: { x: { type: "string" as const } },
      steps: VALIDATED.steps,
    } as never;
    const b = {
      version: 1,
      inputs: { x: { type: "string", label: "X" } },
      steps: [...VALIDATED.steps].reverse(),
    } as never;
    expect(summariseChanges(a, b)).toEqual({
      added: [],
      removed: [],
      changed: [],
      inputsChanged: true,
      reordered: true,
    });
  });

  it("formatIssuePath", () => {
    expect(formatIssuePath(["steps", 1, "prompt"])).toBe("steps[1].prompt");
    expect(formatIssuePath(["inputs", "task", "enum", 0])).toBe("inputs.task.enum[0]");
    expect(formatIssuePath(["inputs", "bad name"])).toBe('inputs["bad name"]');
    expect(formatIssuePath([])).toBe("");
  });
});

describe("restoreVersion", () => {
  it("appends the old definition as a new version with a note; restoring the current one is a no-op", async () => {
    const { user, project } = await owner();
    const workflow = await createWorkflow(
      { userId: user.id, projectId: project.id, name: "Restored", definition: DEFINITION },
      deps(),
    );
    await updateWorkflow({ userId: user.id, workflowId: workflow.id, definition: edited("v2") }, deps());
    const restored = await restoreVersion({ userId: user.id, workflowId: workflow.id, number: 1 }, deps());
    expect(restored).toMatchObject({
      latestVersion: 3,
      version: { number: 3, note: "Restored from version 1", hash: workflow.version.hash },
      definition: VALIDATED,
    });
    const noop = await restoreVersion({ userId: user.id, workflowId: workflow.id, number: 1 }, deps());
    expect(noop).toMatchObject({ latestVersion: 3, version: { number: 3 } });
    expect(await database.db.workflowVersion.count({ where: { workflowId: workflow.id } })).toBe(3);

    const stranger = await createUser(database.db);
    expect(
      (await rejection(restoreVersion({ userId: stranger.id, workflowId: workflow.id, number: 2 }, deps())))
        .code,
    ).toBe("NOT_FOUND");
    expect(
      (await rejection(restoreVersion({ userId: user.id, workflowId: workflow.id, number: 8 }, deps()))).code,
    ).toBe("NOT_FOUND");
    expect((await getWorkflow({ userId: user.id, workflowId: workflow.id }, deps())).latestVersion).toBe(3);
  });

  it("an old version whose model is no longer known cannot be restored", async () => {
    const { user, project } = await owner();
    const workflow = await createWorkflow(
      { userId: user.id, projectId: project.id, name: "Old model", definition: DEFINITION },
      deps(),
    );
    await updateWorkflow({ userId: user.id, workflowId: workflow.id, definition: edited("v2") }, deps());
    const error = await rejection(
      restoreVersion(
        { userId: user.id, workflowId: workflow.id, number: 1 },
        { ...deps(), isKnownModel: () => false },
      ),
    );
    expect(error).toMatchObject({
      code: "BAD_REQUEST",
      details: { issues: [{ path: ["steps", 0, "model"] }] },
    });
  });
});

describe("deleteWorkflow", () => {
  it("CONFLICT while a run is queued or running; then deletes versions and runs, keeping the spend", async () => {
    const { user, project } = await owner();
    const workflow = await createWorkflow(
      { userId: user.id, projectId: project.id, name: "Doomed", definition: DEFINITION },
      deps(),
    );
    const base = {
      userId: user.id,
      projectId: project.id,
      workflowId: workflow.id,
      workflowVersionId: workflow.version.id,
    };
    const queued = await createRun(database.db, { ...base, status: "queued" });
    const running = await createRun(database.db, { ...base, status: "running" });
    const done = await createRun(database.db, { ...base, status: "succeeded" });
    const call = await createAiCall(database.db, { userId: user.id, projectId: project.id, runId: done.id });

    const busy = await rejection(deleteWorkflow({ userId: user.id, workflowId: workflow.id }, deps()));
    expect(busy).toMatchObject({ code: "CONFLICT", details: { activeRuns: 2 } });
    await database.db.workflowRun.update({ where: { id: queued.id }, data: { status: "cancelled" } });
    expect(
      (await rejection(deleteWorkflow({ userId: user.id, workflowId: workflow.id }, deps()))).details,
    ).toEqual({ activeRuns: 1 });
    await database.db.workflowRun.update({ where: { id: running.id }, data: { status: "failed" } });

    const stranger = await createUser(database.db);
    expect(
      (await rejection(deleteWorkflow({ userId: stranger.id, workflowId: workflow.id }, deps()))).code,
    ).toBe("NOT_FOUND");
    expect(await deleteWorkflow({ userId: user.id, workflowId: workflow.id }, deps())).toEqual({ ok: true });
    expect(await database.db.aIWorkflow.count({ where: { id: workflow.id } })).toBe(0);
    expect(await database.db.workflowVersion.count({ where: { workflowId: workflow.id } })).toBe(0);
    expect(await database.db.workflowRun.count({ where: { workflowId: workflow.id } })).toBe(0);
    const kept = await database.db.aiCall.findUniqueOrThrow({ where: { id: call.id } });
    expect(kept).toMatchObject({ runId: null, projectId: project.id, costMicros: 1_000n });
    expect((await rejection(getWorkflow({ userId: user.id, workflowId: workflow.id }, deps()))).code).toBe(
      "NOT_FOUND",
    );
    expect((await rejection(deleteWorkflow({ userId: user.id, workflowId: workflow.id }, deps()))).code).toBe(
      "NOT_FOUND",
    );
  });
});

describe("templates", () => {
  it("lists the starter templates, each a valid definition", () => {
    const templates = listWorkflowTemplates();
    expect(templates.length).toBe(WORKFLOW_TEMPLATES.length);
    expect(templates.length).toBeGreaterThan(0);
    for (const template of templates) {
      expect(template).toMatchObject({ id: expect.any(String), name: expect.any(String) });
      expect(template.stepCount).toBe(template.definition.steps.length);
    }
  });

  it("creates a workflow from a template with the given model; unnamed copies get unique names", async () => {
    const { user, project } = await owner();
    const template = WORKFLOW_TEMPLATES.find((t) =>
      t.definition.steps.some((step) => step.type === "llm" || step.type === "agent"),
    );
    if (!template) throw new Error("expected a template with a model step");
    const first = await createWorkflowFromTemplate(
      {
        userId: user.id,
        projectId: project.id,
        templateId: template.id,
        model: "anthropic:claude-sonnet-4-5",
      },
      deps(),
    );
    expect(first).toMatchObject({ name: template.name, latestVersion: 1 });
    const models = first.definition.steps.flatMap((step) =>
      step.type === "llm" || step.type === "agent" ? [step.model] : [],
    );
    expect(models.length).toBeGreaterThan(0);
    expect(new Set(models)).toEqual(new Set(["anthropic:claude-sonnet-4-5"]));

    const second = await createWorkflowFromTemplate(
      { userId: user.id, projectId: project.id, templateId: template.id },
      deps(),
    );
    expect(second.name).toBe(`${template.name} 2`);
    expect(second.definition).toEqual(
      (
        await createWorkflowFromTemplate(
          { userId: user.id, projectId: project.id, templateId: template.id, name: "Own models" },
          deps(),
        )
      ).definition,
    );
    // A name given explicitly must be free.
    expect(
      (
        await rejection(
          createWorkflowFromTemplate(
            {
              userId: user.id,
              projectId: project.id,
              templateId: template.id,
              name: template.name.toUpperCase(),
            },
            deps(),
          ),
        )
      ).code,
    ).toBe("CONFLICT");
  });

  it("an unknown template or another user's project is NOT_FOUND", async () => {
    const { user, project } = await owner();
    const stranger = await createUser(database.db);
    const templateId = WORKFLOW_TEMPLATES[0]!.id;
    expect(
      (
        await rejection(
          createWorkflowFromTemplate({ userId: user.id, projectId: project.id, templateId: "nope" }, deps()),
        )
      ).code,
    ).toBe("NOT_FOUND");
    expect(
      (
        await rejection(
          createWorkflowFromTemplate({ userId: stranger.id, projectId: project.id, templateId }, deps()),
        )
      ).code,
    ).toBe("NOT_FOUND");
    expect(await database.db.aIWorkflow.count({ where: { projectId: project.id } })).toBe(0);
  });

  it("defaultTemplateModel: first available non-demo model, else the demo, else none", async () => {
    const option = (id: string, available: boolean, demo = false) => ({ id, available, demo });
    const ctx = (models: Array<ReturnType<typeof option>>) =>
      ({ ai: { service: { listModels: async () => models } } }) as never;
    expect(
      await defaultTemplateModel(
        ctx([option("anthropic:claude-haiku-4-5", true), option(DEMO_MODEL_ID, true, true)]),
        "u",
      ),
    ).toBe("anthropic:claude-haiku-4-5");
    expect(
      await defaultTemplateModel(
        ctx([option(DEMO_MODEL_ID, true, true), option("openai:gpt-5", false)]),
        "u",
      ),
    ).toBe(DEMO_MODEL_ID);
    expect(await defaultTemplateModel(ctx([option("openai:gpt-5", false)]), "u")).toBeUndefined();
  });
});

// ─── Transports ──────────────────────────────────────────────────────────────

describe("workflowsRouter and REST", () => {
  let server: TestServer;
  let alice: Awaited<ReturnType<typeof signupViaApi>>;
  let bob: Awaited<ReturnType<typeof signupViaApi>>;
  let aliceProject: string;
  const createCaller = createCallerFactory(workflowsRouter);
  const asSession = (userId: string) => createCaller(testContext(server, sessionPrincipal(userId, "s")));
  const asKey = (userId: string, scopes: Scope[]) =>
    createCaller(
      testContext(server, {
        userId,
        kind: "api_key",
        sessionId: null,
        apiKeyId: "00000000-0000-7000-8000-000000000000",
        scopes,
        rateLimitPerMinute: null,
      }),
    );

  beforeAll(async () => {
    // The demo model on (nothing is called): templates fall back to it for a user with no provider.
    server = await startTestServer({}, { demo: { baseUrl: "http://127.0.0.1:9/v1" } });
    alice = await signupViaApi(server.base);
    bob = await signupViaApi(server.base);
    aliceProject = (await createProject(server.database.db, { userId: alice.userId, name: "Alice's" })).id;
  });
  afterAll(() => server.close());
  const call = (method: string, path: string, token: string, body?: unknown) =>
    apiCall(server.base, method, path, token, body);
  const errorOf = apiErrorOf;

  it("every procedure through createCaller", async () => {
    const api = asSession(alice.userId);
    const created = await api.create({ id: aliceProject, name: "Router", definition: DEFINITION });
    expect(created).toMatchObject({ name: "Router", latestVersion: 1, definition: VALIDATED, warnings: [] });
    const id = created.id;

    const updated = await api.update({ id, definition: edited("v2"), note: "more", baseVersion: 1 });
    expect(updated).toMatchObject({ latestVersion: 2, version: { note: "more" } });
    expect((await api.list({ id: aliceProject })).items.map((w) => w.id)).toContain(id);
    expect((await api.get({ id })).version.number).toBe(2);
    expect((await api.get({ id, version: 1 })).definition).toEqual(VALIDATED);
    expect((await api.listVersions({ id })).items.map((v) => v.number)).toEqual([2, 1]);
    expect((await api.getVersion({ id, number: 1 })).stepCount).toBe(2);
    expect((await api.diff({ id, from: 1, to: 2 })).summary).toMatchObject({
      added: ["report"],
      inputsChanged: true,
    });
    expect((await api.restoreVersion({ id, number: 1 })).latestVersion).toBe(3);
    expect((await api.update({ id, archived: true })).archivedAt).toBeInstanceOf(Date);
    expect((await api.list({ id: aliceProject })).items.map((w) => w.id)).not.toContain(id);
    expect((await api.list({ id: aliceProject, includeArchived: true })).items.map((w) => w.id)).toContain(
      id,
    );
    expect((await api.templates()).items.length).toBe(WORKFLOW_TEMPLATES.length);
    expect(await api.validate({ definition: DEFINITION })).toEqual({ ok: true, errors: [], warnings: [] });
    expect(await api.validate({ definition: BROKEN })).toMatchObject({
      ok: false,
      errors: [{ path: ["steps", 0, "prompt"] }, { path: ["steps", 1, "id"] }, { path: ["steps", 1, "run"] }],
      warnings: [],
    });
    expect(await api.delete({ id })).toEqual({ ok: true });
    expect((await trpcRejection(api.get({ id }))).code).toBe("NOT_FOUND");
  });

  it("models: the catalog's and any compat: endpoint's are known, others are a BAD_REQUEST with the path", async () => {
    const api = asSession(alice.userId);
    const withModel = (model: string) => ({
      steps: [{ id: "ask", type: "llm", model, prompt: "Hello" }],
    });
    const unknown = await trpcRejection(
      api.create({ id: aliceProject, name: "Unknown model", definition: withModel("openai:gpt-nope") }),
    );
    expect(unknown.code).toBe("BAD_REQUEST");
    expect(unknown.message).toBe(
      'The workflow definition has 1 problem: steps[0].model: Unknown model "openai:gpt-nope"',
    );
    expect((unknown.cause as { details?: unknown }).details).toEqual({
      issues: [{ path: ["steps", 0, "model"], message: 'Unknown model "openai:gpt-nope"' }],
    });
    const compat = await api.create({
      id: aliceProject,
      name: "Compat model",
      definition: withModel("compat:ollama/some-local-model"),
    });
    expect(compat.definition.steps[0]).toMatchObject({ model: "compat:ollama/some-local-model" });
    expect(await api.validate({ definition: withModel("anthropic:claude-sonnet-4-5") })).toMatchObject({
      ok: true,
    });
  });

  it("from a template: the demo model when the user has no provider, their own model once they have one", async () => {
    const template = WORKFLOW_TEMPLATES.find((t) =>
      t.definition.steps.some((step) => step.type === "llm" || step.type === "agent"),
    );
    if (!template) throw new Error("expected a template with a model step");
    const modelsOf = (view: { definition: { steps: Array<{ type: string; model?: string }> } }) =>
      new Set(
        view.definition.steps.flatMap((s) => (s.type === "llm" || s.type === "agent" ? [s.model] : [])),
      );
    const user = await signupViaApi(server.base);
    const project = await createProject(server.database.db, { userId: user.userId });
    const api = asSession(user.userId);

    const demo = await api.createFromTemplate({ id: project.id, templateId: template.id });
    expect(modelsOf(demo)).toEqual(new Set([DEMO_MODEL_ID]));

    await addCredential(
      { userId: user.userId, provider: "anthropic", name: "default", apiKey: "sk-ant-test-0001" },
      { db: server.database.db, keyring: server.ai.keyring, config: server.ai.config },
    );
    const own = await api.createFromTemplate({ id: project.id, templateId: template.id, name: "Mine" });
    const [model] = [...modelsOf(own)];
    expect(modelsOf(own).size).toBe(1);
    expect(model).toMatch(/^anthropic:/);

    const chosen = await api.createFromTemplate({
      id: project.id,
      templateId: template.id,
      name: "Chosen",
      model: "openai:gpt-4.1-mini",
    });
    expect(modelsOf(chosen)).toEqual(new Set(["openai:gpt-4.1-mini"]));
  });

  it("an API key needs workflows:read to read and workflows:write to write", async () => {
    const workflow = await asSession(alice.userId).create({
      id: aliceProject,
      name: "Scoped",
      definition: DEFINITION,
    });
    const id = workflow.id;
    const reader = asKey(alice.userId, ["workflows:read"]);
    expect((await reader.get({ id })).name).toBe("Scoped");
    expect((await reader.validate({ definition: DEFINITION })).ok).toBe(true);
    expect((await reader.list({ id: aliceProject })).items.map((w) => w.id)).toContain(id);
    for (const attempt of [
      () => reader.create({ id: aliceProject, name: "No", definition: DEFINITION }),
      () => reader.createFromTemplate({ id: aliceProject, templateId: WORKFLOW_TEMPLATES[0]!.id }),
      () => reader.update({ id, name: "Changed" }),
      () => reader.delete({ id }),
      () => reader.restoreVersion({ id, number: 1 }),
    ]) {
      expect((await trpcRejection(attempt())).code).toBe("FORBIDDEN");
    }
    const writer = asKey(alice.userId, ["workflows:write"]);
    expect((await trpcRejection(writer.get({ id }))).code).toBe("FORBIDDEN");
    expect((await writer.update({ id, definition: edited("by key") })).latestVersion).toBe(2);
    const projectsOnly = asKey(alice.userId, ["projects:read", "projects:write"]);
    expect((await trpcRejection(projectsOnly.list({ id: aliceProject }))).code).toBe("FORBIDDEN");
  });

  it("another user's workflow and project answer NOT_FOUND on every procedure and stay as they were", async () => {
    const workflow = await asSession(alice.userId).create({
      id: aliceProject,
      name: "Owned",
      definition: DEFINITION,
    });
    const id = workflow.id;
    const api = asSession(bob.userId);
    for (const attempt of [
      () => api.list({ id: aliceProject }),
      () => api.create({ id: aliceProject, name: "Planted", definition: DEFINITION }),
      () => api.createFromTemplate({ id: aliceProject, templateId: WORKFLOW_TEMPLATES[0]!.id }),
      () => api.get({ id }),
      () => api.get({ id, version: 1 }),
      () => api.update({ id, name: "Mine", definition: edited("stolen") }),
      () => api.update({ id, archived: true }),
      () => api.delete({ id }),
      () => api.listVersions({ id }),
      () => api.getVersion({ id, number: 1 }),
      () => api.restoreVersion({ id, number: 1 }),
      () => api.diff({ id, from: 1, to: 1 }),
    ]) {
      expect((await trpcRejection(attempt())).code).toBe("NOT_FOUND");
    }
    const intact = await asSession(alice.userId).get({ id });
    expect(intact).toMatchObject({ name: "Owned", latestVersion: 1, archivedAt: null });
    expect(await server.database.db.aIWorkflow.count({ where: { userId: bob.userId } })).toBe(0);
  });

  it("REST: create (201), list, get, update, versions, diff, restore, validate, templates and delete", async () => {
    const token = alice.accessToken;
    const created = await call("POST", `/projects/${aliceProject}/workflows`, token, {
      name: "REST",
      description: "over HTTP",
      definition: DEFINITION,
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: "REST",
      latestVersion: 1,
      definition: VALIDATED,
      warnings: [],
    });
    expect(typeof created.body?.createdAt).toBe("string");
    const id = (created.body as { id: string }).id;

    const updated = await call("PUT", `/workflows/${id}`, token, {
      definition: edited("v2"),
      baseVersion: 1,
    });
    expect(updated).toMatchObject({ status: 200, body: { latestVersion: 2 } });
    const stale = await call("PUT", `/workflows/${id}`, token, { definition: edited("v3"), baseVersion: 1 });
    expect(stale.status).toBe(409);
    expect(errorOf(stale)).toMatchObject({ code: "CONFLICT", details: { latestVersion: 2 } });

    const list = await call("GET", `/projects/${aliceProject}/workflows`, token);
    expect(list.status).toBe(200);
    expect(list.body?.items).toContainEqual(
      expect.objectContaining({
        id,
        stepCount: 3,
        stepTypes: ["llm", "command", "transform"],
        lastRun: null,
      }),
    );

    expect(await call("GET", `/workflows/${id}?version=1`, token)).toMatchObject({
      status: 200,
      body: { version: { number: 1 }, definition: VALIDATED },
    });
    expect((await call("GET", `/workflows/${id}?version=5`, token)).status).toBe(404);
    const versions = await call("GET", `/workflows/${id}/versions`, token);
    expect((versions.body as { items: Array<{ number: number }> }).items.map((v) => v.number)).toEqual([
      2, 1,
    ]);
    expect(await call("GET", `/workflows/${id}/versions/2`, token)).toMatchObject({
      status: 200,
      body: { number: 2, stepCount: 3, runCount: 0 },
    });
    const diff = await call("GET", `/workflows/${id}/diff?from=1&to=2`, token);
    expect(diff).toMatchObject({
      status: 200,
      body: {
        from: 1,
        to: 2,
        summary: { added: ["report"], removed: [], changed: ["plan"], inputsChanged: true },
      },
    });
    expect((diff.body as { patch: string }).patch).toContain("@@");
    expect(await call("POST", `/workflows/${id}/versions/1/restore`, token, {})).toMatchObject({
      status: 200,
      body: { latestVersion: 3, version: { note: "Restored from version 1" } },
    });

    expect(await call("POST", "/workflows/validate", token, { definition: BROKEN })).toMatchObject({
      status: 200,
      body: { ok: false, errors: [{ path: ["steps", 0, "prompt"], message: "Write the prompt" }, {}, {}] },
    });
    const templates = await call("GET", "/workflow-templates", token);
    expect((templates.body as { items: unknown[] }).items).toHaveLength(WORKFLOW_TEMPLATES.length);
    const fromTemplate = await call("POST", `/projects/${aliceProject}/workflows/from-template`, token, {
      templateId: WORKFLOW_TEMPLATES[0]!.id,
      name: "From REST template",
    });
    expect(fromTemplate).toMatchObject({
      status: 201,
      body: { name: "From REST template", latestVersion: 1 },
    });

    expect(await call("DELETE", `/workflows/${id}`, token)).toMatchObject({
      status: 200,
      body: { ok: true },
    });
    expect((await call("GET", `/workflows/${id}`, token)).status).toBe(404);
  });

  it("REST: 400 with error.details.issues for an invalid definition; 409 for a taken name", async () => {
    const bad = await call("POST", `/projects/${aliceProject}/workflows`, alice.accessToken, {
      name: "Bad",
      definition: BROKEN,
    });
    expect(bad.status).toBe(400);
    expect(errorOf(bad)).toMatchObject({
      code: "BAD_REQUEST",
      message: "The workflow definition has 3 problems: steps[0].prompt: Write the prompt",
      details: {
        issues: [
          { path: ["steps", 0, "prompt"], message: "Write the prompt" },
          { path: ["steps", 1, "id"], message: expect.stringContaining("Duplicate") },
          { path: ["steps", 1, "run"], message: expect.stringContaining("inputs.nope") },
        ],
      },
    });
    const existing = await call("POST", `/projects/${aliceProject}/workflows`, alice.accessToken, {
      name: "To break",
      definition: DEFINITION,
    });
    const badUpdate = await call(
      "PUT",
      `/workflows/${(existing.body as { id: string }).id}`,
      alice.accessToken,
      {
        definition: BROKEN,
      },
    );
    expect(badUpdate.status).toBe(400);
    expect(errorOf(badUpdate).details?.issues).toHaveLength(3);
    // Someone else's id, or none: 404 whatever the body.
    const missing = await call("PUT", "/workflows/00000000-0000-7000-8000-000000000000", alice.accessToken, {
      definition: BROKEN,
    });
    expect(missing.status).toBe(404);
    const elsewhere = await call("POST", `/projects/${aliceProject}/workflows`, bob.accessToken, {
      name: "Bad",
      definition: BROKEN,
    });
    expect(elsewhere.status).toBe(404);

    const first = await call("POST", `/projects/${aliceProject}/workflows`, alice.accessToken, {
      name: "Unique",
      definition: DEFINITION,
    });
    expect(first.status).toBe(201);
    const dup = await call("POST", `/projects/${aliceProject}/workflows`, alice.accessToken, {
      name: "unique",
      definition: DEFINITION,
    });
    expect(dup.status).toBe(409);
    expect(errorOf(dup).code).toBe("CONFLICT");
    expect(
      (
        await call("POST", `/projects/${aliceProject}/workflows`, alice.accessToken, {
          name: "",
          definition: DEFINITION,
        })
      ).status,
    ).toBe(400);
  });

  it("REST: another user's workflow is 404 on every route; a read-only key cannot write (403)", async () => {
    const created = await call("POST", `/projects/${aliceProject}/workflows`, alice.accessToken, {
      name: "Alice's REST",
      definition: DEFINITION,
    });
    const id = (created.body as { id: string }).id;
    for (const [method, path, body] of [
      ["GET", `/projects/${aliceProject}/workflows`],
      ["POST", `/projects/${aliceProject}/workflows`, { name: "x", definition: DEFINITION }],
      [
        "POST",
        `/projects/${aliceProject}/workflows/from-template`,
        { templateId: WORKFLOW_TEMPLATES[0]!.id },
      ],
      ["GET", `/workflows/${id}`],
      ["PUT", `/workflows/${id}`, { name: "stolen" }],
      ["DELETE", `/workflows/${id}`],
      ["GET", `/workflows/${id}/versions`],
      ["GET", `/workflows/${id}/versions/1`],
      ["POST", `/workflows/${id}/versions/1/restore`, {}],
      ["GET", `/workflows/${id}/diff?from=1&to=1`],
    ] as Array<[string, string, unknown?]>) {
      expect((await call(method, path, bob.accessToken, body)).status, `${method} ${path}`).toBe(404);
    }

    const key = await call("POST", "/api-keys", alice.accessToken, {
      name: "ro",
      scopes: ["workflows:read"],
    });
    const readOnly = (key.body as { key: string }).key;
    expect((await call("GET", `/workflows/${id}`, readOnly)).status).toBe(200);
    expect((await call("POST", "/workflows/validate", readOnly, { definition: DEFINITION })).status).toBe(
      200,
    );
    for (const [method, path, body] of [
      ["PUT", `/workflows/${id}`, { name: "changed" }],
      ["DELETE", `/workflows/${id}`],
      ["POST", `/projects/${aliceProject}/workflows`, { name: "new", definition: DEFINITION }],
      ["POST", `/workflows/${id}/versions/1/restore`, {}],
    ] as Array<[string, string, unknown?]>) {
      const answer = await call(method, path, readOnly, body);
      expect(answer.status, `${method} ${path}`).toBe(403);
      expect(errorOf(answer).code).toBe("FORBIDDEN");
    }
    expect((await call("GET", `/workflows/${id}`, alice.accessToken)).body).toMatchObject({
      name: "Alice's REST",
      latestVersion: 1,
    });
  });

  it("appears in the OpenAPI document", async () => {
    const res = await fetch(`${server.base}/api/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(doc.paths["/projects/{id}/workflows"] ?? {}).sort()).toEqual(["get", "post"]);
    expect(Object.keys(doc.paths["/workflows/{id}"] ?? {}).sort()).toEqual(["delete", "get", "put"]);
    expect(doc.paths["/projects/{id}/workflows/from-template"]).toHaveProperty("post");
    expect(doc.paths["/workflows/{id}/versions"]).toHaveProperty("get");
    expect(doc.paths["/workflows/{id}/versions/{number}"]).toHaveProperty("get");
    expect(doc.paths["/workflows/{id}/versions/{number}/restore"]).toHaveProperty("post");
    expect(doc.paths["/workflows/{id}/diff"]).toHaveProperty("get");
    expect(doc.paths["/workflow-templates"]).toHaveProperty("get");
    expect(doc.paths["/workflows/validate"]).toHaveProperty("post");
  });
});
