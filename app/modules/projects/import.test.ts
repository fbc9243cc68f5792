import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { strToU8, unzipSync, zipSync } from "fflate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUser } from "#tests/factories/index.ts";
import { buildZip, deflatedZeros } from "#tests/factories/projects.ts";
import { rejection } from "#tests/setup/assertions.ts";
import { setupTestDatabase } from "#tests/setup/database.ts";
import { sha256Hex } from "./deps.server.ts";
import { exportZip } from "./export.server.ts";
import { listFiles, readFile, saveFile } from "./files.server.ts";
import { importLocalDirectory, importZip } from "./import.server.ts";
import { createProject } from "./projects.server.ts";
import { listFileVersions } from "./versions.server.ts";

const database = setupTestDatabase();
const deps = () => ({ db: database.db });

async function newProject() {
  const user = await createUser(database.db);
  const project = await createProject({ userId: user.id, name: "Imported" }, deps());
  return { userId: user.id, projectId: project.id };
}

const zip = (files: Record<string, string | Uint8Array>) =>
  zipSync(
    Object.fromEntries(Object.entries(files).map(([k, v]) => [k, typeof v === "string" ? strToU8(v) : v])),
  );

const PNG = new Uint8Array([
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52,
]);

describe("importZip", () => {
  it("imports text files with language, version 1 and an `import` FileVersion each", async () => {
    const scope = await newProject();
    const result = await importZip(
      {
        ...scope,
        data: zip({ "src/index.ts": "export {};\n", "README.md": "# Hi\n", "a/b/c.py": "print(1)\n" }),
      },
      deps(),
    );
    expect(result).toEqual({ created: 3, updated: 0, unchanged: 0, skipped: [] });
    const files = await listFiles(scope, deps());
    expect(files.map((f) => [f.path, f.language, f.version])).toEqual([
      ["README.md", "markdown", 1],
      ["a/b/c.py", "python", 1],
      ["src/index.ts", "typescript", 1],
    ]);
    expect((await readFile({ ...scope, path: "a/b/c.py" }, deps())).content).toBe("print(1)\n");
    const versions = await listFileVersions({ ...scope, path: "src/index.ts" }, deps());
    expect(versions).toMatchObject([{ version: 1, source: "import", sha256: sha256Hex("export {};\n") }]);
  });

  it("strips a single top folder (GitHub's repo-main/), but not when files sit at the root", async () => {
    const scope = await newProject();
    await importZip(
      {
        ...scope,
        data: zip({ "repo-main/package.json": "{}", "repo-main/src/a.ts": "a", "repo-main/.gitignore": "x" }),
      },
      deps(),
    );
    expect((await listFiles(scope, deps())).map((f) => f.path)).toEqual([
      ".gitignore",
      "package.json",
      "src/a.ts",
    ]);

    const other = await newProject();
    await importZip({ ...other, data: zip({ "top/a.ts": "a", "root.ts": "r" }) }, deps());
    expect((await listFiles(other, deps())).map((f) => f.path)).toEqual(["root.ts", "top/a.ts"]);
  });

  it("skips node_modules/, .git/, dist/, __MACOSX/ and .DS_Store, reporting each folder once", async () => {
    const scope = await newProject();
    const result = await importZip(
      {
        ...scope,
        data: zip({
          "app/src/a.ts": "a",
          "app/node_modules/left-pad/index.js": "x",
          "app/node_modules/left-pad/package.json": "{}",
          "app/packages/p/node_modules/q/i.js": "x",
          "app/.git/HEAD": "ref",
          "app/dist/bundle.js": "x",
          "app/.DS_Store": "x",
          "app/src/.DS_Store": "x",
          "__MACOSX/app/._a.ts": "x",
          "app/distribution/keep.md": "kept: only whole segments match",
        }),
      },
      deps(),
    );
    expect((await listFiles(scope, deps())).map((f) => f.path)).toEqual(["distribution/keep.md", "src/a.ts"]);
    expect(result.created).toBe(2);
    expect(result.skipped).toEqual(
      expect.arrayContaining([
        { path: "node_modules/", reason: "ignored folder (node_modules/)" },
        { path: "packages/p/node_modules/", reason: "ignored folder (node_modules/)" },
        { path: ".git/", reason: "ignored folder (.git/)" },
        { path: "dist/", reason: "ignored folder (dist/)" },
        { path: ".DS_Store", reason: "ignored file (.DS_Store)" },
        { path: "src/.DS_Store", reason: "ignored file (.DS_Store)" },
        { path: "__MACOSX/", reason: "ignored folder (__MACOSX/)" },
      ]),
    );
    expect(result.skipped).toHaveLength(7);
  });

  it("keeps binary files as metadata (NUL in the first 8 KB, or not UTF-8); keeps a BOM as it is", async () => {
    const scope = await newProject();
    const latin1 = new Uint8Array([0x63, 0x61, 0x66, 0xe9, 0x0a]); // "café" in Latin-1: not UTF-8
    const bom = "\ufeffwith bom\n";
    const result = await importZip(
      { ...scope, data: zip({ "img/logo.png": PNG, "legacy.txt": latin1, "bom.txt": bom, "ok.txt": "ok" }) },
      deps(),
    );
    expect(result.created).toBe(4);
    const png = await readFile({ ...scope, path: "img/logo.png" }, deps());
    expect(png).toMatchObject({
      isBinary: true,
      content: "",
      size: PNG.byteLength,
      sha256: sha256Hex(PNG),
      language: null,
    });
    expect(await readFile({ ...scope, path: "legacy.txt" }, deps())).toMatchObject({
      isBinary: true,
      size: 5,
    });
    const withBom = await readFile({ ...scope, path: "bom.txt" }, deps());
    expect(withBom).toMatchObject({ isBinary: false, content: bom, sha256: sha256Hex(strToU8(bom)) });
  });

  it("round-trips unicode entry names (flagged UTF-8 or not) and NFC-normalises them", async () => {
    const scope = await newProject();
    const data = buildZip([
      { name: "docs/日本語.md", data: "# 日本語\n" },
      { name: "src/cafe\u0301 🚀.ts", data: "export const ok = '✓';\n" },
      // An archiver that writes UTF-8 without setting the flag (macOS Archive Utility does).
      { name: "ру/файл.py", data: "print('привет')\n", flags: 0 },
    ]);
    await importZip({ ...scope, data }, deps());
    expect((await listFiles(scope, deps())).map((f) => f.path).sort()).toEqual(
      ["docs/日本語.md", "src/café 🚀.ts", "ру/файл.py"].sort(),
    );
    expect((await readFile({ ...scope, path: "ру/файл.py" }, deps())).content).toBe("print('привет')\n");
  });

  it.each([
    ["../evil.sh", "leaves its folder"],
    ["ok/../../evil.sh", "leaves its folder"],
    ["/etc/cron.d/evil", "is absolute"],
    ["C:\\Windows\\evil.dll", "names a drive"],
    ["..\\..\\evil.bat", "leaves its folder"],
    ["a\u0000b", "control character"],
  ])("refuses the whole archive for the zip-slip entry %j", async (name, why) => {
    const scope = await newProject();
    const data = buildZip([
      { name: "good.txt", data: "fine" },
      { name, data: "pwned" },
    ]);
    const error = await rejection(importZip({ ...scope, data }, deps()));
    expect(error.code).toBe("BAD_REQUEST");
    expect(error.message).toContain("Unsafe path");
    expect(error.message).toContain(why);
    expect(await listFiles(scope, deps())).toEqual([]);
  });

  it("never imports a symlink entry (skipped and reported)", async () => {
    const scope = await newProject();
    const data = buildZip([
      { name: "app/real.txt", data: "real" },
      { name: "app/passwd", data: "/etc/passwd", method: 0, unixMode: 0o120777 },
      { name: "app/up", data: "../../..", unixMode: 0o120755 },
    ]);
    const result = await importZip({ ...scope, data }, deps());
    expect(result.created).toBe(1);
    // Links count when the common top folder is looked for: app/ is stripped from them too.
    expect(result.skipped).toEqual([
      { path: "passwd", reason: "symbolic link (links are never imported)" },
      { path: "up", reason: "symbolic link (links are never imported)" },
    ]);
    expect((await listFiles(scope, deps())).map((f) => f.path)).toEqual(["real.txt"]);
  });

  it("refuses encrypted entries", async () => {
    const scope = await newProject();
    const data = buildZip([{ name: "secret.txt", data: "x", flags: 1 }]);
    const error = await rejection(importZip({ ...scope, data }, deps()));
    expect(error).toMatchObject({ code: "BAD_REQUEST" });
    expect(error.message).toContain("encrypted");
  });

  it("refuses what is not a zip, and a corrupt entry, with BAD_REQUEST", async () => {
    const scope = await newProject();
    expect(
      (await rejection(importZip({ ...scope, data: strToU8("just text, not a zip") }, deps()))).code,
    ).toBe("BAD_REQUEST");
    const good = buildZip([{ name: "a.txt", data: "hello hello hello" }]);
    // Flip a byte of the compressed data (after the 30-byte local header and the name): the CRC (or
    // inflate) catches it.
    const bad = good.slice();
    bad[36] = (bad[36] ?? 0) ^ 0xff;
    expect((await rejection(importZip({ ...scope, data: bad }, deps()))).code).toBe("BAD_REQUEST");
    expect(await listFiles(scope, deps())).toEqual([]);
  });

  it("refuses an oversize archive (413) before reading it", async () => {
    const scope = await newProject();
    const data = zip({ "a.txt": "x".repeat(10_000), "b.bin": crypto.getRandomValues(new Uint8Array(4096)) });
    const error = await rejection(importZip({ ...scope, data, limits: { maxArchiveBytes: 1024 } }, deps()));
    expect(error.code).toBe("PAYLOAD_TOO_LARGE");
    expect(error.message).toMatch(/archive is .* the limit is/);
  });

  it("refuses more files than allowed (413); skipped entries do not count", async () => {
    const scope = await newProject();
    const files: Record<string, string> = {};
    for (let i = 0; i < 11; i += 1) files[`f${i}.txt`] = String(i);
    const error = await rejection(
      importZip({ ...scope, data: zip(files), limits: { maxFiles: 10 } }, deps()),
    );
    expect(error.code).toBe("PAYLOAD_TOO_LARGE");
    expect(error.message).toBe("Too many files: 11 to import, the limit is 10");
    for (let i = 0; i < 5; i += 1) files[`node_modules/m${i}.js`] = "x";
    delete files["f10.txt"];
    const ok = await importZip({ ...scope, data: zip(files), limits: { maxFiles: 10 } }, deps());
    expect(ok.created).toBe(10);
  });

  it("refuses an archive that expands past the total limit (declared sizes, nothing inflated)", async () => {
    const scope = await newProject();
    const data = zip({ "a.txt": "a".repeat(600_000), "b.txt": "b".repeat(600_000) });
    const error = await rejection(
      importZip(
        { ...scope, data, limits: { maxTotalUncompressedBytes: 1_000_000, maxCompressionRatio: 10_000 } },
        deps(),
      ),
    );
    expect(error.code).toBe("PAYLOAD_TOO_LARGE");
    expect(error.message).toMatch(/expands to .* the limit is/);
  });

  describe("zip bombs", () => {
    let zeros: { compressed: Uint8Array; crc: number; size: number };
    beforeAll(async () => {
      zeros = await deflatedZeros(200 * 1024 * 1024);
      // 200 MB of zeros fits in a few hundred KB.
      expect(zeros.compressed.byteLength).toBeLessThan(400 * 1024);
    });

    async function refusedQuickly(data: Uint8Array, scope: { userId: string; projectId: string }) {
      globalThis.gc?.();
      const rssBefore = process.memoryUsage().rss;
      const started = performance.now();
      const error = await rejection(importZip({ ...scope, data }, deps()));
      const ms = performance.now() - started;
      const grownMb = (process.memoryUsage().rss - rssBefore) / 1024 / 1024;
      console.info(
        `zip bomb refused in ${ms.toFixed(0)} ms, rss +${grownMb.toFixed(1)} MB: ${error.message}`,
      );
      expect(error.code).toBe("PAYLOAD_TOO_LARGE");
      expect(error.message).toContain("zip bomb");
      expect(ms).toBeLessThan(2_000);
      // Inflating it all would take 200 MB at least.
      expect(grownMb).toBeLessThan(64);
      expect(await listFiles(scope, deps())).toEqual([]);
    }

    it("200 MB of zeros with honest headers: refused by its ratio before inflating", async () => {
      const scope = await newProject();
      await refusedQuickly(
        buildZip([
          { name: "a.txt", data: "fine" },
          { name: "zeros.bin", raw: zeros },
        ]),
        scope,
      );
    });

    it("200 MB of zeros declaring 1 MB: inflation stops at the declared size", async () => {
      const scope = await newProject();
      await refusedQuickly(buildZip([{ name: "zeros.bin", raw: zeros, declaredSize: 1024 * 1024 }]), scope);
    });

    it("200 MB of zeros declaring 10 MB (past the text limit, so streamed): stops at the declared size", async () => {
      const scope = await newProject();
      // Declared 10 MB from ~200 KB: a ratio of ~50, under the limit; the stream still stops at 10 MB.
      await refusedQuickly(
        buildZip([{ name: "zeros.bin", raw: zeros, declaredSize: 10 * 1024 * 1024 }]),
        scope,
      );
    });
  });

  it("skips text files over the per-file limit; keeps large binaries as metadata", async () => {
    const scope = await newProject();
    const bigBinary = new Uint8Array(3 * 1024 * 1024);
    crypto.getRandomValues(bigBinary.subarray(0, 65_536));
    bigBinary[10] = 0;
    const result = await importZip(
      {
        ...scope,
        data: zip({ "big.txt": "x".repeat(2 * 1024 * 1024 + 1), "big.bin": bigBinary, "small.txt": "s" }),
        limits: { maxCompressionRatio: 100_000 },
      },
      deps(),
    );
    expect(result.created).toBe(2);
    expect(result.skipped).toEqual([{ path: "big.txt", reason: "text file larger than 2 MB" }]);
    expect(await readFile({ ...scope, path: "big.bin" }, deps())).toMatchObject({
      isBinary: true,
      size: bigBinary.byteLength,
      sha256: sha256Hex(bigBinary),
    });
  });

  it("re-import: new files created, changed ones get a new version, identical ones untouched", async () => {
    const scope = await newProject();
    await importZip({ ...scope, data: zip({ "a.ts": "a1", "b.ts": "b1" }) }, deps());
    const result = await importZip(
      { ...scope, data: zip({ "a.ts": "a2", "b.ts": "b1", "c.ts": "c1" }) },
      deps(),
    );
    expect(result).toEqual({ created: 1, updated: 1, unchanged: 1, skipped: [] });
    expect(await readFile({ ...scope, path: "a.ts" }, deps())).toMatchObject({ content: "a2", version: 2 });
    expect(await readFile({ ...scope, path: "b.ts" }, deps())).toMatchObject({ version: 1 });
    expect(
      (await listFileVersions({ ...scope, path: "a.ts" }, deps())).map((v) => [v.version, v.source]),
    ).toEqual([
      [2, "import"],
      [1, "import"],
    ]);
  });

  it("skips entries that would mix a file and a folder of one name, and duplicates", async () => {
    const scope = await newProject();
    await saveFile({ ...scope, path: "lib", content: "a file called lib" }, deps());
    await saveFile({ ...scope, path: "docs/x.md", content: "x" }, deps());
    const result = await importZip(
      {
        ...scope,
        data: buildZip([
          { name: "lib/a.ts", data: "under a file" },
          { name: "docs", data: "over a folder" },
          { name: "src/a.ts", data: "first" },
          { name: "src\\a.ts", data: "second, same path" },
          { name: "x", data: "file" },
          { name: "x/y", data: "and folder in the archive" },
        ]),
      },
      deps(),
    );
    expect(result.created).toBe(2);
    expect(result.skipped).toEqual(
      expect.arrayContaining([
        { path: "src/a.ts", reason: "duplicate entry" },
        { path: "x", reason: "a folder of the same name is also in the archive" },
        { path: "lib/a.ts", reason: "the project has a file at lib" },
        { path: "docs", reason: "the project has a folder of that name" },
      ]),
    );
    expect((await readFile({ ...scope, path: "src/a.ts" }, deps())).content).toBe("first");
  });

  it("another user's project is NOT_FOUND", async () => {
    const scope = await newProject();
    const stranger = await createUser(database.db);
    const error = await rejection(
      importZip({ userId: stranger.id, projectId: scope.projectId, data: zip({ "a.txt": "a" }) }, deps()),
    );
    expect(error.code).toBe("NOT_FOUND");
    expect(await listFiles(scope, deps())).toEqual([]);
  });

  it("imports 5,000 small files in well under 10 s", async () => {
    const scope = await newProject();
    const files: Record<string, string> = {};
    for (let i = 0; i < 5_000; i += 1) {
      files[`repo-main/src/module${Math.floor(i / 100)}/file${i}.ts`] =
        `// file ${i}\nexport function f${i}(x: number): number {\n  return x * ${i};\n}\n`;
    }
    const data = zip(files);
    const started = performance.now();
    const result = await importZip({ ...scope, data }, deps());
    const ms = performance.now() - started;
    console.info(
      `imported 5,000 files (${(data.byteLength / 1024).toFixed(0)} KB zip) in ${ms.toFixed(0)} ms`,
    );
    expect(result.created).toBe(5_000);
    expect(ms).toBeLessThan(10_000);
    expect(await database.db.codeSnippet.count({ where: { projectId: scope.projectId } })).toBe(5_000);
    expect(await database.db.fileVersion.count({ where: { projectId: scope.projectId } })).toBe(5_000);
  }, 60_000);
});

