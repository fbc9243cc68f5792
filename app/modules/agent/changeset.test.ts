import { mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { tempDirs } from "#tests/sandbox/helpers.ts";
import { applyHunks, computeChangeSet, replaceAllPatch } from "./changeset.server.ts";
import type { BaseSnapshot } from "./workspace.server.ts";

const tempDir = tempDirs();

/** A workspace holding `files`, and the base snapshot they were (all at version 1 unless given). */
function workspace(files: Record<string, string | Buffer>) {
  const dir = tempDir();
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), content);
  }
  const write = (rel: string, content: string | Buffer) => {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), content);
  };
  return { dir, write, remove: (rel: string) => rmSync(path.join(dir, rel)) };
}

const numbered = (n: number, label = "line") =>
  Array.from({ length: n }, (_, i) => `${label} ${i + 1}\n`).join("");

describe("computeChangeSet", () => {
  it("reports added, modified and deleted files with per-file diffs and pending hunks", async () => {
    const base: BaseSnapshot = new Map([
      ["src/a.ts", { version: 3, content: "const a = 1;\nconst b = 2;\n" }],
      ["src/same.ts", { version: 1, content: "same\n" }],
      ["old.txt", { version: 2, content: "bye\n" }],
    ]);
    const ws = workspace({
      "src/a.ts": "const a = 1;\nconst b = 20;\n",
      "src/same.ts": "same\n",
      "new.md": "# new\n",
    });
    const result = await computeChangeSet({ base, dir: ws.dir });
    expect(result.files.map((f) => [f.path, f.status, f.baseVersion])).toEqual([
      ["new.md", "added", null],
      ["old.txt", "deleted", 2],
      ["src/a.ts", "modified", 3],
    ]);
    const modified = result.files.find((f) => f.path === "src/a.ts")!;
    expect(modified.hunks).toEqual([{ index: 0, header: "@@ -1,2 +1,2 @@", status: "pending" }]);
    expect(modified.diff).toBe(
      [
        "===================================================================",
        "--- a/src/a.ts\tversion 3",
        "+++ b/src/a.ts\tworkspace",
        "@@ -1,2 +1,2 @@",
        " const a = 1;",
        "-const b = 2;",
        "+const b = 20;",
        "",
      ].join("\n"),
    );
    const added = result.files.find((f) => f.path === "new.md")!;
    expect(added.diff).toContain("--- /dev/null");
    expect(added.hunks).toEqual([{ index: 0, header: "@@ -0,0 +1,1 @@", status: "pending" }]);
    const deleted = result.files.find((f) => f.path === "old.txt")!;
    expect(deleted.diff).toContain("+++ /dev/null");
    expect(deleted.hunks[0]!.header).toBe("@@ -1,1 +0,0 @@");
    expect(result.stats).toEqual({
      files: 3,
      added: 1,
      modified: 1,
      deleted: 1,
      binary: 0,
      additions: 2,
      deletions: 2,
    });
    expect(result.diff).toBe(result.files.map((f) => f.diff).join(""));
    expect(result.skipped).toEqual([]);
  });

  it("answers an empty change for an untouched workspace", async () => {
    const base: BaseSnapshot = new Map([["a.txt", { version: 1, content: "a\n" }]]);
    const ws = workspace({ "a.txt": "a\n" });
    const result = await computeChangeSet({ base, dir: ws.dir });
    expect(result).toMatchObject({ diff: "", files: [], stats: { files: 0 } });
  });

  it("flags binary and too large files without hunks; a binary base file never written is not deleted", async () => {
    const base: BaseSnapshot = new Map([
      ["logo.png", { version: 1, content: "", binary: true }],
      ["icon.png", { version: 4, content: "", binary: true }],
      ["data.txt", { version: 1, content: "text\n" }],
    ]);
    const ws = workspace({
      "data.txt": Buffer.from([0x00, 0xff, 0x10]),
      "icon.png": Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00]),
      "out.bin": Buffer.from([0xff, 0xfe, 0xfd]),
      "big.txt": "x".repeat(2000),
    });
    const result = await computeChangeSet({ base, dir: ws.dir, maxFileBytes: 1000 });
    expect(
      result.files.map((f) => ({
        path: f.path,
        status: f.status,
        binary: f.binary,
        tooLarge: f.tooLarge,
        hunks: f.hunks.length,
      })),
    ).toEqual([
      { path: "big.txt", status: "added", binary: undefined, tooLarge: true, hunks: 0 },
      { path: "data.txt", status: "modified", binary: true, tooLarge: undefined, hunks: 0 },
      { path: "icon.png", status: "modified", binary: true, tooLarge: undefined, hunks: 0 },
      { path: "out.bin", status: "added", binary: true, tooLarge: undefined, hunks: 0 },
    ]);
    expect(result.files.find((f) => f.path === "out.bin")!.diff).toBe(
      "Binary files /dev/null and b/out.bin differ\n",
    );
    expect(result.stats.binary).toBe(4);
  });

  it("skips ignored folders, links and special names (and says so), but diffs ignored-name folders the project uses", async () => {
    const base: BaseSnapshot = new Map([
      ["build/keep.ts", { version: 1, content: "old\n" }],
      ["src/a.ts", { version: 1, content: "a\n" }],
    ]);
    const ws = workspace({
      "build/keep.ts": "new\n",
      "src/a.ts": "a\n",
      "node_modules/pkg/index.js": "module.exports = 1;\n",
      "dist/bundle.js": "x",
      ".git/HEAD": "ref: refs/heads/main\n",
      "src/.DS_Store": "junk",
    });
    symlinkSync("/etc/passwd", path.join(ws.dir, "passwd"));
    const result = await computeChangeSet({ base, dir: ws.dir });
    expect(result.files.map((f) => [f.path, f.status])).toEqual([["build/keep.ts", "modified"]]);
    expect(result.skipped).toEqual([
      { path: ".git/", reason: "ignored folder" },
      { path: "dist/", reason: "ignored folder" },
      { path: "node_modules/", reason: "ignored folder" },
      { path: "passwd", reason: "symbolic link (not followed; a project cannot hold links)" },
      { path: "src/.DS_Store", reason: "ignored file" },
    ]);
    expect(result.diff).not.toContain("root:");
  });

  it("does not count a base file replaced by a link as deleted, nor read through it", async () => {
    const base: BaseSnapshot = new Map([["a.txt", { version: 1, content: "a\n" }]]);
    const ws = workspace({});
    symlinkSync("/etc/passwd", path.join(ws.dir, "a.txt"));
    const result = await computeChangeSet({ base, dir: ws.dir });
    expect(result.files).toEqual([]);
    expect(result.skipped).toEqual([
      { path: "a.txt", reason: "symbolic link (not followed; a project cannot hold links)" },
    ]);
  });
});

