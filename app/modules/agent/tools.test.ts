import { execFileSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { tempDirs } from "#tests/sandbox/helpers.ts";
import { AGENT_TOOL_NAMES, type AgentTool, type ToolResult } from "./agent.types.ts";
import { type AgentToolCaps, capOutput, createAgentTools, globToRegExp } from "./tools.server.ts";

const tempDir = tempDirs();

function setup(options: { caps?: Partial<AgentToolCaps>; bwrapPath?: string; timeoutMs?: number } = {}) {
  const dir = tempDir();
  const outside = tempDir();
  const tools = createAgentTools({
    workspaceDir: dir,
    sandbox: {
      config: options.bwrapPath ? { bwrapPath: options.bwrapPath } : {},
      timeoutMs: options.timeoutMs ?? 30_000,
    },
    caps: options.caps,
  });
  const byName = new Map(tools.map((t) => [t.name, t]));
  const call = (
    name: string,
    input: unknown,
    onOutput?: (stream: "stdout" | "stderr", chunk: string) => void,
    signal: AbortSignal = new AbortController().signal,
  ): Promise<ToolResult> => (byName.get(name) as AgentTool).run(input, { signal, onOutput });
  const write = (rel: string, content: string | Buffer) => {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), content);
  };
  const read = (rel: string) => readFileSync(path.join(dir, rel), "utf8");
  return { dir, outside, tools, call, write, read };
}

describe("createAgentTools", () => {
  it("offers the built-in tools in order, each with a JSON Schema of its arguments", () => {
    const { tools } = setup();
    expect(tools.map((t) => t.name)).toEqual([...AGENT_TOOL_NAMES]);
    for (const tool of tools) {
      expect(tool.description.length).toBeGreaterThan(20);
      expect(tool.parameters).toMatchObject({ type: "object", additionalProperties: false });
    }
    const edit = tools.find((t) => t.name === "edit_file")!;
    expect(edit.parameters).toMatchObject({ required: ["path", "old_text", "new_text"] });
  });

  it("answers bad input with an error result, never a throw", async () => {
    const { call } = setup();
    const cases: Array<[string, unknown, RegExp]> = [
      ["read_file", {}, /Invalid input for read_file: path: /],
      ["read_file", { path: 42 }, /path must be a string/],
      ["read_file", { path: "a", start_line: 0 }, /start_line/],
      ["read_file", { path: "a", extra: 1 }, /extra/],
      ["write_file", { path: "a" }, /content must be a string/],
      ["edit_file", { path: "a", old_text: "", new_text: "x" }, /old_text must not be empty/],
      ["search", { pattern: "" }, /pattern must not be empty/],
      ["run_command", { command: "" }, /command must not be empty/],
      ["run_command", { command: "true", timeout_seconds: 31 }, /timeout_seconds can be at most 30/],
      ["finish", { summary: "   " }, /summary must not be empty/],
      ["list_files", "not json", /not a JSON object/],
      ["list_files", null, /./],
    ];
    for (const [name, input, message] of cases) {
      const result = await call(name, input);
      if (name === "list_files" && input === null) {
        // null means "no arguments": list_files has only optional ones.
        expect(result.isError, result.output).toBeFalsy();
        continue;
      }
      expect(result.isError, `${name} ${JSON.stringify(input)}`).toBe(true);
      expect(result.output).toMatch(message);
    }
  });

  it("accepts arguments given as a JSON string", async () => {
    const { call, write } = setup();
    write("a.txt", "hello\n");
    const result = await call("read_file", JSON.stringify({ path: "a.txt" }));
    expect(result.isError).toBeFalsy();
    expect(result.output).toContain("1\thello");
  });
});