describe("exportZip", () => {
  it("round trip: import → export → import gives the same files (binaries are left out of exports)", async () => {
    const first = await newProject();
    const source = {
      "src/index.ts": "export const a = 1;\n",
      "docs/日本語.md": "# 日本語\n",
      "empty.txt": "",
      "bom.txt": "\ufeffbom\n",
      "img/logo.png": PNG,
    };
    await importZip({ ...first, data: zip(source) }, deps());
    const exported = await exportZip(first, deps());
    const entries = unzipSync(exported);
    expect(Object.keys(entries).sort()).toEqual(["bom.txt", "docs/日本語.md", "empty.txt", "src/index.ts"]);

    const second = await newProject();
    await importZip({ ...second, data: exported }, deps());
    const shape = async (scope: { userId: string; projectId: string }) =>
      (await listFiles(scope, deps())).filter((f) => !f.isBinary).map((f) => [f.path, f.size]);
    expect(await shape(second)).toEqual(await shape(first));
    for (const [p] of await shape(first)) {
      const a = await readFile({ ...first, path: p as string }, deps());
      const b = await readFile({ ...second, path: p as string }, deps());
      expect(b.sha256).toBe(a.sha256);
      expect(b.content).toBe(a.content);
    }
  });

  it("exports the files as they were at a past time", async () => {
    const scope = await newProject();
    await saveFile({ ...scope, path: "a.txt", content: "a v1" }, deps());
    await saveFile({ ...scope, path: "b.txt", content: "b v1" }, deps());
    await new Promise((resolve) => setTimeout(resolve, 20));
    const at = new Date();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await saveFile({ ...scope, path: "a.txt", content: "a v2", baseVersion: 1 }, deps());
    await saveFile({ ...scope, path: "c.txt", content: "c, created later" }, deps());

    const decode = (data: Uint8Array) =>
      Object.fromEntries(Object.entries(unzipSync(data)).map(([k, v]) => [k, new TextDecoder().decode(v)]));
    expect(decode(await exportZip({ ...scope, at }, deps()))).toEqual({ "a.txt": "a v1", "b.txt": "b v1" });
    expect(decode(await exportZip(scope, deps()))).toEqual({
      "a.txt": "a v2",
      "b.txt": "b v1",
      "c.txt": "c, created later",
    });
    expect(decode(await exportZip({ ...scope, at: new Date(0) }, deps()))).toEqual({});
  });

  it("another user's project is NOT_FOUND", async () => {
    const scope = await newProject();
    const stranger = await createUser(database.db);
    expect(
      (await rejection(exportZip({ userId: stranger.id, projectId: scope.projectId }, deps()))).code,
    ).toBe("NOT_FOUND");
  });
});

