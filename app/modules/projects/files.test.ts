import { describe, expect, it } from "vitest";
import { createUser } from "#tests/factories/index.ts";
import { rejection } from "#tests/setup/assertions.ts";
import { setupTestDatabase } from "#tests/setup/database.ts";
import { deleteFile, listFiles, moveFile, readFile, saveFile } from "./files.server.ts";
import { createProject, getProject } from "./projects.server.ts";
import {
  diffFileVersions,
  listFileVersions,
  readFileVersion,
  restoreFileVersion,
} from "./versions.server.ts";

const database = setupTestDatabase();
const deps = () => ({ db: database.db });

async function newProject() {
  const user = await createUser(database.db);
  const project = await createProject({ userId: user.id, name: "Files" }, deps());
  return { userId: user.id, projectId: project.id };
}

describe("saveFile", () => {
  it("creates at version 1, updates with the right base, writes one FileVersion per save", async () => {
    const scope = await newProject();
    const before = await getProject(scope, deps());
    expect(await saveFile({ ...scope, path: "src/a.ts", content: "one\n" }, deps())).toEqual({
      path: "src/a.ts",
      version: 1,
    });
    expect(await saveFile({ ...scope, path: "src/a.ts", content: "two\n", baseVersion: 1 }, deps())).toEqual({
      path: "src/a.ts",
      version: 2,
    });
    const file = await readFile({ ...scope, path: "src/a.ts" }, deps());
    expect(file).toMatchObject({
      content: "two\n",
      version: 2,
      language: "typescript",
      isBinary: false,
      size: 4,
    });
    const versions = await listFileVersions({ ...scope, path: "src/a.ts" }, deps());
    expect(versions.map((v) => [v.version, v.source])).toEqual([
      [2, "edit"],
      [1, "create"],
    ]);
    const after = await getProject(scope, deps());
    expect(after.lastActivityAt.getTime()).toBeGreaterThanOrEqual(before.lastActivityAt.getTime());
  });

  it("saving identical content is a no-op (no new version)", async () => {
    const scope = await newProject();
    await saveFile({ ...scope, path: "a.txt", content: "same" }, deps());
    expect(await saveFile({ ...scope, path: "a.txt", content: "same", baseVersion: 1 }, deps())).toEqual({
      path: "a.txt",
      version: 1,
    });
    expect(await listFileVersions({ ...scope, path: "a.txt" }, deps())).toHaveLength(1);
  });

  it("a stale baseVersion is a CONFLICT carrying the current version and content; nothing is overwritten", async () => {
    const scope = await newProject();
    await saveFile({ ...scope, path: "a.txt", content: "v1" }, deps());
    await saveFile({ ...scope, path: "a.txt", content: "v2 by someone else", baseVersion: 1 }, deps());
    const error = await rejection(
      saveFile({ ...scope, path: "a.txt", content: "mine", baseVersion: 1 }, deps()),
    );
    expect(error.code).toBe("CONFLICT");
    expect(error.message).toContain("the current version is 2");
    expect(error.details).toMatchObject({ currentVersion: 2, currentContent: "v2 by someone else" });
    expect((await readFile({ ...scope, path: "a.txt" }, deps())).content).toBe("v2 by someone else");
  });

  it("creating over an existing file, or updating a deleted one, is a CONFLICT", async () => {
    const scope = await newProject();
    await saveFile({ ...scope, path: "a.txt", content: "v1" }, deps());
    const exists = await rejection(saveFile({ ...scope, path: "a.txt", content: "x" }, deps()));
    expect(exists).toMatchObject({ code: "CONFLICT", details: { currentVersion: 1 } });
    const gone = await rejection(saveFile({ ...scope, path: "b.txt", content: "x", baseVersion: 3 }, deps()));
    expect(gone).toMatchObject({ code: "CONFLICT", details: { currentVersion: null } });
  });

  it("two concurrent saves from the same base: exactly one wins, the other gets CONFLICT", async () => {
    const scope = await newProject();
    await saveFile({ ...scope, path: "race.txt", content: "base" }, deps());
    for (let round = 0; round < 5; round += 1) {
      const { version } = await readFile({ ...scope, path: "race.txt" }, deps());
      const results = await Promise.allSettled(
        ["left", "right"].map((who) =>
          saveFile({ ...scope, path: "race.txt", content: `${who} ${round}`, baseVersion: version }, deps()),
        ),
      );
      const won = results.filter((r) => r.status === "fulfilled");
      const lost = results.filter((r) => r.status === "rejected");
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect((lost[0] as PromiseRejectedResult).reason.code).toBe("CONFLICT");
      const current = await readFile({ ...scope, path: "race.txt" }, deps());
      expect(current.version).toBe(version + 1);
      expect((won[0] as PromiseFulfilledResult<{ version: number }>).value.version).toBe(version + 1);
    }
    // One version row per successful save, none for the losers.
    expect(await listFileVersions({ ...scope, path: "race.txt" }, deps())).toHaveLength(6);
  });

  it("two concurrent creations of one path: one wins, the other gets CONFLICT", async () => {
    const scope = await newProject();
    const results = await Promise.allSettled(
      ["a", "b", "c"].map((content) => saveFile({ ...scope, path: "new.txt", content }, deps())),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of results.filter((r) => r.status === "rejected")) {
      expect((r as PromiseRejectedResult).reason.code).toBe("CONFLICT");
    }
  });

  it.each(["../escape.txt", "/etc/passwd", "C:\\Windows\\win.ini", "a\u0000b", "..\\..\\evil", "a//b"])(
    "refuses the unsafe path %j with BAD_REQUEST",
    async (path) => {
      const scope = await newProject();
      const error = await rejection(saveFile({ ...scope, path, content: "x" }, deps()));
      expect(error.code).toBe("BAD_REQUEST");
      expect(error.message).toMatch(/Unsafe path/);
      expect(await listFiles(scope, deps())).toEqual([]);
    },
  );

  it("stores backslash paths with forward slashes", async () => {
    const scope = await newProject();
    expect(await saveFile({ ...scope, path: "src\\win.ts", content: "x" }, deps())).toMatchObject({
      path: "src/win.ts",
    });
  });

  it("round-trips unicode paths and content", async () => {
    const scope = await newProject();
    const paths = ["docs/日本語/説明.md", "src/émoji 🚀.ts", "ру/файл.py", "cafe\u0301.txt"];
    for (const path of paths) await saveFile({ ...scope, path, content: `// ${path} ✓ 你好\n` }, deps());
    const listed = (await listFiles(scope, deps())).map((f) => f.path);
    expect(listed.sort()).toEqual(
      ["café.txt", "docs/日本語/説明.md", "ру/файл.py", "src/émoji 🚀.ts"].sort(),
    );
    const file = await readFile({ ...scope, path: "src/émoji 🚀.ts" }, deps());
    expect(file.content).toBe("// src/émoji 🚀.ts ✓ 你好\n");
    expect(file.size).toBe(Buffer.byteLength(file.content));
    // The NFD spelling finds the NFC-stored file.
    expect((await readFile({ ...scope, path: "cafe\u0301.txt" }, deps())).path).toBe("café.txt");
  });

  it("refuses content over 2 MB (bytes, not characters) and NUL characters", async () => {
    const scope = await newProject();
    // 700k three-byte characters: under 2M characters, over 2 MB of UTF-8.
    const big = await rejection(
      saveFile({ ...scope, path: "big.txt", content: "€".repeat(700_000) }, deps()),
    );
    expect(big.code).toBe("PAYLOAD_TOO_LARGE");
    const nul = await rejection(saveFile({ ...scope, path: "nul.txt", content: "a\u0000b" }, deps()));
    expect(nul.code).toBe("BAD_REQUEST");
  });

  it("keeps files and folders apart", async () => {
    const scope = await newProject();
    await saveFile({ ...scope, path: "a/b.ts", content: "x" }, deps());
    expect((await rejection(saveFile({ ...scope, path: "a", content: "x" }, deps()))).code).toBe("CONFLICT");
    expect((await rejection(saveFile({ ...scope, path: "a/b.ts/c", content: "x" }, deps()))).code).toBe(
      "CONFLICT",
    );
  });

  it("another user's project is NOT_FOUND for every file operation", async () => {
    const scope = await newProject();
    await saveFile({ ...scope, path: "secret.txt", content: "s" }, deps());
    const stranger = await createUser(database.db);
    const as = { userId: stranger.id, projectId: scope.projectId };
    const attempts = [
      () => listFiles(as, deps()),
      () => readFile({ ...as, path: "secret.txt" }, deps()),
      () => saveFile({ ...as, path: "secret.txt", content: "x", baseVersion: 1 }, deps()),
      () => saveFile({ ...as, path: "new.txt", content: "x" }, deps()),
      () => deleteFile({ ...as, path: "secret.txt" }, deps()),
      () => moveFile({ ...as, from: "secret.txt", to: "moved.txt" }, deps()),
      () => listFileVersions({ ...as, path: "secret.txt" }, deps()),
      () => readFileVersion({ ...as, path: "secret.txt", version: 1 }, deps()),
      () => diffFileVersions({ ...as, path: "secret.txt", from: 1, to: 1 }, deps()),
      () => restoreFileVersion({ ...as, path: "secret.txt", version: 1, baseVersion: 1 }, deps()),
    ];
    for (const attempt of attempts) expect((await rejection(attempt())).code).toBe("NOT_FOUND");
    expect((await readFile({ ...scope, path: "secret.txt" }, deps())).content).toBe("s");
  });
});