describe("path safety (every file tool)", () => {
  it("refuses absolute paths and .. escapes", async () => {
    const { call, outside } = setup();
    writeFileSync(path.join(outside, "secret.txt"), "TOP SECRET");
    const attempts: Array<[string, Record<string, unknown>]> = [
      ["read_file", { path: "/etc/passwd" }],
      ["read_file", { path: path.join(outside, "secret.txt") }],
      ["read_file", { path: "../dir/../../secret.txt" }],
      ["read_file", { path: "a/../../x" }],
      ["read_file", { path: "..\\x" }],
      ["write_file", { path: "../escaped.txt", content: "x" }],
      ["write_file", { path: "/tmp/escaped.txt", content: "x" }],
      ["edit_file", { path: "../x", old_text: "a", new_text: "b" }],
      ["list_files", { path: ".." }],
      ["list_files", { path: "/" }],
      ["search", { pattern: "root", path: "/etc" }],
      ["search", { pattern: "root", path: "../" }],
      ["run_command", { command: "pwd", cwd: ".." }],
    ];
    for (const [name, input] of attempts) {
      const result = await call(name, input);
      expect(result.isError, `${name} ${JSON.stringify(input)}: ${result.output}`).toBe(true);
      expect(result.output).toMatch(/Absolute paths are not allowed|leaves its folder|Unsafe path/);
      expect(result.output).not.toContain("TOP SECRET");
      expect(result.output).not.toContain("root:x:0:0");
    }
    expect(existsSync(path.join(path.dirname(outside), "escaped.txt"))).toBe(false);
    expect(existsSync("/tmp/escaped.txt")).toBe(false);
  });

  it("never follows a symlink planted in the workspace (to /etc/passwd, to a file or folder outside)", async () => {
    const { call, dir, outside } = setup();
    writeFileSync(path.join(outside, "secret.txt"), "TOP SECRET\n");
    symlinkSync("/etc/passwd", path.join(dir, "passwd"));
    symlinkSync(path.join(outside, "secret.txt"), path.join(dir, "secret.txt"));
    symlinkSync(outside, path.join(dir, "out"));
    mkdirSync(path.join(dir, "src"));
    symlinkSync("../../", path.join(dir, "src", "up"));

    for (const input of [
      { path: "passwd" },
      { path: "secret.txt" },
      { path: "out/secret.txt" },
      { path: "src/up/dir/passwd" },
    ]) {
      const result = await call("read_file", input);
      expect(result.isError, result.output).toBe(true);
      expect(result.output).toMatch(/is a symbolic link; the file tools never follow links/);
      expect(result.output).not.toContain("TOP SECRET");
      expect(result.output).not.toContain("root:");
    }
    // Writing through a link (file or folder) changes nothing outside.
    for (const input of [
      { path: "secret.txt", content: "overwritten" },
      { path: "out/secret.txt", content: "overwritten" },
      { path: "out/new.txt", content: "planted" },
      { path: "passwd", content: "pwned" },
    ]) {
      const result = await call("write_file", input);
      expect(result.isError, result.output).toBe(true);
    }
    expect(readFileSync(path.join(outside, "secret.txt"), "utf8")).toBe("TOP SECRET\n");
    expect(existsSync(path.join(outside, "new.txt"))).toBe(false);
    const edit = await call("edit_file", { path: "secret.txt", old_text: "TOP", new_text: "NOT" });
    expect(edit.isError).toBe(true);
    expect(readFileSync(path.join(outside, "secret.txt"), "utf8")).toBe("TOP SECRET\n");

    // Listing shows the links without following them; search does not read through them.
    const list = await call("list_files", {});
    expect(list.output).toContain("passwd -> /etc/passwd (symbolic link, not followed)");
    expect(list.output).not.toContain("out/secret.txt");
    const search = await call("search", { pattern: "root:|TOP SECRET" });
    expect(search.isError).toBeFalsy();
    expect(search.output).toMatch(/^No matches/);
    const underLink = await call("search", { pattern: "SECRET", path: "out" });
    expect(underLink.isError).toBe(true);
    expect(underLink.output).toMatch(/symbolic link/);
    const cwdLink = await call("run_command", { command: "pwd", cwd: "out" });
    expect(cwdLink.isError).toBe(true);
    expect(cwdLink.output).toMatch(/symbolic link/);
  }, 60_000);

  it("writes through neither a hard link nor a special file", async () => {
    const { call, dir, outside } = setup();
    writeFileSync(path.join(outside, "target.txt"), "original\n");
    linkSync(path.join(outside, "target.txt"), path.join(dir, "hard.txt"));
    const result = await call("write_file", { path: "hard.txt", content: "changed\n" });
    expect(result.isError, result.output).toBeFalsy();
    expect(readFileSync(path.join(dir, "hard.txt"), "utf8")).toBe("changed\n");
    expect(readFileSync(path.join(outside, "target.txt"), "utf8")).toBe("original\n");

    execFileSync("mkfifo", [path.join(dir, "pipe")]);
    const read = await call("read_file", { path: "pipe" });
    expect(read.isError).toBe(true);
    expect(read.output).toMatch(/pipe is a named pipe, not a file/);
    const write = await call("write_file", { path: "pipe", content: "x" });
    expect(write.isError).toBe(true);
  });
});

