import { describe, expect, it } from "vitest";
import { createAiCall, createRun, createUser, createWorkflow } from "#tests/factories/index.ts";
import { rejection } from "#tests/setup/assertions.ts";
import { setupTestDatabase } from "#tests/setup/database.ts";
import { saveFile } from "./files.server.ts";
import {
  createProject,
  deleteProject,
  getProject,
  listProjects,
  startOfMonthUtc,
  updateProject,
} from "./projects.server.ts";

const database = setupTestDatabase();
const deps = () => ({ db: database.db });

describe("createProject", () => {
  it("creates a project with a trimmed name, owned by the caller", async () => {
    const user = await createUser(database.db);
    const project = await createProject({ userId: user.id, name: "  My app ", description: "Demo" }, deps());
    expect(project).toMatchObject({ name: "My app", description: "Demo", archivedAt: null });
    const row = await database.db.project.findUniqueOrThrow({ where: { id: project.id } });
    expect(row.userId).toBe(user.id);
  });

  it("refuses an empty or overlong name and an overlong description", async () => {
    const user = await createUser(database.db);
    expect((await rejection(createProject({ userId: user.id, name: "  " }, deps()))).code).toBe(
      "BAD_REQUEST",
    );
    expect((await rejection(createProject({ userId: user.id, name: "x".repeat(101) }, deps()))).code).toBe(
      "BAD_REQUEST",
    );
    expect(
      (await rejection(createProject({ userId: user.id, name: "ok", description: "d".repeat(2001) }, deps())))
        .code,
    ).toBe("BAD_REQUEST");
  });
});

describe("listProjects and getProject", () => {
  it("summarise: file count, last run, month-to-date cost from AiCall rows; newest activity first", async () => {
    const now = new Date();
    const user = await createUser(database.db);
    const other = await createUser(database.db);
    const quiet = await createProject({ userId: user.id, name: "Quiet" }, deps());
    const busy = await createProject({ userId: user.id, name: "Busy" }, deps());
    await createProject({ userId: other.id, name: "Not mine" }, deps());

    await saveFile({ userId: user.id, projectId: busy.id, path: "a.ts", content: "a" }, deps());
    await saveFile({ userId: user.id, projectId: busy.id, path: "b/c.ts", content: "c" }, deps());

    const { workflow, version } = await createWorkflow(database.db, { userId: user.id, projectId: busy.id });
    const ids = {
      userId: user.id,
      projectId: busy.id,
      workflowId: workflow.id,
      workflowVersionId: version.id,
    };
    await createRun(database.db, { ...ids, status: "failed", createdAt: new Date(now.getTime() - 60_000) });
    const latest = await createRun(database.db, { ...ids, status: "succeeded", createdAt: now });

    const monthStart = startOfMonthUtc(now);
    const call = (costMicros: bigint, createdAt: Date, projectId: string | null = busy.id) =>
      createAiCall(database.db, { userId: user.id, projectId, costMicros, createdAt });
    await call(1_250_000n, monthStart);
    await call(750_000n, now);
    // Last month and other projects do not count.
    await call(9_000_000n, new Date(monthStart.getTime() - 1));
    await call(5_000_000n, now, quiet.id);
    await call(7_000_000n, now, null);

    const list = await listProjects({ userId: user.id }, deps());
    expect(list.map((p) => p.name)).toEqual(["Busy", "Quiet"]);
    const [b, q] = list;
    expect(b).toMatchObject({
      fileCount: 2,
      monthToDateCostMicros: 2_000_000,
      lastRun: { id: latest.id, status: "succeeded" },
    });
    expect(q).toMatchObject({ fileCount: 0, monthToDateCostMicros: 5_000_000, lastRun: null });

    expect(await getProject({ userId: user.id, projectId: busy.id }, deps())).toEqual(b);
  });

  it("getProject: another user's project and a malformed id are NOT_FOUND", async () => {
    const owner = await createUser(database.db);
    const stranger = await createUser(database.db);
    const project = await createProject({ userId: owner.id, name: "Mine" }, deps());
    expect((await rejection(getProject({ userId: stranger.id, projectId: project.id }, deps()))).code).toBe(
      "NOT_FOUND",
    );
    expect((await rejection(getProject({ userId: owner.id, projectId: "nope" }, deps()))).code).toBe(
      "NOT_FOUND",
    );
  });
});

