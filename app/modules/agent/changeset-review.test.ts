import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import type { Prisma } from "#app/db/client.server.ts";
import { saveFile } from "#app/modules/projects/files.server.ts";
import { createFile, createProject, createRun, createUser, createWorkflow } from "#tests/factories/index.ts";
import { tempDirs } from "#tests/sandbox/helpers.ts";
import { setupTestDatabase } from "#tests/setup/database.ts";
import { computeChangeSet } from "./changeset.server.ts";
import { applyChangeSet, rejectChangeSet, reviewChangeSet } from "./changeset-review.server.ts";
import type { BaseSnapshot } from "./workspace.server.ts";

const database = setupTestDatabase();
const tempDir = tempDirs();
const db = () => database.db;

const mathSource = (add: string, mul: string) =>
  ["export function add(a, b) {", `  return ${add};`, "}", "", "export const one = 1;", ""]
    .concat(Array.from({ length: 8 }, (_, i) => `// filler ${i + 1}`))
    .concat(["export function mul(a, b) {", `  return ${mul};`, "}", ""])
    .join("\n");
const MATH = mathSource("a - b", "a + b");
const MATH_FIXED = mathSource("a + b", "a * b");

type Setup = {
  userId: string;
  projectId: string;
  runId: string;
  changeSetId: string;
};

/**
 * A project holding src/math.js (two bugs, far apart: two hunks), README.md and old.txt; a run whose
 * workspace fixed both bugs, rewrote the README, added src/new.js and deleted old.txt; and its ChangeSet.
 */
async function setup(): Promise<Setup> {
  const user = await createUser(db());
  const project = await createProject(db(), { userId: user.id });
  const scope = { userId: user.id, projectId: project.id };
  const files: Record<string, string> = {
    "src/math.js": MATH,
    "README.md": "# Math\n",
    "old.txt": "obsolete\n",
  };
  const base: BaseSnapshot = new Map();
  for (const [p, content] of Object.entries(files)) {
    await createFile(db(), { ...scope, path: p, content });
    base.set(p, { version: 1, content });
  }
  const dir = tempDir();
  const write = (rel: string, content: string) => {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), content);
  };
  write("src/math.js", MATH_FIXED);
  write("README.md", "# Math\n\nAdds and multiplies.\n");
  write("src/new.js", "export const two = 2;\n");
  const changes = await computeChangeSet({ base, dir });
  rmSync(dir, { recursive: true, force: true });

  const { workflow, version } = await createWorkflow(db(), scope);
  const run = await createRun(db(), {
    ...scope,
    workflowId: workflow.id,
    workflowVersionId: version.id,
    status: "succeeded",
  });
  const row = await db().changeSet.create({
    data: {
      ...scope,
      runId: run.id,
      summary: "Fixed add and mul",
      diff: changes.diff,
      files: changes.files as unknown as Prisma.InputJsonValue,
    },
  });
  return { ...scope, runId: run.id, changeSetId: row.id };
}

async function content(s: Setup, p: string) {
  return (await db().codeSnippet.findFirst({ where: { projectId: s.projectId, path: p } }))?.content ?? null;
}

let s: Setup;
beforeEach(async () => {
  s = await setup();
});