describe("list_files", () => {
  it("lists recursively with sizes, shows ignored folders without entering them", async () => {
    const { call, write } = setup();
    write("src/a.ts", "export {};\n");
    write("src/lib/b.ts", "b");
    write("README.md", "# hi\n");
    write("node_modules/pkg/index.js", "x");
    write(".git/HEAD", "ref");
    const result = await call("list_files", {});
    expect(result.isError).toBeFalsy();
    expect(result.output.split("\n")).toEqual([
      "3 files, 4 folders in the workspace:",
      ".git/ (not listed: ignored folder)",
      "README.md (5 B)",
      "node_modules/ (not listed: ignored folder)",
      "src/",
      "src/a.ts (11 B)",
      "src/lib/",
      "src/lib/b.ts (1 B)",
    ]);
    const sub = await call("list_files", { path: "src/lib" });
    expect(sub.output).toBe("1 files, 0 folders in src/lib/:\nb.ts (1 B)");
  });

  it("caps the listing and says how to see more; refuses files and missing folders", async () => {
    const { call, write } = setup();
    for (let i = 0; i < 30; i += 1) write(`f${String(i).padStart(2, "0")}.txt`, "x");
    const capped = await call("list_files", { max_entries: 10 });
    expect(capped.output.split("\n")).toHaveLength(12);
    expect(capped.output).toMatch(/stopped at 10 entries/);
    expect(capped.meta).toMatchObject({ truncated: true });
    expect((await call("list_files", { path: "f01.txt" })).output).toMatch(/is a file, not a folder/);
    expect((await call("list_files", { path: "nope" })).output).toBe("Folder not found: nope");
    expect((await call("list_files", { max_entries: 100_000 })).isError).toBe(true);
  });
});