describe("updateProject", () => {
  it("renames, describes, clears the description, archives and unarchives", async () => {
    const user = await createUser(database.db);
    const project = await createProject({ userId: user.id, name: "Old" }, deps());
    const renamed = await updateProject(
      { userId: user.id, id: project.id, name: " New ", description: "D" },
      deps(),
    );
    expect(renamed).toMatchObject({ name: "New", description: "D" });
    expect(renamed.lastActivityAt.getTime()).toBeGreaterThanOrEqual(project.lastActivityAt.getTime());

    const cleared = await updateProject({ userId: user.id, id: project.id, description: null }, deps());
    expect(cleared.description).toBeNull();

    const archived = await updateProject({ userId: user.id, id: project.id, archived: true }, deps());
    expect(archived.archivedAt).toBeInstanceOf(Date);
    expect((await listProjects({ userId: user.id }, deps())).map((p) => p.id)).not.toContain(project.id);
    expect(
      (await listProjects({ userId: user.id, includeArchived: true }, deps())).map((p) => p.id),
    ).toContain(project.id);
    // Archiving again keeps the first date.
    const again = await updateProject({ userId: user.id, id: project.id, archived: true }, deps());
    expect(again.archivedAt).toEqual(archived.archivedAt);

    const restored = await updateProject({ userId: user.id, id: project.id, archived: false }, deps());
    expect(restored.archivedAt).toBeNull();
    expect((await listProjects({ userId: user.id }, deps())).map((p) => p.id)).toContain(project.id);
  });

  it("another user's project is NOT_FOUND and unchanged", async () => {
    const owner = await createUser(database.db);
    const stranger = await createUser(database.db);
    const project = await createProject({ userId: owner.id, name: "Mine" }, deps());
    const error = await rejection(
      updateProject({ userId: stranger.id, id: project.id, name: "Taken" }, deps()),
    );
    expect(error.code).toBe("NOT_FOUND");
    const archive = await rejection(
      updateProject({ userId: stranger.id, id: project.id, archived: true }, deps()),
    );
    expect(archive.code).toBe("NOT_FOUND");
    expect((await getProject({ userId: owner.id, projectId: project.id }, deps())).name).toBe("Mine");
  });
});

describe("deleteProject", () => {
  it("removes the project with its files and history, keeps the spend rows", async () => {
    const user = await createUser(database.db);
    const project = await createProject({ userId: user.id, name: "Doomed" }, deps());
    await saveFile({ userId: user.id, projectId: project.id, path: "a.ts", content: "a" }, deps());
    const call = await createAiCall(database.db, {
      userId: user.id,
      projectId: project.id,
      costMicros: 5n,
    });
    const stranger = await createUser(database.db);
    expect(
      (await rejection(deleteProject({ userId: stranger.id, projectId: project.id }, deps()))).code,
    ).toBe("NOT_FOUND");

    expect(await deleteProject({ userId: user.id, projectId: project.id }, deps())).toEqual({ ok: true });
    expect(await database.db.project.count({ where: { id: project.id } })).toBe(0);
    expect(await database.db.codeSnippet.count({ where: { projectId: project.id } })).toBe(0);
    expect(await database.db.fileVersion.count({ where: { projectId: project.id } })).toBe(0);
    const kept = await database.db.aiCall.findUniqueOrThrow({ where: { id: call.id } });
    expect(kept).toMatchObject({ projectId: null, costMicros: 5n });
    expect((await rejection(deleteProject({ userId: user.id, projectId: project.id }, deps()))).code).toBe(
      "NOT_FOUND",
    );
  });
});