describe("listFiles / deleteFile", () => {
  it("lists by path (code-point order) and deletes a file or a whole folder", async () => {
    const scope = await newProject();
    for (const path of ["b.ts", "a/z.ts", "a/b/c.ts", "A.md", "a_b/x.ts", "a%/y.ts"]) {
      await saveFile({ ...scope, path, content: path }, deps());
    }
    expect((await listFiles(scope, deps())).map((f) => f.path)).toEqual([
      "A.md",
      "a%/y.ts",
      "a/b/c.ts",
      "a/z.ts",
      "a_b/x.ts",
      "b.ts",
    ]);
    expect(await deleteFile({ ...scope, path: "b.ts" }, deps())).toEqual({ deleted: 1 });
    // "a" removes a/… but neither a_b/ nor a%/ (LIKE wildcards are not wildcards here).
    expect(await deleteFile({ ...scope, path: "a" }, deps())).toEqual({ deleted: 2 });
    expect((await listFiles(scope, deps())).map((f) => f.path)).toEqual(["A.md", "a%/y.ts", "a_b/x.ts"]);
    expect((await rejection(deleteFile({ ...scope, path: "nothing" }, deps()))).code).toBe("NOT_FOUND");
    expect(await database.db.fileVersion.count({ where: { projectId: scope.projectId, path: "b.ts" } })).toBe(
      0,
    );
  });
});