describe("read_file", () => {
  it("numbers lines and reads ranges", async () => {
    const { call, write } = setup();
    write("a.txt", Array.from({ length: 12 }, (_, i) => `line ${i + 1}`).join("\n"));
    const all = await call("read_file", { path: "a.txt" });
    expect(all.output.split("\n")[0]).toBe("a.txt (lines 1-12 of 12)");
    expect(all.output).toContain(" 1\tline 1\n");
    expect(all.output).toContain("12\tline 12");
    const part = await call("read_file", { path: "./a.txt", start_line: 3, end_line: 4 });
    expect(part.output).toBe(
      "a.txt (lines 3-4 of 12)\n3\tline 3\n4\tline 4\n[8 more lines: read_file with start_line=5]",
    );
    expect(part.meta).toMatchObject({ startLine: 3, endLine: 4, totalLines: 12 });
    expect((await call("read_file", { path: "a.txt", start_line: 13 })).output).toBe(
      "start_line 13 is past the end of a.txt (12 lines)",
    );
    expect((await call("read_file", { path: "a.txt", start_line: 5, end_line: 2 })).isError).toBe(true);
  });

  it("says what is wrong: missing, folder, empty, binary, CRLF", async () => {
    const { call, write } = setup();
    write("dir/x.txt", "x");
    write("empty.txt", "");
    write("image.png", Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 1, 2]));
    write("dos.txt", "a\r\nb\r\n");
    expect(await call("read_file", { path: "missing.ts" })).toMatchObject({
      isError: true,
      output: "File not found: missing.ts",
    });
    expect((await call("read_file", { path: "dir" })).output).toMatch(/is a folder; use list_files/);
    expect((await call("read_file", { path: "empty.txt" })).output).toBe("empty.txt is empty (0 lines)");
    expect((await call("read_file", { path: "image.png" })).output).toBe(
      "image.png is a binary file (8 bytes); it cannot be shown as text",
    );
    expect((await call("read_file", { path: "dos.txt" })).output).toBe(
      "dos.txt (lines 1-2 of 2, CRLF line endings)\n1\ta\n2\tb",
    );
  });

  it("caps what it reads and what it answers", async () => {
    const { call, write } = setup({ caps: { readMaxFileBytes: 1024 * 1024, readMaxOutputBytes: 1000 } });
    write("huge.txt", "x".repeat(1024 * 1024 + 1));
    const huge = await call("read_file", { path: "huge.txt" });
    expect(huge).toMatchObject({ isError: true });
    expect(huge.output).toBe("huge.txt is 1048577 bytes; the file tools read at most 1048576 bytes");
    write("long.txt", Array.from({ length: 500 }, (_, i) => `line number ${i + 1}`).join("\n"));
    const long = await call("read_file", { path: "long.txt" });
    expect(Buffer.byteLength(long.output)).toBeLessThan(1200);
    expect(long.output).toMatch(/\[\d+ more lines: read_file with start_line=\d+\]$/);
    const other = setup();
    other.write("wide.txt", `${"y".repeat(5000)}\n`);
    const wide = await other.call("read_file", { path: "wide.txt" });
    expect(wide.output).toContain("… [line cut at 2000 of 5000 characters]");
  });
});

describe("write_file", () => {
  it("creates files with their folders, replaces content, keeps the mode without setuid/setgid", async () => {
    const { call, dir, read, write } = setup();
    const created = await call("write_file", { path: "src/deep/new.ts", content: "a\nb\n" });
    expect(created).toMatchObject({ output: "Created src/deep/new.ts (2 lines, 4 bytes)" });
    expect(read("src/deep/new.ts")).toBe("a\nb\n");
    expect(statSync(path.join(dir, "src/deep/new.ts")).mode & 0o7777).toBe(0o644);

    write("run.sh", "#!/bin/sh\n");
    chmodSync(path.join(dir, "run.sh"), 0o6755);
    const replaced = await call("write_file", { path: "run.sh", content: "#!/bin/sh\necho hi\n" });
    expect(replaced.output).toBe("Wrote run.sh (2 lines, 18 bytes)");
    expect(statSync(path.join(dir, "run.sh")).mode & 0o7777).toBe(0o755);
    // No temporary file is left behind.
    expect(execFileSync("ls", ["-A", dir], { encoding: "utf8" }).split("\n").filter(Boolean).sort()).toEqual([
      "run.sh",
      "src",
    ]);
  });

  it("refuses too large content, NUL, folders, and a file where a folder is needed", async () => {
    const { call, write } = setup({ caps: { writeMaxBytes: 100 } });
    expect((await call("write_file", { path: "a.txt", content: "x".repeat(101) })).output).toBe(
      "The content would be 101 bytes; files are limited to 100 bytes",
    );
    expect((await call("write_file", { path: "a.txt", content: "a\u0000b" })).output).toMatch(/NUL/);
    write("d/x.txt", "x");
    expect((await call("write_file", { path: "d", content: "x" })).output).toBe("d is a folder, not a file");
    expect((await call("write_file", { path: "d/x.txt/y", content: "x" })).output).toBe(
      "d/x.txt is a file, not a folder",
    );
  });
});