/** All subsets of hunk indexes 0..n-1. */
function subsets(n: number): number[][] {
  const out: number[][] = [];
  for (let mask = 0; mask < 1 << n; mask += 1) out.push([...Array(n).keys()].filter((i) => mask & (1 << i)));
  return out;
}

async function changeOf(base: string, next: string) {
  const ws = workspace({ "f.txt": next });
  const result = await computeChangeSet({
    base: new Map([["f.txt", { version: 1, content: base }]]),
    dir: ws.dir,
  });
  return result.files[0]!;
}

describe("applyHunks", () => {
  it("accepting every hunk gives the workspace version, none gives the base, one gives only that change", async () => {
    const base = numbered(40);
    const next = base
      .replace("line 2\n", "line two\n")
      .replace("line 20\n", "line twenty\nextra\n")
      .replace("line 38\n", "");
    const file = await changeOf(base, next);
    expect(file.hunks.map((h) => h.index)).toEqual([0, 1, 2]);
    expect(applyHunks({ content: base, diff: file.diff, accept: [0, 1, 2] })).toEqual({
      ok: true,
      content: next,
    });
    expect(applyHunks({ content: base, diff: file.diff, accept: [] })).toEqual({ ok: true, content: base });
    expect(applyHunks({ content: base, diff: file.diff, accept: [1] })).toEqual({
      ok: true,
      content: base.replace("line 20\n", "line twenty\nextra\n"),
    });
    expect(applyHunks({ content: base, diff: file.diff, accept: [0, 2] })).toEqual({
      ok: true,
      content: base.replace("line 2\n", "line two\n").replace("line 38\n", ""),
    });
  });

  it("handles added and deleted files, CRLF and missing final newlines", async () => {
    const pairs: Array<[string, string]> = [
      ["", "new file\nwith lines\n"],
      ["going away\n", ""],
      ["a\r\nb\r\nc\r\n", "a\r\nB\r\nc\r\n"],
      ["a\nb\nc", "a\nb\nc\n"],
      ["a\nb\nc\n", "a\nb\nC"],
      ["x", "y"],
      [numbered(10), `${numbered(10)}tail without newline`],
    ];
    for (const [base, next] of pairs) {
      const file = await changeOf(base, next);
      const all = file.hunks.map((h) => h.index);
      expect(
        applyHunks({ content: base, diff: file.diff, accept: all }),
        JSON.stringify([base, next]),
      ).toEqual({
        ok: true,
        content: next,
      });
      expect(applyHunks({ content: base, diff: file.diff, accept: [] })).toEqual({ ok: true, content: base });
    }
  });

  it("every subset of hunks applies cleanly on random edits (all = workspace, none = base)", async () => {
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let round = 0; round < 25; round += 1) {
      const lines = numbered(30 + Math.floor(random() * 40)).split(/(?<=\n)/);
      const edited = [...lines];
      for (let edit = 0; edit < 5; edit += 1) {
        const at = Math.floor(random() * edited.length);
        const kind = random();
        if (kind < 0.33) edited.splice(at, 1);
        else if (kind < 0.66) edited.splice(at, 0, `inserted ${round}.${edit}\n`);
        else edited[at] = `changed ${round}.${edit}\n`;
      }
      const base = lines.join("");
      const next = edited.join("");
      const file = await changeOf(base, next);
      if (base === next) continue;
      for (const accept of subsets(Math.min(file.hunks.length, 4))) {
        const result = applyHunks({ content: base, diff: file.diff, accept });
        expect(result.ok).toBe(true);
      }
      expect(applyHunks({ content: base, diff: file.diff, accept: file.hunks.map((h) => h.index) })).toEqual({
        ok: true,
        content: next,
      });
      expect(applyHunks({ content: base, diff: file.diff, accept: [] })).toEqual({ ok: true, content: base });
    }
  });

  it("applies onto a file that moved on elsewhere, and reports a conflict where it changed", async () => {
    const base = numbered(30);
    const next = base.replace("line 25\n", "line twenty-five\n");
    const file = await changeOf(base, next);
    const shifted = `header 1\nheader 2\n${base}`;
    expect(applyHunks({ content: shifted, diff: file.diff, accept: [0] })).toEqual({
      ok: true,
      content: `header 1\nheader 2\n${next}`,
    });
    const clashing = base.replace("line 24\n", "line 24 edited by someone\n");
    expect(applyHunks({ content: clashing, diff: file.diff, accept: [0] })).toEqual({
      ok: false,
      conflicts: [0],
      message: "The file changed where hunk 0 would apply; nothing was applied",
    });
    // A rejected hunk never conflicts.
    expect(applyHunks({ content: clashing, diff: file.diff, accept: [] })).toEqual({
      ok: true,
      content: clashing,
    });
  });

  it("applies the whole-file fallback used when a diff takes too long", () => {
    const pairs: Array<[string, string]> = [
      ["a\nb\n", "c\nd"],
      ["", "x\n"],
      ["x", ""],
      ["p\r\nq\r\n", "r\r\n"],
    ];
    for (const [base, next] of pairs) {
      const diff = replaceAllPatch("a/f", "b/f", base, next, "version 1", "workspace");
      expect(applyHunks({ content: base, diff, accept: [0] })).toEqual({ ok: true, content: next });
      expect(applyHunks({ content: base, diff, accept: [] })).toEqual({ ok: true, content: base });
    }
  });

  it("refuses hunk indexes the diff does not have", async () => {
    const file = await changeOf("a\n", "b\n");
    expect(() => applyHunks({ content: "a\n", diff: file.diff, accept: [1] })).toThrow(
      "Hunk 1 does not exist (this file has 1)",
    );
    expect(() => applyHunks({ content: "a\n", diff: file.diff, accept: [-1] })).toThrow(/does not exist/);
  });
});