describe("importLocalDirectory", () => {
  let dir: string;
  let outside: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "agentry-import-"));
    outside = await mkdtemp(path.join(tmpdir(), "agentry-outside-"));
    await writeFile(path.join(outside, "secret.txt"), "do not import");
    await mkdir(path.join(dir, "src"), { recursive: true });
    await mkdir(path.join(dir, "node_modules/x"), { recursive: true });
    await writeFile(path.join(dir, "src/a.ts"), "export const a = 1;\n");
    await writeFile(path.join(dir, "node_modules/x/index.js"), "x");
    await writeFile(path.join(dir, "logo.png"), PNG);
    await symlink(path.join(outside, "secret.txt"), path.join(dir, "link.txt"));
    await symlink(outside, path.join(dir, "linked-dir"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
    await rm(outside, { recursive: true, force: true });
  });

  it("is FORBIDDEN unless the operator named a root, and outside that root", async () => {
    const scope = await newProject();
    const error = await rejection(importLocalDirectory({ ...scope, dir, allowedRoot: null }, deps()));
    expect(error.code).toBe("FORBIDDEN");
    expect(error.message).toContain("AGENTRY_LOCAL_IMPORT_ROOT");
    const elsewhere = await mkdtemp(path.join(tmpdir(), "agentry-root-"));
    try {
      const outside = await rejection(
        importLocalDirectory({ ...scope, dir, allowedRoot: elsewhere }, deps()),
      );
      expect(outside.code).toBe("FORBIDDEN");
      // A root that is a prefix of the name but not a parent folder does not count.
      const sibling = await rejection(
        importLocalDirectory({ ...scope, dir, allowedRoot: `${dir}-x` }, deps()),
      );
      expect(sibling.code).toBe("FORBIDDEN");
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });

  it("imports the directory, never following symlinks, skipping ignored folders", async () => {
    const scope = await newProject();
    const result = await importLocalDirectory({ ...scope, dir, allowedRoot: path.dirname(dir) }, deps());
    expect(result.created).toBe(2);
    expect(result.skipped).toEqual(
      expect.arrayContaining([
        { path: "link.txt", reason: "symbolic link (links are never imported)" },
        { path: "linked-dir", reason: "symbolic link (links are never imported)" },
        { path: "node_modules/", reason: "ignored folder (node_modules/)" },
      ]),
    );
    expect((await listFiles(scope, deps())).map((f) => [f.path, f.isBinary])).toEqual([
      ["logo.png", true],
      ["src/a.ts", false],
    ]);
  });

  it("refuses relative and missing directories", async () => {
    const scope = await newProject();
    expect(
      (
        await rejection(
          importLocalDirectory({ ...scope, dir: "relative/dir", allowedRoot: path.dirname(dir) }, deps()),
        )
      ).code,
    ).toBe("BAD_REQUEST");
    expect(
      (
        await rejection(
          importLocalDirectory(
            { ...scope, dir: path.join(dir, "missing"), allowedRoot: path.dirname(dir) },
            deps(),
          ),
        )
      ).code,
    ).toBe("BAD_REQUEST");
  });
});