describe("edit_file", () => {
  it("replaces exactly one occurrence and shows the edited region", async () => {
    const { call, read, write } = setup();
    write("a.ts", "const a = 1;\nconst b = 2;\nconst c = 3;\n");
    const result = await call("edit_file", {
      path: "a.ts",
      old_text: "const b = 2;",
      new_text: "const b = 20;",
    });
    expect(result.isError).toBeFalsy();
    expect(result.output).toBe(
      "Edited a.ts: replaced 1 occurrence (line 2)\n1\tconst a = 1;\n2\tconst b = 20;\n3\tconst c = 3;",
    );
    expect(read("a.ts")).toBe("const a = 1;\nconst b = 20;\nconst c = 3;\n");
  });

  it("fails clearly when the text is missing or not unique, and changes nothing", async () => {
    const { call, read, write } = setup();
    const original = "function f() {\n    return 1;\n}\nx();\nx();\nx();\n";
    write("a.ts", original);
    const missing = await call("edit_file", { path: "a.ts", old_text: "return 2;", new_text: "return 3;" });
    expect(missing.isError).toBe(true);
    expect(missing.output).toMatch(/^old_text was not found in a\.ts \(0 occurrences\)\. read_file the file/);
    const indent = await call("edit_file", {
      path: "a.ts",
      old_text: "function f() {\n  return 1;\n}",
      new_text: "function f() {\n  return 2;\n}",
    });
    expect(indent.output).toMatch(/apart from whitespace or indentation starts at line 1/);
    const many = await call("edit_file", { path: "a.ts", old_text: "x();", new_text: "y();" });
    expect(many).toMatchObject({ isError: true, meta: { occurrences: 3 } });
    expect(many.output).toBe(
      "old_text occurs 3 times in a.ts (at lines 4, 5, 6); nothing was changed. Include more surrounding lines to make it unique, or set replace_all to true to change every occurrence.",
    );
    expect(read("a.ts")).toBe(original);
    const all = await call("edit_file", {
      path: "a.ts",
      old_text: "x();",
      new_text: "y();",
      replace_all: true,
    });
    expect(all.output).toMatch(/^Edited a\.ts: replaced 3 occurrences \(lines 4, 5, 6\)/);
    expect(read("a.ts")).toBe(original.replaceAll("x();", "y();"));
    expect((await call("edit_file", { path: "a.ts", old_text: "y", new_text: "y" })).output).toMatch(
      /nothing to change/,
    );
    expect((await call("edit_file", { path: "nope.ts", old_text: "a", new_text: "b" })).output).toBe(
      "File not found: nope.ts",
    );
  });

  it("keeps CRLF line endings and treats $ in the new text literally", async () => {
    const { call, read, write } = setup();
    write("dos.txt", "one\r\ntwo\r\nthree\r\n");
    const result = await call("edit_file", { path: "dos.txt", old_text: "one\ntwo", new_text: "1 $& $1\n2" });
    expect(result.isError, result.output).toBeFalsy();
    expect(read("dos.txt")).toBe("1 $& $1\r\n2\r\nthree\r\n");
  });
});

