import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { createFile, createProject, createUser } from "#tests/factories/index.ts";
import { tempDirs } from "#tests/sandbox/helpers.ts";
import { setupTestDatabase } from "#tests/setup/database.ts";
import { computeChangeSet } from "./changeset.server.ts";
import { createAgentTools } from "./tools.server.ts";
import { materializeWorkspace, removeWorkspace, workspacePaths } from "./workspace.server.ts";

const database = setupTestDatabase();
const tempDir = tempDirs();
const RUN_ID = "0195f2c4-7a1b-7c00-8000-000000000001";

async function projectWith(files: Record<string, string>) {
  const user = await createUser(database.db);
  const project = await createProject(database.db, { userId: user.id });
  for (const [filePath, content] of Object.entries(files))
    await createFile(database.db, { userId: user.id, projectId: project.id, path: filePath, content });
  return { userId: user.id, projectId: project.id };
}

/** A root that does not exist yet, inside a private temp dir. */
const newRoot = () => path.join(tempDir(), "workspaces");

describe("materializeWorkspace", () => {
  it("writes the project's files into <root>/<runId>/ws, private, with the base snapshot beside it", async () => {
    const scope = await projectWith({
      "package.json": '{ "name": "demo" }\n',
      "src/index.ts": "export const x = 1;\n",
      "src/lib/deep/util.ts": "export {};\n",
    });
    const root = newRoot();
    const ws = await materializeWorkspace({ db: database.db, ...scope, root, runId: RUN_ID });
    expect(ws.dir).toBe(path.join(root, RUN_ID, "ws"));
    expect(ws.resumed).toBe(false);
    expect(ws.skipped).toEqual([]);
    expect(readFileSync(path.join(ws.dir, "src/lib/deep/util.ts"), "utf8")).toBe("export {};\n");
    expect(readFileSync(path.join(ws.dir, "package.json"), "utf8")).toBe('{ "name": "demo" }\n');
    expect([...ws.base.entries()]).toEqual([
      ["package.json", { version: 1, content: '{ "name": "demo" }\n' }],
      ["src/index.ts", { version: 1, content: "export const x = 1;\n" }],
      ["src/lib/deep/util.ts", { version: 1, content: "export {};\n" }],
    ]);
    expect(statSync(root).mode & 0o7777).toBe(0o700);
    expect(statSync(ws.runDir).mode & 0o7777).toBe(0o700);
    expect(statSync(path.join(ws.runDir, "base.json")).mode & 0o777).toBe(0o600);
    // The snapshot lives outside what the agent (and the sandbox) sees.
    expect(existsSync(path.join(ws.dir, "base.json"))).toBe(false);
  });

  it("tightens an existing root to 0700", async () => {
    const scope = await projectWith({ "a.txt": "a\n" });
    const root = newRoot();
    mkdirSync(root, { mode: 0o755 });
    chmodSync(root, 0o755);
    await materializeWorkspace({ db: database.db, ...scope, root, runId: RUN_ID });
    expect(statSync(root).mode & 0o7777).toBe(0o700);
  });

  it("reuses the run's workspace on resume: edits kept, snapshot unchanged even if the project moved on", async () => {
    const scope = await projectWith({ "a.txt": "one\n", "b.txt": "bee\n" });
    const root = newRoot();
    const first = await materializeWorkspace({ db: database.db, ...scope, root, runId: RUN_ID });
    writeFileSync(path.join(first.dir, "a.txt"), "edited by the agent\n");
    await database.db.codeSnippet.updateMany({
      where: { projectId: scope.projectId, path: "b.txt" },
      data: { content: "changed by the user\n", version: 2 },
    });
    const again = await materializeWorkspace({ db: database.db, ...scope, root, runId: RUN_ID });
    expect(again.resumed).toBe(true);
    expect(again.dir).toBe(first.dir);
    expect(readFileSync(path.join(again.dir, "a.txt"), "utf8")).toBe("edited by the agent\n");
    expect(readFileSync(path.join(again.dir, "b.txt"), "utf8")).toBe("bee\n");
    expect(again.base).toEqual(first.base);
    const change = await computeChangeSet({ base: again.base, dir: again.dir });
    expect(change.files.map((f) => [f.path, f.status, f.baseVersion])).toEqual([["a.txt", "modified", 1]]);
  });

  it("starts over when a previous attempt stopped before the snapshot was written", async () => {
    const scope = await projectWith({ "a.txt": "a\n" });
    const root = newRoot();
    const { dir } = workspacePaths({ root, runId: RUN_ID });
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "half-written.txt"), "junk");
    const ws = await materializeWorkspace({ db: database.db, ...scope, root, runId: RUN_ID });
    expect(ws.resumed).toBe(false);
    expect(existsSync(path.join(ws.dir, "half-written.txt"))).toBe(false);
    expect(readFileSync(path.join(ws.dir, "a.txt"), "utf8")).toBe("a\n");
  });

  it("lists binary files it cannot write, and never counts them as deleted", async () => {
    const scope = await projectWith({ "src/a.ts": "a\n" });
    await database.db.codeSnippet.create({
      data: {
        ...scope,
        path: "logo.png",
        content: "",
        isBinary: true,
        size: 1234,
        sha256: createHash("sha256").update("png").digest("hex"),
        version: 2,
      },
    });
    const ws = await materializeWorkspace({ db: database.db, ...scope, root: newRoot(), runId: RUN_ID });
    expect(ws.skipped).toEqual([
      {
        path: "logo.png",
        reason: "binary file: the project stores only its metadata, so its bytes cannot be written",
      },
    ]);
    expect(ws.base.get("logo.png")).toEqual({ version: 2, content: "", binary: true });
    expect(existsSync(path.join(ws.dir, "logo.png"))).toBe(false);
    expect((await computeChangeSet({ base: ws.base, dir: ws.dir })).files).toEqual([]);
  });

  it("refuses a stored path that would leave the workspace, writing nothing outside", async () => {
    const scope = await projectWith({ "a.txt": "a\n" });
    await createFile(database.db, { ...scope, path: "../../escaped.txt", content: "evil" });
    const root = newRoot();
    await expect(
      materializeWorkspace({ db: database.db, ...scope, root, runId: RUN_ID }),
    ).rejects.toMatchObject({
      code: "UNPROCESSABLE_CONTENT",
      message: expect.stringMatching(/unsafe path \("\.\.\/\.\.\/escaped\.txt"\)/),
    });
    expect(existsSync(path.join(root, "escaped.txt"))).toBe(false);
    expect(existsSync(path.join(path.dirname(root), "escaped.txt"))).toBe(false);
  });

  it("answers NOT_FOUND for another user's project, and refuses bad run ids and relative roots", async () => {
    const scope = await projectWith({ "a.txt": "a\n" });
    const stranger = await createUser(database.db);
    await expect(
      materializeWorkspace({
        db: database.db,
        userId: stranger.id,
        projectId: scope.projectId,
        root: newRoot(),
        runId: RUN_ID,
      }),
    ).rejects.toMatchObject({ code: "NOT_FOUND" });
    for (const runId of ["../escape", "a/b", "", ".hidden"])
      await expect(
        materializeWorkspace({ db: database.db, ...scope, root: newRoot(), runId }),
      ).rejects.toThrow(/invalid run id/);
    await expect(
      materializeWorkspace({ db: database.db, ...scope, root: "relative/root", runId: RUN_ID }),
    ).rejects.toThrow(/must be an absolute path/);
  });

  it("end to end: tools edit the workspace, the ChangeSet shows it against the versions the run started from", async () => {
    const scope = await projectWith({
      "src/sum.js": "export const sum = (a, b) => a - b;\n",
      "README.md": "# Sum\n",
    });
    const ws = await materializeWorkspace({ db: database.db, ...scope, root: newRoot(), runId: RUN_ID });
    const tools = createAgentTools({ workspaceDir: ws.dir, sandbox: { config: {} } });
    const run = (name: string, input: unknown) =>
      tools.find((t) => t.name === name)!.run(input, { signal: new AbortController().signal });
    expect(
      (await run("edit_file", { path: "src/sum.js", old_text: "a - b", new_text: "a + b" })).isError,
    ).toBeFalsy();
    expect((await run("write_file", { path: "test/sum.test.js", content: "// test\n" })).isError).toBeFalsy();
    expect((await run("run_command", { command: "rm README.md" })).isError).toBe(false);
    const change = await computeChangeSet({ base: ws.base, dir: ws.dir });
    expect(change.files.map((f) => [f.path, f.status, f.baseVersion])).toEqual([
      ["README.md", "deleted", 1],
      ["src/sum.js", "modified", 1],
      ["test/sum.test.js", "added", null],
    ]);
    expect(change.diff).toContain(
      "-export const sum = (a, b) => a - b;\n+export const sum = (a, b) => a + b;",
    );
  }, 30_000);
});

describe("removeWorkspace", () => {
  it("deletes the run's directory, even folders a command made unreadable; idempotent", async () => {
    const scope = await projectWith({ "a.txt": "a\n" });
    const root = newRoot();
    const ws = await materializeWorkspace({ db: database.db, ...scope, root, runId: RUN_ID });
    mkdirSync(path.join(ws.dir, "locked/inner"), { recursive: true });
    writeFileSync(path.join(ws.dir, "locked/inner/f"), "x");
    chmodSync(path.join(ws.dir, "locked"), 0o000);
    await removeWorkspace({ root, runId: RUN_ID });
    expect(existsSync(ws.runDir)).toBe(false);
    expect(existsSync(root)).toBe(true);
    await removeWorkspace({ root, runId: RUN_ID });
  });
});
