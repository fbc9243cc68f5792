/**
 * The `sandbox` suite: what running a command in the bubblewrap sandbox costs on top of spawning it directly.
 * `true` and `node -e 0`, N times each, direct and sandboxed, interleaved (direct, sandboxed, direct, …) so both
 * see the same machine state. Sandboxed = runInSandbox end to end: detection cached, cgroup made and removed,
 * bash prelude, bwrap with its namespaces and mounts, prlimit, the command, output capture.
 *
 * Standalone: `npx tsx bench/sandbox.ts [N]` (no database needed).
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { detectSandbox, runInSandbox } from "#app/modules/sandbox/index.server.ts";
import { quantile, report, reportValue, round } from "./lib.ts";

const SUITE = "sandbox";

function spawnDirect(argv: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const [file, ...args] = argv as [string, ...string[]];
    const child = spawn(file, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.resume();
    child.stderr.resume();
    child.once("error", reject);
    child.once("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`${argv.join(" ")} exited with ${code}`)),
    );
  });
}

/** Run the suite; `_url` (the database) is unused, so bench/run.ts can list it with the others. */
export async function runSandbox(_url?: string, n = 50): Promise<void> {
  const status = await detectSandbox();
  if (status.mode !== "bwrap") {
    console.info(`sandbox: skipped (mode ${status.mode}: ${status.reason ?? "no bwrap"})`);
    return;
  }
  console.info(
    `bubblewrap ${status.bwrapVersion}; memory limit by ${status.enforcement.memory}, processes by ${status.enforcement.processes}`,
  );
  // Workspaces live in a directory other users cannot enter (mkdtemp makes it 0700).
  const closed = mkdtempSync(path.join(os.tmpdir(), "agentry-bench-sandbox-"));
  const workspace = path.join(closed, "workspace");
  mkdirSync(workspace);
  // The same binaries both ways: `node` inside the sandbox is process.execPath, bound read-only.
  const commands: Array<{ name: string; argv: string[]; inside: string[] }> = [
    { name: "true", argv: ["true"], inside: ["true"] },
    { name: "node -e 0", argv: [process.execPath, "-e", "0"], inside: ["node", "-e", "0"] },
  ];
  const rows: Array<{ name: string; direct: number[]; sandboxed: number[] }> = [];
  try {
    for (const { name, argv, inside } of commands) {
      const direct: number[] = [];
      const sandboxed: number[] = [];
      // Warm-up: page cache, the sandbox probe.
      await spawnDirect(argv, workspace);
      await runInSandbox({ argv: inside, workspace });
      for (let i = 0; i < n; i++) {
        let started = performance.now();
        await spawnDirect(argv, workspace);
        direct.push(performance.now() - started);
        started = performance.now();
        const result = await runInSandbox({ argv: inside, workspace });
        sandboxed.push(performance.now() - started);
        if (result.exitCode !== 0) throw new Error(`sandboxed ${name} failed: ${result.output}`);
      }
      report(SUITE, `${name}: direct spawn`, direct);
      report(SUITE, `${name}: sandboxed (runInSandbox)`, sandboxed);
      reportValue(
        SUITE,
        `${name}: sandbox overhead (p50 difference)`,
        quantile(sandboxed, 0.5) - quantile(direct, 0.5),
        "ms",
      );
      rows.push({ name, direct, sandboxed });
    }
  } finally {
    rmSync(closed, { recursive: true, force: true });
  }

  const cell = (v: number) => String(round(v, 1)).padStart(9);
  console.info(
    `\n${"command".padEnd(12)} ${"direct p50".padStart(10)} ${"p95".padStart(9)} ${"sandbox p50".padStart(11)} ${"p95".padStart(9)} ${"overhead p50".padStart(12)}   (ms, n=${n})`,
  );
  for (const { name, direct, sandboxed } of rows) {
    console.info(
      `${name.padEnd(12)} ${cell(quantile(direct, 0.5)).padStart(10)} ${cell(quantile(direct, 0.95))} ${cell(quantile(sandboxed, 0.5)).padStart(11)} ${cell(quantile(sandboxed, 0.95))} ${cell(quantile(sandboxed, 0.5) - quantile(direct, 0.5)).padStart(12)}`,
    );
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const n = Number(process.argv[2] ?? 50);
  await runSandbox(undefined, Number.isInteger(n) && n > 0 ? n : 50);
}