describe("search", () => {
  it("finds regex matches as file:line, with glob, case and path filters", async () => {
    const { call, write } = setup();
    write("src/a.ts", "const Alpha = 1;\nconst beta = 2;\n");
    write("src/b.test.ts", "test('alpha', () => {});\n");
    write("docs/readme.md", "alpha docs\n");
    write("node_modules/x/index.js", "alpha in deps\n");
    write("bin.dat", Buffer.from([0, 1, 2, 97, 108, 112, 104, 97]));
    const result = await call("search", { pattern: "alpha" });
    expect(result.output).toBe(
      "2 matching lines in 2 files (1 binary files skipped):\ndocs/readme.md:1: alpha docs\nsrc/b.test.ts:1: test('alpha', () => {});",
    );
    const insensitive = await call("search", { pattern: "^const alpha", case_sensitive: false });
    expect(insensitive.output).toContain("src/a.ts:1: const Alpha = 1;");
    const globbed = await call("search", { pattern: "alpha", glob: "*.ts", case_sensitive: false });
    expect(globbed.output).toContain("src/a.ts:1");
    expect(globbed.output).not.toContain("docs/");
    const inPath = await call("search", { pattern: "alpha", path: "docs" });
    expect(inPath.output).toBe("1 matching lines in 1 files:\ndocs/readme.md:1: alpha docs");
    const oneFile = await call("search", { pattern: "beta", path: "src/a.ts" });
    expect(oneFile.output).toBe("1 matching lines in 1 files:\nsrc/a.ts:2: const beta = 2;");
    const none = await call("search", { pattern: "gamma" });
    expect(none.isError).toBeFalsy();
    expect(none.output).toMatch(/^No matches for \/gamma\/ in 3 files/);
  });

  it("caps matches, rejects bad regexes and globs, stops a catastrophic regex", async () => {
    const { call, write } = setup({ caps: { searchTimeoutMs: 500 } });
    write("many.txt", "hit\n".repeat(50));
    const capped = await call("search", { pattern: "hit", max_results: 5 });
    expect(capped.output.split("\n")).toHaveLength(7);
    expect(capped.output).toMatch(/stopped at 5 matches/);
    expect((await call("search", { pattern: "(unclosed" })).output).toMatch(
      /^Invalid regular expression: .*Unterminated group/,
    );
    expect((await call("search", { pattern: "x", glob: "{a,b" })).output).toMatch(/^Invalid glob/);
    write("evil.txt", `${"a".repeat(40)}!\n`);
    const started = Date.now();
    const slow = await call("search", { pattern: "^(a+)+$" });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(slow.isError).toBe(true);
    expect(slow.output).toMatch(/took longer than 0\.5 s and was stopped/);
  });

  it("turns globs into path regexes", () => {
    expect(globToRegExp("*.ts").test("a.ts")).toBe(true);
    expect(globToRegExp("*.ts").test("src/a.ts")).toBe(false);
    expect(globToRegExp("src/**/*.test.{ts,tsx}").test("src/a/b/c.test.tsx")).toBe(true);
    expect(globToRegExp("src/**/*.test.{ts,tsx}").test("src/c.test.ts")).toBe(true);
    expect(globToRegExp("src/**/*.test.{ts,tsx}").test("lib/c.test.ts")).toBe(false);
    expect(globToRegExp("a?.(x)").test("ab.(x)")).toBe(true);
  });
});