describe("applyChangeSet", () => {
  it("applies every accepted hunk as new agent versions of the files, in one go", async () => {
    const result = await applyChangeSet(
      {
        userId: s.userId,
        changeSetId: s.changeSetId,
        decisions: ["src/math.js", "README.md", "src/new.js", "old.txt"].map((p) => ({
          path: p,
          status: "accepted" as const,
        })),
      },
      { db: db() },
    );
    expect(result.changeSet.status).toBe("applied");
    expect(result.changeSet.appliedAt).toBeInstanceOf(Date);
    expect(result.files.sort((a, b) => (a.path < b.path ? -1 : 1))).toEqual([
      { path: "README.md", action: "updated", version: 2 },
      { path: "old.txt", action: "deleted", version: null },
      { path: "src/math.js", action: "updated", version: 2 },
      { path: "src/new.js", action: "created", version: 1 },
    ]);
    expect(await content(s, "src/math.js")).toBe(MATH_FIXED);
    expect(await content(s, "src/new.js")).toBe("export const two = 2;\n");
    expect(await content(s, "old.txt")).toBeNull();
    const version = await db().fileVersion.findFirst({
      where: { projectId: s.projectId, path: "src/math.js", version: 2 },
    });
    expect(version).toMatchObject({ source: "agent", runId: s.runId, content: MATH_FIXED });
    const audit = await db().auditEvent.findFirst({
      where: { userId: s.userId, action: "changeset.applied", targetId: s.changeSetId },
    });
    expect(audit?.data).toMatchObject({ status: "applied", hunksAccepted: 5, hunksTotal: 5 });
  });

  it("applies only the accepted hunks; what was left pending counts as rejected", async () => {
    const listed = await reviewChangeSet(
      {
        userId: s.userId,
        changeSetId: s.changeSetId,
        decisions: [
          { path: "src/math.js", hunk: 0, status: "accepted" },
          { path: "src/math.js", hunk: 1, status: "rejected", comment: "  Keep mul as it is  " },
        ],
      },
      { db: db() },
    );
    const math = listed.files.find((f) => f.path === "src/math.js")!;
    expect(math.hunks.map((h) => [h.status, h.comment])).toEqual([
      ["accepted", undefined],
      ["rejected", "Keep mul as it is"],
    ]);

    const result = await applyChangeSet({ userId: s.userId, changeSetId: s.changeSetId }, { db: db() });
    expect(result.changeSet.status).toBe("partially_applied");
    expect(result.files).toEqual([{ path: "src/math.js", action: "updated", version: 2 }]);
    expect(await content(s, "src/math.js")).toBe(mathSource("a + b", "a + b"));
    expect(await content(s, "README.md")).toBe("# Math\n");
    expect(await content(s, "old.txt")).toBe("obsolete\n");
    const statuses = result.changeSet.files.flatMap((f) =>
      f.hunks.map((h) => `${f.path}#${h.index}:${h.status}`),
    );
    expect(statuses.sort()).toEqual([
      "README.md#0:rejected",
      "old.txt#0:rejected",
      "src/math.js#0:accepted",
      "src/math.js#1:rejected",
      "src/new.js#0:rejected",
    ]);
  });

  it("still applies to a file edited since the run started, where the hunks' lines are unchanged", async () => {
    await saveFile(
      { ...s, path: "src/math.js", content: `// header added by the user\n${MATH}`, baseVersion: 1 },
      { db: db() },
    );
    const result = await applyChangeSet(
      {
        userId: s.userId,
        changeSetId: s.changeSetId,
        decisions: [{ path: "src/math.js", status: "accepted" }],
      },
      { db: db() },
    );
    expect(result.files).toEqual([{ path: "src/math.js", action: "updated", version: 3 }]);
    expect(await content(s, "src/math.js")).toBe(`// header added by the user\n${MATH_FIXED}`);
  });

  it("refuses the whole apply when a hunk's lines were edited since, and writes nothing", async () => {
    await saveFile(
      { ...s, path: "src/math.js", content: mathSource("b - a", "a + b"), baseVersion: 1 },
      { db: db() },
    );
    const attempt = applyChangeSet(
      {
        userId: s.userId,
        changeSetId: s.changeSetId,
        decisions: [
          { path: "src/math.js", status: "accepted" },
          { path: "README.md", status: "accepted" },
        ],
      },
      { db: db() },
    );
    await expect(attempt).rejects.toMatchObject({
      code: "CONFLICT",
      details: { conflicts: [{ path: "src/math.js", hunks: [0] }] },
    });
    expect(await content(s, "README.md")).toBe("# Math\n");
    const row = await db().changeSet.findUniqueOrThrow({ where: { id: s.changeSetId } });
    expect(row.status).toBe("pending");
    expect(JSON.stringify(row.files)).not.toContain("accepted");

    // Rejecting the conflicting hunk lets the rest through.
    const result = await applyChangeSet(
      {
        userId: s.userId,
        changeSetId: s.changeSetId,
        decisions: [
          { path: "src/math.js", hunk: 0, status: "rejected" },
          { path: "src/math.js", hunk: 1, status: "accepted" },
          { path: "README.md", status: "accepted" },
        ],
      },
      { db: db() },
    );
    expect(result.changeSet.status).toBe("partially_applied");
    expect(await content(s, "src/math.js")).toBe(mathSource("b - a", "a * b"));
  });

  it("reports a file deleted or created in the project since the run started as a conflict", async () => {
    await db().codeSnippet.deleteMany({ where: { projectId: s.projectId, path: "README.md" } });
    await saveFile({ ...s, path: "src/new.js", content: "export const mine = 1;\n" }, { db: db() });
    const attempt = applyChangeSet(
      {
        userId: s.userId,
        changeSetId: s.changeSetId,
        decisions: [
          { path: "README.md", status: "accepted" },
          { path: "src/new.js", status: "accepted" },
        ],
      },
      { db: db() },
    );
    const error = await attempt.catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "CONFLICT" });
    const conflicts = (error as { details: { conflicts: Array<{ path: string; message: string }> } }).details
      .conflicts;
    expect(conflicts.map((c) => c.path).sort()).toEqual(["README.md", "src/new.js"]);
    expect(conflicts.find((c) => c.path === "README.md")?.message).toMatch(/deleted/);
    expect(conflicts.find((c) => c.path === "src/new.js")?.message).toMatch(/created/);
    expect(await content(s, "src/new.js")).toBe("export const mine = 1;\n");
  });

  it("is decided once: applying again, reviewing or rejecting afterwards is a CONFLICT", async () => {
    const accept = [{ path: "README.md", status: "accepted" as const }];
    await applyChangeSet({ userId: s.userId, changeSetId: s.changeSetId, decisions: accept }, { db: db() });
    await expect(
      applyChangeSet({ userId: s.userId, changeSetId: s.changeSetId, decisions: accept }, { db: db() }),
    ).rejects.toMatchObject({ code: "CONFLICT", message: expect.stringMatching(/already applied/) });
    await expect(
      reviewChangeSet({ userId: s.userId, changeSetId: s.changeSetId, decisions: accept }, { db: db() }),
    ).rejects.toMatchObject({ code: "CONFLICT" });
    await expect(
      rejectChangeSet({ userId: s.userId, changeSetId: s.changeSetId }, { db: db() }),
    ).rejects.toMatchObject({ code: "CONFLICT" });
    expect(await db().fileVersion.count({ where: { projectId: s.projectId, path: "README.md" } })).toBe(2);
  });

  it("two concurrent applies of one change set: one wins, the other is a CONFLICT", async () => {
    const accept = [{ path: "src/math.js", status: "accepted" as const }];
    const results = await Promise.allSettled([
      applyChangeSet({ userId: s.userId, changeSetId: s.changeSetId, decisions: accept }, { db: db() }),
      applyChangeSet({ userId: s.userId, changeSetId: s.changeSetId, decisions: accept }, { db: db() }),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect(results.find((r) => r.status === "rejected")).toMatchObject({ reason: { code: "CONFLICT" } });
    expect(await db().fileVersion.count({ where: { projectId: s.projectId, path: "src/math.js" } })).toBe(2);
  });

  it("needs at least one accepted hunk", async () => {
    await expect(
      applyChangeSet({ userId: s.userId, changeSetId: s.changeSetId }, { db: db() }),
    ).rejects.toMatchObject({
      code: "CONFLICT",
      message: expect.stringMatching(/No hunk is accepted/),
    });
  });
});

