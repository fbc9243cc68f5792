/**
 * Shared by the sandbox tests: temporary directories that are always removed, a look at the host's process
 * table, and a way to run a Node snippet inside the sandbox and get a JSON answer back.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll } from "vitest";
import { runInSandbox } from "#app/modules/sandbox/sandbox.server.ts";
import type { SandboxConfig, SandboxRequest, SandboxResult } from "#app/modules/sandbox/sandbox.types.ts";

/** The repository's root (the app's own files), which no sandbox may see. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/**
 * A fresh directory, removed after the test file. It sits in a mode-0700 directory of the host's temp dir,
 * as workspaces must (other users cannot enter it).
 */
export function tempDirs() {
  const made: string[] = [];
  afterAll(() => {
    for (const dir of made) rmSync(dir, { recursive: true, force: true });
  });
  return (prefix = "agentry-sandbox-test-") => {
    const closed = mkdtempSync(path.join(os.tmpdir(), prefix));
    made.push(closed);
    const dir = path.join(closed, "dir");
    mkdirSync(dir);
    return dir;
  };
}

export const uniqueMarker = (label: string) => `${label}-${randomBytes(6).toString("hex")}`;

/**
 * Host pids with `marker` as one of their arguments (the host's own view of /proc). A process whose script
 * merely mentions the marker (the parent that starts the marked ones, bwrap) does not count.
 */
export function hostProcessesWith(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // A zombie has an empty command line: it is dead, only not reaped yet.
      const args = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (args.includes(marker)) pids.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return pids;
}

/** Poll until `check` passes or `timeoutMs` ran out; returns its last value. */
export async function waitFor<T>(check: () => T, ok: (value: T) => boolean, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = check();
  while (!ok(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    value = check();
  }
  return value;
}

/**
 * Run `script` (the body of an async function, Node) inside the sandbox; whatever it returns is printed as
 * JSON on the last line of stdout and parsed back. Thrown errors come back as { error: code }.
 */
export async function nodeInside<T = Record<string, unknown>>(
  script: string,
  request: Omit<SandboxRequest, "argv" | "command" | "shell">,
  config: SandboxConfig = {},
): Promise<{ value: T; result: SandboxResult }> {
  const program = `
    const fs = require("node:fs");
    const net = require("node:net");
    const dns = require("node:dns");
    const dgram = require("node:dgram");
    const os = require("node:os");
    const childProcess = require("node:child_process");
    /** The error code of what fn throws or rejects with, or "ok". */
    const codeOf = async (fn) => { try { await fn(); return "ok"; } catch (e) { return e.code ?? String(e); } };
    /** connect(host, port) over TCP, or connect(path) to a unix socket: "connected" or the error code. */
    const connect = (host, port) => new Promise((resolve) => {
      const socket = net.connect(port === undefined ? { path: host } : { host, port, timeout: 3000 });
      socket.on("connect", () => { socket.destroy(); resolve("connected"); });
      socket.on("timeout", () => { socket.destroy(); resolve("timeout"); });
      socket.on("error", (e) => resolve(e.code));
    });
    (async () => { ${script} })().then(
      (value) => { process.stdout.write("\\n" + JSON.stringify(value) + "\\n"); },
      (e) => { process.stdout.write("\\n" + JSON.stringify({ error: e.code ?? String(e) }) + "\\n"); },
    );
  `;
  const result = await runInSandbox({ ...request, argv: ["node", "-e", program] }, config);
  const last = result.stdout.trim().split("\n").pop() ?? "";
  let value: T;
  try {
    value = JSON.parse(last) as T;
  } catch {
    throw new Error(
      `no JSON answer from the sandbox (exit ${result.exitCode}):\n${result.stdout}\n${result.stderr}`,
    );
  }
  return { value, result };
}

/** The host pids still carrying `marker` once they are all gone, or after `timeoutMs`: [] when none survived. */
export function survivorsOf(marker: string, timeoutMs = 2_000): Promise<number[]> {
  return waitFor(
    () => hostProcessesWith(marker),
    (pids) => pids.length === 0,
    timeoutMs,
  );
}
