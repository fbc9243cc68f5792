import { describe, expect, it } from "vitest";
import { isAppError } from "#app/lib/app-error.ts";
import {
  ancestorFolders,
  baseName,
  folderOf,
  isInFolder,
  languageForPath,
  MAX_PATH_LENGTH,
  normalizeProjectPath,
  tryNormalizeProjectPath,
} from "./paths.ts";
import { ZFilePath } from "./projects.types.ts";

function refusal(input: string): string {
  try {
    normalizeProjectPath(input);
  } catch (error) {
    expect(isAppError(error)).toBe(true);
    expect((error as { code: string }).code).toBe("BAD_REQUEST");
    return (error as Error).message;
  }
  throw new Error(`${JSON.stringify(input)} was accepted`);
}

describe("normalizeProjectPath", () => {
  it("keeps ordinary relative paths as they are", () => {
    expect(normalizeProjectPath("src/index.ts")).toBe("src/index.ts");
    expect(normalizeProjectPath("README.md")).toBe("README.md");
    expect(normalizeProjectPath(".github/workflows/ci.yml")).toBe(".github/workflows/ci.yml");
    expect(normalizeProjectPath("a b/c-d_e.f")).toBe("a b/c-d_e.f");
    expect(normalizeProjectPath("..foo/bar..")).toBe("..foo/bar..");
  });

  it("drops `.` segments and turns backslashes into separators", () => {
    expect(normalizeProjectPath("./src/./a.ts")).toBe("src/a.ts");
    expect(normalizeProjectPath("src\\lib\\a.ts")).toBe("src/lib/a.ts");
  });

  it.each([
    ["../etc/passwd", "leaves its folder"],
    ["src/../../x", "leaves its folder"],
    ["a/..", "leaves its folder"],
    ["..\\..\\windows\\system32", "leaves its folder"],
    ["/etc/passwd", "is absolute"],
    ["\\\\server\\share\\x", "is absolute"],
    ["\\abs", "is absolute"],
    ["C:\\Windows\\x.dll", "names a drive"],
    ["c:/x", "names a drive"],
    ["C:x", "names a drive"],
    ["a\u0000b", "control character"],
    ["a\nb", "control character"],
    ["a\u0085b", "control character"],
    ["a//b", "empty segment"],
    ["a/", "empty segment"],
    ["", "is empty"],
    ["   ", "is empty"],
    [".", "is empty"],
    ["./.", "is empty"],
  ])("refuses %j (%s)", (input, why) => {
    const message = refusal(input);
    expect(message).toMatch(/^Unsafe path: /);
    expect(message).toContain(why);
  });

  it("refuses paths over the length limit", () => {
    expect(normalizeProjectPath("a".repeat(MAX_PATH_LENGTH))).toHaveLength(MAX_PATH_LENGTH);
    expect(refusal("a".repeat(MAX_PATH_LENGTH + 1))).toContain("longer than 512");
  });

  it("keeps unicode, NFC-normalised", () => {
    expect(normalizeProjectPath("docs/日本語/читать.md")).toBe("docs/日本語/читать.md");
    expect(normalizeProjectPath("emoji/🚀 launch.ts")).toBe("emoji/🚀 launch.ts");
    // "é" as e + combining acute (NFD, what macOS file names use) becomes the single code point.
    const nfd = "cafe\u0301.txt";
    expect(normalizeProjectPath(nfd)).toBe("caf\u00e9.txt");
  });

  it("tryNormalizeProjectPath answers null instead of throwing", () => {
    expect(tryNormalizeProjectPath("../x")).toBeNull();
    expect(tryNormalizeProjectPath("x")).toBe("x");
  });

  it("ZFilePath carries the same message as a zod issue", () => {
    const result = ZFilePath.safeParse("../../etc/passwd");
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toMatch(/^Unsafe path: .*leaves its folder/);
    expect(ZFilePath.parse("src\\a.ts")).toBe("src/a.ts");
  });
});

describe("path helpers", () => {
  it("split paths into names and folders", () => {
    expect(baseName("src/lib/a.ts")).toBe("a.ts");
    expect(baseName("a.ts")).toBe("a.ts");
    expect(folderOf("src/lib/a.ts")).toBe("src/lib");
    expect(folderOf("a.ts")).toBe("");
    expect(ancestorFolders("a/b/c.ts")).toEqual(["a", "a/b"]);
    expect(ancestorFolders("c.ts")).toEqual([]);
    expect(isInFolder("src/a.ts", "src")).toBe(true);
    expect(isInFolder("srcx/a.ts", "src")).toBe(false);
  });
});

describe("languageForPath", () => {
  it.each([
    ["src/a.ts", "typescript"],
    ["src/App.tsx", "typescript"],
    ["index.js", "javascript"],
    ["lib/x.mjs", "javascript"],
    ["package.json", "json"],
    ["README.md", "markdown"],
    ["main.py", "python"],
    ["main.go", "go"],
    ["lib.rs", "rust"],
    ["Main.java", "java"],
    ["x.c", "c"],
    ["x.h", "c"],
    ["x.cpp", "cpp"],
    ["x.cs", "csharp"],
    ["style.css", "css"],
    ["style.scss", "scss"],
    ["index.html", "html"],
    ["ci.yml", "yaml"],
    ["Cargo.toml", "ini"],
    ["run.sh", "shell"],
    ["schema.sql", "sql"],
    ["Dockerfile", "dockerfile"],
    ["docker/Dockerfile.dev", "dockerfile"],
    ["Makefile", "shell"],
    [".env.local", "ini"],
    [".gitignore", "plaintext"],
    ["LICENSE", "plaintext"],
    ["photo.PNG", "plaintext"],
    ["UPPER.TS", "typescript"],
  ])("%s → %s", (path, language) => {
    expect(languageForPath(path)).toBe(language);
  });
});