describe("reviewChangeSet and rejectChangeSet", () => {
  it("rejects bad decisions with a clear BAD_REQUEST", async () => {
    const review = (decisions: unknown) =>
      reviewChangeSet({ userId: s.userId, changeSetId: s.changeSetId, decisions }, { db: db() });
    await expect(review([{ path: "nope.js", status: "accepted" }])).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: "The change set has no file nope.js",
    });
    await expect(review([{ path: "src/math.js", hunk: 7, status: "accepted" }])).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: "src/math.js has no hunk 7 (it has 2)",
    });
    await expect(review([{ path: "src/math.js", status: "maybe" }])).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });
    await expect(review([])).rejects.toMatchObject({ code: "BAD_REQUEST" });
  });

  it("keeps comments, clears them with an empty one, and rejects what is pending", async () => {
    const review = (decisions: unknown) =>
      reviewChangeSet({ userId: s.userId, changeSetId: s.changeSetId, decisions }, { db: db() });
    await review([{ path: "README.md", hunk: 0, status: "rejected", comment: "Too chatty" }]);
    let view = await review([{ path: "src/new.js", status: "accepted" }]);
    expect(view.files.find((f) => f.path === "README.md")?.hunks[0]).toMatchObject({
      status: "rejected",
      comment: "Too chatty",
    });
    view = await review([{ path: "README.md", hunk: 0, status: "pending", comment: "" }]);
    expect(view.files.find((f) => f.path === "README.md")?.hunks[0]).toEqual({
      index: 0,
      header: expect.any(String),
      status: "pending",
    });
    const rejected = await rejectChangeSet({ userId: s.userId, changeSetId: s.changeSetId }, { db: db() });
    expect(rejected.status).toBe("rejected");
    expect(rejected.files.every((f) => f.hunks.every((h) => h.status === "rejected"))).toBe(true);
    expect(await content(s, "src/math.js")).toBe(MATH);
  });

  it("answers NOT_FOUND for another user's change set, and changes nothing", async () => {
    const other = await createUser(db());
    const decisions = [{ path: "src/math.js", status: "accepted" }];
    await expect(
      reviewChangeSet({ userId: other.id, changeSetId: s.changeSetId, decisions }, { db: db() }),
    ).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(
      applyChangeSet({ userId: other.id, changeSetId: s.changeSetId, decisions }, { db: db() }),
    ).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(
      rejectChangeSet({ userId: other.id, changeSetId: s.changeSetId }, { db: db() }),
    ).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
    await expect(
      rejectChangeSet({ userId: s.userId, changeSetId: "not-a-uuid" }, { db: db() }),
    ).rejects.toMatchObject({ code: "NOT_FOUND" });
    const row = await db().changeSet.findUniqueOrThrow({ where: { id: s.changeSetId } });
    expect(row.status).toBe("pending");
  });
});