describe("moveFile", () => {
  it("renames a file, keeping its version and history", async () => {
    const scope = await newProject();
    await saveFile({ ...scope, path: "old.js", content: "1" }, deps());
    await saveFile({ ...scope, path: "old.js", content: "2", baseVersion: 1 }, deps());
    expect(await moveFile({ ...scope, from: "old.js", to: "src/new.ts" }, deps())).toEqual({
      moved: [{ from: "old.js", to: "src/new.ts" }],
    });
    const file = await readFile({ ...scope, path: "src/new.ts" }, deps());
    expect(file).toMatchObject({ version: 2, content: "2", language: "typescript" });
    const history = await listFileVersions({ ...scope, path: "src/new.ts" }, deps());
    expect(history.map((v) => [v.version, v.path])).toEqual([
      [2, "old.js"],
      [1, "old.js"],
    ]);
    expect((await rejection(readFile({ ...scope, path: "old.js" }, deps()))).code).toBe("NOT_FOUND");
    // Saving on top of the moved file continues its history.
    expect(
      await saveFile({ ...scope, path: "src/new.ts", content: "3", baseVersion: 2 }, deps()),
    ).toMatchObject({
      version: 3,
    });
  });

  it("moves a folder with everything under it (and only that folder)", async () => {
    const scope = await newProject();
    for (const path of ["lib/a.ts", "lib/deep/b.ts", "lib2/c.ts", "lib.ts"]) {
      await saveFile({ ...scope, path, content: path }, deps());
    }
    const result = await moveFile({ ...scope, from: "lib", to: "src/lib" }, deps());
    expect(result.moved.sort((x, y) => x.from.localeCompare(y.from))).toEqual([
      { from: "lib/a.ts", to: "src/lib/a.ts" },
      { from: "lib/deep/b.ts", to: "src/lib/deep/b.ts" },
    ]);
    expect((await listFiles(scope, deps())).map((f) => f.path)).toEqual([
      "lib.ts",
      "lib2/c.ts",
      "src/lib/a.ts",
      "src/lib/deep/b.ts",
    ]);
    expect((await readFile({ ...scope, path: "src/lib/deep/b.ts" }, deps())).content).toBe("lib/deep/b.ts");
  });

  it("moves a folder into its parent when targets are the current paths of other moving files", async () => {
    const scope = await newProject();
    // a/x/x/f → a/x/f while a/x/f → a/f: a one-step update would trip the unique index half-way.
    for (const path of ["a/x/x/f", "a/x/f"])
      await saveFile({ ...scope, path, content: `was ${path}` }, deps());
    const result = await moveFile({ ...scope, from: "a/x", to: "a" }, deps());
    expect(result.moved).toHaveLength(2);
    expect((await listFiles(scope, deps())).map((f) => f.path)).toEqual(["a/f", "a/x/f"]);
    expect((await readFile({ ...scope, path: "a/f" }, deps())).content).toBe("was a/x/f");
    expect((await readFile({ ...scope, path: "a/x/f" }, deps())).content).toBe("was a/x/x/f");
  });

  it("refuses collisions with CONFLICT and leaves everything in place", async () => {
    const scope = await newProject();
    for (const path of ["a.ts", "b.ts", "src/x.ts", "dst/x.ts", "dst/y.ts"]) {
      await saveFile({ ...scope, path, content: path }, deps());
    }
    const file = await rejection(moveFile({ ...scope, from: "a.ts", to: "b.ts" }, deps()));
    expect(file.code).toBe("CONFLICT");
    expect(file.message).toContain("b.ts already exists");
    const folder = await rejection(moveFile({ ...scope, from: "src", to: "dst" }, deps()));
    expect(folder.code).toBe("CONFLICT");
    expect(folder.message).toContain("dst/x.ts");
    // A file onto a folder name, a folder under a file.
    expect((await rejection(moveFile({ ...scope, from: "a.ts", to: "dst" }, deps()))).code).toBe("CONFLICT");
    expect((await rejection(moveFile({ ...scope, from: "src", to: "a.ts/src" }, deps()))).code).toBe(
      "CONFLICT",
    );
    expect((await rejection(moveFile({ ...scope, from: "src", to: "src/inner" }, deps()))).code).toBe(
      "BAD_REQUEST",
    );
    expect((await rejection(moveFile({ ...scope, from: "missing", to: "x" }, deps()))).code).toBe(
      "NOT_FOUND",
    );
    expect((await rejection(moveFile({ ...scope, from: "a.ts", to: "../a.ts" }, deps()))).code).toBe(
      "BAD_REQUEST",
    );
    expect((await listFiles(scope, deps())).map((f) => f.path)).toEqual([
      "a.ts",
      "b.ts",
      "dst/x.ts",
      "dst/y.ts",
      "src/x.ts",
    ]);
  });
});