describe("run_command (real bubblewrap)", () => {
  it("runs in the workspace, streams output, answers exit code and output", async () => {
    const { call, write } = setup();
    write("sub/file.txt", "content\n");
    const chunks: string[] = [];
    const result = await call(
      "run_command",
      { command: "pwd; ls; echo err >&2; cat sub/file.txt" },
      (stream, chunk) => chunks.push(`${stream}:${chunk}`),
    );
    expect(result.isError, result.output).toBe(false);
    expect(result.output).toBe("exit code 0\n/workspace\nsub\nerr\ncontent\n");
    expect(chunks.join("")).toContain("stderr:err");
    expect(chunks.join("")).toContain("stdout:/workspace");
    expect(result.meta).toMatchObject({ exitCode: 0, timedOut: false, mode: "bwrap" });

    const inSub = await call("run_command", { command: "pwd && echo made > new.txt", cwd: "sub" });
    expect(inSub.output).toBe("exit code 0\n/workspace/sub\n");
    expect((await call("read_file", { path: "sub/new.txt" })).output).toContain("1\tmade");

    const failing = await call("run_command", { command: "echo failing; exit 3" });
    expect(failing).toMatchObject({ isError: true, output: "exit code 3\nfailing\n" });
    expect((await call("run_command", { command: "true" })).output).toBe("exit code 0\n(no output)");
  }, 60_000);

  it("kills a command at its timeout and says so", async () => {
    const { call } = setup();
    const started = Date.now();
    const result = await call("run_command", { command: "echo start; sleep 30", timeout_seconds: 1 });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(result.isError).toBe(true);
    expect(result.output).toMatch(/^exit code 137; killed by SIGKILL; timed out after 1 s\nstart\n$/);
    expect(result.meta).toMatchObject({ timedOut: true });
  }, 30_000);

  it("stops when the run is cancelled", async () => {
    const { call } = setup();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const result = await call("run_command", { command: "sleep 30" }, undefined, controller.signal);
    expect(result.isError).toBe(true);
    expect(result.output).toMatch(/cancelled/);
  }, 30_000);

  it("keeps the head and tail of long output", async () => {
    const { call } = setup({ caps: { commandOutputBytes: 2000 } });
    const result = await call("run_command", {
      command: "echo FIRST; i=0; while [ $i -lt 2000 ]; do echo line $i; i=$((i+1)); done; echo LAST",
    });
    expect(result.output).toMatch(/^exit code 0\nFIRST\n/);
    expect(result.output).toMatch(/… \[\d+ bytes of output omitted\] …/);
    expect(result.output).toMatch(/LAST\n$/);
    expect(Buffer.byteLength(result.output)).toBeLessThan(2200);
  }, 30_000);

  it("drops setuid/setgid bits a command left in the workspace", async () => {
    const { call, dir } = setup();
    const result = await call("run_command", {
      command: "cp /bin/true suid && chmod 6755 suid && mkdir d && chmod 2775 d && stat -c %a suid",
    });
    expect(result.output).toBe("exit code 0\n6755\n");
    expect(statSync(path.join(dir, "suid")).mode & 0o7777).toBe(0o755);
    expect(statSync(path.join(dir, "d")).mode & 0o7777).toBe(0o775);
  }, 30_000);

  it("cannot see outside the workspace through a planted symlink", async () => {
    const { call, dir, outside } = setup();
    writeFileSync(path.join(outside, "secret.txt"), "TOP SECRET\n");
    symlinkSync(path.join(outside, "secret.txt"), path.join(dir, "secret.txt"));
    const result = await call("run_command", { command: "cat secret.txt" });
    expect(result.isError).toBe(true);
    expect(result.output).not.toContain("TOP SECRET");
  }, 30_000);

  it("answers SANDBOX_UNAVAILABLE as a clear tool error", async () => {
    const { call } = setup({ bwrapPath: "/nonexistent/bin/bwrap" });
    const result = await call("run_command", { command: "echo hi" });
    expect(result.isError).toBe(true);
    expect(result.output).toMatch(/^Commands cannot run on this server \(no sandbox is available\): /);
    expect(result.meta).toEqual({ code: "SANDBOX_UNAVAILABLE" });
  });
});

describe("finish", () => {
  it("ends with the summary in meta", async () => {
    const { call } = setup();
    expect(await call("finish", { summary: "  Fixed the off-by-one; tests pass.  " })).toEqual({
      output: "Finished.",
      meta: { summary: "Fixed the off-by-one; tests pass." },
    });
  });
});

describe("capOutput", () => {
  it("keeps short text, cuts long text to head and tail without splitting characters", () => {
    expect(capOutput("short", 100)).toEqual({ text: "short", omittedBytes: 0 });
    const long = `${"é".repeat(100)}${"z".repeat(100)}`;
    const { text, omittedBytes } = capOutput(long, 40);
    expect(text.startsWith("é".repeat(5))).toBe(true);
    expect(text.endsWith("z".repeat(30))).toBe(true);
    expect(text).not.toContain("\uFFFD");
    expect(omittedBytes).toBe(300 - 10 - 30);
  });
});

describe("unexpected failures", () => {
  it("answers a missing workspace as an error result without the host path", async () => {
    const gone = path.join(tempDir(), "missing-workspace");
    const [list] = createAgentTools({ workspaceDir: gone, sandbox: { config: {} } });
    const result = await list!.run({}, { signal: new AbortController().signal });
    expect(result.isError).toBe(true);
    expect(result.output).toMatch(/^list_files failed: ENOENT/);
    expect(result.output).not.toContain(gone);
  });
});
