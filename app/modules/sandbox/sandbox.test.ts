import { existsSync, mkdirSync, readFileSync, realpathSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { hostProcessesWith, survivorsOf, tempDirs, uniqueMarker, waitFor } from "#tests/sandbox/helpers.ts";
import { OutputCapture, utf8Prefix } from "./output.server.ts";
import { detectSandbox, isSandboxError, runInSandbox, SandboxError } from "./sandbox.server.ts";
import { SANDBOX_WORKSPACE_PATH, type SandboxResult, type SandboxStatus } from "./sandbox.types.ts";

const tempDir = tempDirs();
let status: SandboxStatus;

beforeAll(async () => {
  status = await detectSandbox();
});

/** A node program that starts `n` grandchildren which ignore SIGTERM (one in its own session), then waits. */
const SPAWN_STUBBORN = (marker: string, n = 3) => `
  const { spawn } = require("node:child_process");
  const stubborn = "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000);";
  for (let i = 0; i < ${n}; i++) {
    spawn(process.execPath, ["-e", stubborn, "${marker}"], { stdio: "ignore", detached: i === 0 });
  }
  process.on("SIGTERM", () => {});
  console.log("spawned");
  setInterval(() => {}, 1000);
`;

describe("detectSandbox", () => {
  it("finds a working bubblewrap on this host (the CI installs it)", () => {
    expect(status.mode, status.reason).toBe("bwrap");
    expect(status.bwrapVersion).toMatch(/^\d+\.\d+/);
  });

  it("refuses when bwrap is missing, and says why", async () => {
    const missing = await detectSandbox({ bwrapPath: "/nonexistent/bin/bwrap" });
    expect(missing.mode).toBe("unavailable");
    expect(missing.reason).toContain("/nonexistent/bin/bwrap");
    expect(missing.reason).toContain("not found");
  });

  it("offers the unsafe mode only when the config allows it", async () => {
    const unsafe = await detectSandbox({ bwrapPath: "/nonexistent/bin/bwrap", allowUnsafe: true });
    expect(unsafe.mode).toBe("unsafe");
    expect(unsafe.reason).toMatch(/WITHOUT isolation/);
    // allowUnsafe does not weaken a host where bwrap works.
    expect((await detectSandbox({ allowUnsafe: true })).mode).toBe("bwrap");
  });

  it("refuses a configuration that would expose a protected path, even with allowUnsafe", async () => {
    const appDir = tempDir();
    const result = await detectSandbox({
      protectedPaths: [appDir],
      readOnlyPaths: [appDir],
      allowUnsafe: true,
    });
    expect(result.mode).toBe("unavailable");
    expect(result.reason).toMatch(/readOnlyPaths: .* overlaps a protected path/);
  });

  it("says when a limit is weaker on this host (no cgroup: no process limit for root, per-process memory)", async () => {
    const withoutCgroup = await detectSandbox({ cgroup: "off" });
    expect(withoutCgroup.mode).toBe("bwrap");
    expect(withoutCgroup.enforcement).toEqual({
      memory: "rlimit-as",
      processes: process.getuid?.() === 0 ? "none" : "rlimit",
      cgroup: null,
    });
    if (process.getuid?.() === 0) expect(withoutCgroup.reason).toMatch(/process limit is not enforced/);
    // With the defaults there is always a process limit: a pids cgroup, or (not root) RLIMIT_NPROC.
    expect(status.enforcement.processes).not.toBe("none");
    if (status.enforcement.cgroup)
      expect(status.enforcement).toMatchObject({ memory: "cgroup", processes: "cgroup" });
  });

  it("refuses when bwrap exists but cannot build a sandbox", async () => {
    const broken = tempDir();
    const fake = path.join(broken, "bwrap");
    writeFileSync(
      fake,
      "#!/bin/sh\n[ \"$1\" = --version ] && { echo 'bubblewrap 0.8.0'; exit 0; }\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n",
      { mode: 0o755 },
    );
    const result = await detectSandbox({ bwrapPath: fake });
    expect(result.mode).toBe("unavailable");
    expect(result.reason).toContain("No permissions to create new namespace");
  });
});

describe("runInSandbox", () => {
  it("runs sh, node, git and python3 as an unprivileged user, with the workspace writable and its results on the host", async () => {
    const workspace = tempDir();
    writeFileSync(path.join(workspace, "input.txt"), "from the host\n");
    const script = [
      "set -e",
      "id -u; id -g; id -un",
      "pwd",
      "cat input.txt",
      "echo shell > from-sh.txt",
      `node -e 'require("fs").writeFileSync("from-node.txt", process.version)'`,
      "git init -q repo && cd repo && echo hello > a.txt && git add a.txt",
      "git -c user.name=agent -c user.email=agent@example.invalid commit -q -m first && git log --format=%s",
      "cd ..",
      'if command -v python3 >/dev/null; then python3 -c \'open("from-python.txt","w").write("py")\'; fi',
      "mkdir -p deep/er && echo nested > deep/er/file.txt",
    ].join("\n");
    const result = await runInSandbox({ command: script, workspace, timeoutMs: 20_000 });
    expect(result.stderr).toBe("");
    expect(result).toMatchObject({
      mode: "bwrap",
      exitCode: 0,
      signal: null,
      timedOut: false,
      cancelled: false,
    });
    expect(result.stdout.split("\n").slice(0, 6)).toEqual([
      "1000",
      "1000",
      "sandbox",
      SANDBOX_WORKSPACE_PATH,
      "from the host",
      "first",
    ]);
    expect(readFileSync(path.join(workspace, "from-sh.txt"), "utf8")).toBe("shell\n");
    expect(readFileSync(path.join(workspace, "from-node.txt"), "utf8")).toBe(process.version);
    expect(existsSync(path.join(workspace, "repo/.git/HEAD"))).toBe(true);
    expect(readFileSync(path.join(workspace, "deep/er/file.txt"), "utf8")).toBe("nested\n");
    if (existsSync("/usr/bin/python3"))
      expect(readFileSync(path.join(workspace, "from-python.txt"), "utf8")).toBe("py");
  });

  it("uses the same node binary as the app", async () => {
    const result = await runInSandbox({
      argv: ["node", "-p", "process.version + ' ' + process.execPath"],
      workspace: tempDir(),
    });
    expect(result.stdout.trim().split(" ")[0]).toBe(process.version);
  });

  it("reports exit codes, signals and separate stdout/stderr", async () => {
    const workspace = tempDir();
    const failed = await runInSandbox({ command: "echo out; echo err >&2; exit 3", workspace });
    expect(failed).toMatchObject({ exitCode: 3, signal: null, stdout: "out\n", stderr: "err\n" });
    expect(failed.output).toBe("out\nerr\n");

    const killed = await runInSandbox({ command: "kill -TERM $$", workspace });
    expect(killed).toMatchObject({ exitCode: 143, signal: "SIGTERM", timedOut: false });

    const notFound = await runInSandbox({ argv: ["no-such-program-here"], workspace });
    expect(notFound.exitCode).not.toBe(0);
    expect(notFound.stderr).toMatch(/no-such-program-here/);
  });

  it("runs in a subdirectory of the workspace when asked", async () => {
    const workspace = tempDir();
    mkdirSync(path.join(workspace, "pkg/src"), { recursive: true });
    const result = await runInSandbox({ command: "pwd; touch here", workspace, cwd: "pkg/src" });
    expect(result.stdout).toBe(`${SANDBOX_WORKSPACE_PATH}/pkg/src\n`);
    expect(existsSync(path.join(workspace, "pkg/src/here"))).toBe(true);
  });

  it("caps the output: keeps the first maxOutputBytes, counts and drops the rest", async () => {
    const chunks: string[] = [];
    const result = await runInSandbox({
      // 100 000 bytes on stdout and 1 000 on stderr.
      command: "head -c 100000 /dev/zero | tr '\\0' a; head -c 1000 /dev/zero | tr '\\0' b >&2",
      workspace: tempDir(),
      maxOutputBytes: 1_000,
      onOutput: (_stream, chunk) => chunks.push(chunk),
    });
    expect(result.exitCode).toBe(0);
    expect(result.outputTruncated).toBe(true);
    expect(result.stdout).toBe("a".repeat(1_000));
    expect(result.stderr).toBe("");
    expect(result.droppedBytes).toBe(100_000 + 1_000 - 1_000);
    // The listener saw exactly what was kept, nothing past the cap.
    expect(chunks.join("")).toBe("a".repeat(1_000));

    const small = await runInSandbox({ command: "echo fits", workspace: tempDir(), maxOutputBytes: 1_000 });
    expect(small).toMatchObject({ outputTruncated: false, droppedBytes: 0, stdout: "fits\n" });
  });

  it("never cuts a UTF-8 character in two", async () => {
    // "é" is two bytes: a cap of 5 bytes keeps two of them, not two and a half.
    const result = await runInSandbox({
      argv: ["node", "-e", "process.stdout.write('ééééé')"],
      workspace: tempDir(),
      maxOutputBytes: 5,
    });
    expect(result.stdout).toBe("éé");
    expect(result.droppedBytes).toBe(6);
    expect(utf8Prefix(Buffer.from("aé"), 2).toString()).toBe("a");
    // A character split across two chunks is decoded whole.
    const capture = new OutputCapture(100);
    const bytes = Buffer.from("é");
    capture.push("stdout", bytes.subarray(0, 1));
    capture.push("stdout", bytes.subarray(1));
    capture.end();
    expect(capture.stdout).toBe("é");
  });

  it("streams output to onOutput in order, while the command runs", async () => {
    const seen: Array<{ stream: string; chunk: string; at: number }> = [];
    const started = Date.now();
    const result = await runInSandbox({
      command: "echo one; sleep 0.3; echo two >&2; sleep 0.3; echo three; sleep 0.3",
      workspace: tempDir(),
      onOutput: (stream, chunk) => seen.push({ stream, chunk, at: Date.now() - started }),
    });
    expect(seen.map(({ stream, chunk }) => [stream, chunk])).toEqual([
      ["stdout", "one\n"],
      ["stderr", "two\n"],
      ["stdout", "three\n"],
    ]);
    // The first chunk arrived well before the command ended.
    expect(seen[0]!.at).toBeLessThan(result.durationMs - 500);
    expect(result.output).toBe("one\ntwo\nthree\n");
  });

  it("stops the run and rethrows when onOutput throws", async () => {
    const marker = uniqueMarker("listener");
    const run = runInSandbox({
      command: `echo first; sh -c 'sleep 30; :' ${marker}`,
      workspace: tempDir(),
      onOutput: () => {
        throw new Error("listener broke");
      },
    });
    await expect(run).rejects.toThrow("listener broke");
    expect(hostProcessesWith(marker)).toEqual([]);
  });

  it("on timeout kills the whole tree, grandchildren that ignore SIGTERM included", async () => {
    const marker = uniqueMarker("stubborn");
    let alive: number[] = [];
    const result = await runInSandbox({
      argv: ["node", "-e", SPAWN_STUBBORN(marker)],
      workspace: tempDir(),
      timeoutMs: 1_500,
      onOutput: () => {
        // By the time the parent says so, its children exist on the host.
        setTimeout(() => {
          alive = hostProcessesWith(marker);
        }, 300);
      },
    });
    expect(alive).toHaveLength(3);
    expect(result).toMatchObject({ timedOut: true, cancelled: false, signal: "SIGKILL", exitCode: 137 });
    expect(result.durationMs).toBeGreaterThanOrEqual(1_500);
    expect(result.durationMs).toBeLessThan(4_000);
    expect(await survivorsOf(marker)).toEqual([]);
  });

  it("the tree also dies when the command exits on its own and leaves children behind", async () => {
    const marker = uniqueMarker("orphan");
    // `sh -c '…; :' marker`: a process that keeps the marker as its $0 (no exec of the last command).
    const run = runInSandbox({
      command: `(sh -c 'sleep 60; :' ${marker} &); setsid sh -c 'sleep 60; :' ${marker} & sleep 1; echo started`,
      workspace: tempDir(),
    });
    // Both orphans were alive while the command ran…
    expect(
      await waitFor(
        () => hostProcessesWith(marker),
        (pids) => pids.length === 2,
      ),
    ).toHaveLength(2);
    const result = await run;
    expect(result).toMatchObject({ exitCode: 0, stdout: "started\n", timedOut: false });
    // …and are gone once it exited.
    expect(await survivorsOf(marker)).toEqual([]);
  });

  it("cancels with an AbortSignal, killing the tree", async () => {
    const marker = uniqueMarker("cancel");
    const controller = new AbortController();
    const run = runInSandbox({
      argv: ["node", "-e", SPAWN_STUBBORN(marker, 2)],
      workspace: tempDir(),
      timeoutMs: 20_000,
      signal: controller.signal,
      onOutput: () => setTimeout(() => controller.abort(), 200),
    });
    const result = await run;
    expect(result).toMatchObject({ cancelled: true, timedOut: false, signal: "SIGKILL" });
    expect(result.durationMs).toBeLessThan(5_000);
    expect(await survivorsOf(marker)).toEqual([]);

    const already = await runInSandbox({
      command: "touch ran",
      workspace: tempDir(),
      signal: AbortSignal.abort(),
    });
    expect(already).toMatchObject({ cancelled: true, exitCode: null });
  });

  it("gives the command an empty environment plus the allow-list and the caller's variables", async () => {
    const result = await runInSandbox({
      command: "env | sort",
      workspace: tempDir(),
      env: { CI: "1", PROJECT_TOKEN: "given-on-purpose", LANG: "en_US.UTF-8" },
    });
    const env = Object.fromEntries(
      result.stdout
        .trim()
        .split("\n")
        .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
    );
    expect(Object.keys(env).sort()).toEqual(
      [
        "CI",
        "HOME",
        "LANG",
        "LOGNAME",
        "PATH",
        "PROJECT_TOKEN",
        "PWD",
        "SHELL",
        "TERM",
        "TMPDIR",
        "USER",
      ].sort(),
    );
    expect(env).toMatchObject({
      CI: "1",
      PROJECT_TOKEN: "given-on-purpose",
      LANG: "en_US.UTF-8",
      HOME: "/tmp/home",
      USER: "sandbox",
      TMPDIR: "/tmp",
      PWD: SANDBOX_WORKSPACE_PATH,
    });
    expect(env.PATH).toContain("/usr/bin");
  });

  it("refuses bad requests with SANDBOX_INVALID_REQUEST", async () => {
    const workspace = tempDir();
    const appDir = tempDir();
    mkdirSync(path.join(appDir, ".data/workspaces/run-1"), { recursive: true });
    const cases: Array<[Parameters<typeof runInSandbox>[0], RegExp, Parameters<typeof runInSandbox>[1]?]> = [
      [{ command: "true", workspace: "relative/dir" }, /absolute/],
      [{ command: "true", workspace: path.join(workspace, "missing") }, /does not exist/],
      [{ command: "true", workspace: "/" }, /cannot be \//],
      // /tmp is open to every user: a setuid file left in /tmp/x would be anyone's to run.
      [{ command: "true", workspace: path.dirname(path.dirname(workspace)) }, /other users cannot enter/],
      [{ command: "", workspace }, /non-empty/],
      [{ argv: [], workspace }, /non-empty/],
      [{ command: "true", workspace, cwd: "../.." }, /inside the workspace/],
      [{ command: "true", workspace, cwd: "/etc" }, /inside the workspace/],
      [{ command: "true", workspace, env: { "BAD-NAME": "x" } }, /invalid environment variable name/],
      [{ command: "true", workspace, timeoutMs: 0 }, /timeoutMs/],
      [{ command: "true", workspace, limits: { processes: 1 } }, /limits: processes/],
      // The app's directory (or anything holding it) can never be the workspace…
      [
        { command: "true", workspace: appDir },
        /protected path/,
        { protectedPaths: [path.join(appDir, ".data")] },
      ],
    ];
    for (const [request, message, config] of cases) {
      const error = await runInSandbox(request, config).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isSandboxError(error), String(error)).toBe(true);
      expect((error as SandboxError).code).toBe("SANDBOX_INVALID_REQUEST");
      expect((error as SandboxError).message).toMatch(message);
    }
    // …but a workspace inside it is fine: only the workspace is mounted.
    writeFileSync(path.join(appDir, ".env"), "SECRET=1\n");
    const inside = await runInSandbox(
      {
        command: "ls -A; echo ---; ls -A ..; echo ---; ls -A /",
        workspace: path.join(appDir, ".data/workspaces/run-1"),
      },
      { protectedPaths: [appDir, path.join(appDir, ".data")] },
    );
    expect(inside.exitCode).toBe(0);
    const [own, parent, root] = inside.stdout.split("---\n");
    expect(own).toBe("");
    // /workspace/.. is the sandbox's own root: no .env, no .data, no sibling run.
    expect(parent).toBe(root);
    expect(root?.trim().split("\n")).not.toEqual(expect.arrayContaining([".env"]));
    expect(root).not.toMatch(/\.env|\.data|run-1/);
  });

  it("refuses to run without bwrap: SANDBOX_UNAVAILABLE", async () => {
    const workspace = tempDir();
    const error = await runInSandbox(
      { command: "touch ran", workspace },
      { bwrapPath: "/nonexistent/bin/bwrap" },
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SandboxError);
    expect((error as SandboxError).code).toBe("SANDBOX_UNAVAILABLE");
    expect((error as SandboxError).message).toMatch(/bubblewrap .* was not found/);
    expect(existsSync(path.join(workspace, "ran"))).toBe(false);
  });
});

describe("without a cgroup (cgroup: off)", () => {
  it("still stops a memory hog, by a per-process address-space limit", async () => {
    const result = await runInSandbox(
      {
        argv: ["node", "-e", "const keep = []; for (;;) keep.push(Buffer.alloc(64 * 1024 * 1024, 1));"],
        workspace: tempDir(),
        limits: { memoryBytes: 1024 * 1024 * 1024 },
        timeoutMs: 20_000,
      },
      { cgroup: "off" },
    );
    expect(result.timedOut).toBe(false);
    expect(result.exitCode).not.toBe(0);
    // V8 cannot get more address space: "Array buffer allocation failed" or a fatal out-of-memory.
    expect(result.stderr).toMatch(/allocation failed|out of memory/i);
  });
});

describe("unsafe mode (bwrap unusable, allowUnsafe)", () => {
  const config = { bwrapPath: "/nonexistent/bin/bwrap", allowUnsafe: true };

  it("runs in the host workspace with the same env allow-list, output cap and limits, and says it is unsafe", async () => {
    const workspace = tempDir();
    const result: SandboxResult = await runInSandbox(
      {
        command: "pwd; echo $USER; env | cut -d= -f1 | sort | tr '\\n' ' '; echo; head -c 5000 /dev/zero",
        workspace,
        maxOutputBytes: 200,
        env: { EXTRA: "1" },
      },
      config,
    );
    expect(result.mode).toBe("unsafe");
    expect(result.exitCode).toBe(0);
    const [pwd, user, names] = result.stdout.split("\n");
    expect(pwd).toBe(realpathSync(workspace));
    expect(user).toBe("sandbox");
    expect(names?.trim().split(" ")).toEqual(
      ["EXTRA", "HOME", "LANG", "LOGNAME", "PATH", "PWD", "SHELL", "TERM", "TMPDIR", "USER"].sort(),
    );
    expect(result.outputTruncated).toBe(true);
    expect(result.stdout.length).toBeLessThanOrEqual(200);

    const fsize = await runInSandbox(
      { command: "head -c 3000000 /dev/zero > big", workspace, limits: { fileSizeBytes: 1_000_000 } },
      config,
    );
    expect(fsize).toMatchObject({ signal: "SIGXFSZ", limitsHit: ["fileSize"] });
    expect(statSync(path.join(workspace, "big")).size).toBe(1_000_000);
  });

  it("kills the whole tree on timeout", async () => {
    const marker = uniqueMarker("unsafe-stubborn");
    const result = await runInSandbox(
      { argv: [process.execPath, "-e", SPAWN_STUBBORN(marker)], workspace: tempDir(), timeoutMs: 1_000 },
      config,
    );
    expect(result).toMatchObject({ mode: "unsafe", timedOut: true, signal: "SIGKILL" });
    // The grandchild in its own session escapes the process group; only the cgroup reaches it.
    const survivors = await survivorsOf(marker);
    if (status.enforcement.cgroup) expect(survivors).toEqual([]);
    else for (const pid of survivors) process.kill(pid, "SIGKILL");
  });
});