describe("versions, diff and restore", () => {
  it("lists, reads, diffs any two versions and restores an old one as a new version", async () => {
    const scope = await newProject();
    const path = "src/app.ts";
    await saveFile({ ...scope, path, content: "const a = 1;\nconst b = 2;\n" }, deps());
    await saveFile({ ...scope, path, content: "const a = 1;\nconst b = 3;\n", baseVersion: 1 }, deps());
    await saveFile(
      { ...scope, path, content: "const a = 1;\nconst b = 3;\nconst c = 4;\n", baseVersion: 2 },
      deps(),
    );

    const versions = await listFileVersions({ ...scope, path }, deps());
    expect(versions.map((v) => v.version)).toEqual([3, 2, 1]);
    expect(versions[0]).toMatchObject({ path, source: "edit" });
    expect(await listFileVersions({ ...scope, path, limit: 1, before: 3 }, deps())).toHaveLength(1);

    const v1 = await readFileVersion({ ...scope, path, version: 1 }, deps());
    expect(v1).toMatchObject({
      version: 1,
      content: "const a = 1;\nconst b = 2;\n",
      isBinary: false,
      source: "create",
    });
    expect((await rejection(readFileVersion({ ...scope, path, version: 9 }, deps()))).code).toBe("NOT_FOUND");

    const { diff } = await diffFileVersions({ ...scope, path, from: 1, to: 3 }, deps());
    expect(diff).toContain(`--- a/${path}\tversion 1`);
    expect(diff).toContain(`+++ b/${path}\tversion 3`);
    expect(diff).toContain("-const b = 2;");
    expect(diff).toContain("+const b = 3;");
    expect(diff).toContain("+const c = 4;");
    // Backwards works too.
    expect((await diffFileVersions({ ...scope, path, from: 3, to: 1 }, deps())).diff).toContain(
      "-const c = 4;",
    );

    const stale = await rejection(restoreFileVersion({ ...scope, path, version: 1, baseVersion: 2 }, deps()));
    expect(stale).toMatchObject({ code: "CONFLICT", details: { currentVersion: 3 } });

    expect(await restoreFileVersion({ ...scope, path, version: 1, baseVersion: 3 }, deps())).toEqual({
      path,
      version: 4,
    });
    const current = await readFile({ ...scope, path }, deps());
    expect(current).toMatchObject({ version: 4, content: v1.content });
    expect((await listFileVersions({ ...scope, path }, deps()))[0]).toMatchObject({
      version: 4,
      source: "restore",
    });
  });
});
