/**
 * Real Agentry processes for integration tests: `node --import tsx <entry>` children with JSON logs,
 * waited on by what they log, killed however the test likes, and always cleaned up (SIGTERM, then SIGKILL),
 * also when the test process itself exits.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { repoRoot } from "#tests/setup/database-server.ts";

/** A parsed pino log line (non-JSON output is kept as `{ msg: line }`). */
export type LogLine = { level?: number; msg?: string; [key: string]: unknown };

export type NodeProcess = {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Everything it logged so far (stdout and stderr), oldest first, at most the last 2000 lines. */
  readonly logs: LogLine[];
  /** Resolves with its exit code or signal once it has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly alive: boolean;
  /** The first log line (already logged or to come) that matches; rejects on exit or after `timeoutMs`. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** SIGKILL, like `kill -9`: no shutdown code runs. Resolves when it is gone. */
  kill9(): Promise<void>;
  /** SIGTERM, then SIGKILL after `graceMs`. Resolves when it is gone. Idempotent. */
  stop(graceMs?: number): Promise<void>;
  /** Its last `n` log lines, for failure messages. */
  tail(n?: number): string;
};

const live = new Set<NodeProcess>();
let exitHookInstalled = false;

/** Last resort: children must not outlive a test process that dies without running its afterAll. */
function installExitHook() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const p of live) p.child.kill("SIGKILL");
  });
}

/** Stop every process spawned here that is still running (SIGTERM, then SIGKILL after `graceMs`). */
export async function stopAllProcesses(graceMs = 5_000): Promise<void> {
  await Promise.all([...live].map((p) => p.stop(graceMs)));
}

const MAX_LOG_LINES = 2_000;

/**
 * Spawn `node --import tsx <entry> ...args` in the repository root with exactly `env` (nothing of the test
 * process's environment leaks in: the child's configuration is what the test passes).
 */
export function spawnNode({
  name,
  entry,
  args = [],
  env,
}: {
  name: string;
  entry: string;
  args?: string[];
  env: Record<string, string>;
}): NodeProcess {
  installExitHook();
  const child = spawn(process.execPath, ["--import", "tsx", entry, ...args], {
    cwd: repoRoot,
    env: env as unknown as NodeJS.ProcessEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (child.pid === undefined) throw new Error(`${name}: could not spawn ${entry}`);
  const logs: LogLine[] = [];
  const waiters = new Set<{ match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }>();
  const onLine = (text: string) => {
    let line: LogLine;
    try {
      const parsed = JSON.parse(text) as unknown;
      line = parsed && typeof parsed === "object" ? (parsed as LogLine) : { msg: text };
    } catch {
      line = { msg: text };
    }
    logs.push(line);
    if (logs.length > MAX_LOG_LINES) logs.splice(0, logs.length - MAX_LOG_LINES);
    for (const waiter of waiters) {
      if (waiter.match(line)) {
        waiters.delete(waiter);
        waiter.resolve(line);
      }
    }
  };
  createInterface({ input: child.stdout! }).on("line", onLine);
  createInterface({ input: child.stderr! }).on("line", onLine);

  let alive = true;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => {
      alive = false;
      live.delete(handle);
      resolve({ code, signal });
    });
  });

  const tail = (n = 40) =>
    logs
      .slice(-n)
      .map((l) => `  [${name}] ${JSON.stringify(l)}`)
      .join("\n");

  let stopping: Promise<void> | undefined;
  const handle: NodeProcess = {
    name,
    pid: child.pid,
    child,
    logs,
    exited,
    get alive() {
      return alive;
    },
    waitForLog(match, timeoutMs = 30_000) {
      const seen = logs.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise<LogLine>((resolve, reject) => {
        const waiter = {
          match,
          resolve: (line: LogLine) => {
            clearTimeout(timer);
            resolve(line);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`${name}: the awaited log line did not come within ${timeoutMs} ms\n${tail()}`));
        }, timeoutMs);
        waiters.add(waiter);
        void exited.then(({ code, signal }) => {
          if (!waiters.delete(waiter)) return;
          clearTimeout(timer);
          reject(new Error(`${name} exited (code ${code}, signal ${signal}) before logging it\n${tail()}`));
        });
      });
    },
    async kill9() {
      if (alive) child.kill("SIGKILL");
      await exited;
    },
    stop(graceMs = 5_000) {
      stopping ??= (async () => {
        if (!alive) return;
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
    tail,
  };
  live.add(handle);
  return handle;
}

/** `server.ts --role worker`: the production worker entry, unbuilt (through tsx). Resolves once it is ready. */
export async function startWorkerProcess(name: string, env: Record<string, string>): Promise<NodeProcess> {
  const p = spawnNode({ name, entry: "server.ts", args: ["--role", "worker"], env });
  try {
    await p.waitForLog((l) => l.msg === "ready", 60_000);
  } catch (error) {
    await p.stop();
    throw error;
  }
  return p;
}

/** The real HTTP app without Remix pages (tests/integration/web-process.ts). Resolves with its base URL. */
export async function startWebProcess(
  name: string,
  env: Record<string, string>,
): Promise<NodeProcess & { url: string }> {
  const p = spawnNode({ name, entry: "tests/integration/web-process.ts", env: { ...env, PORT: "0" } });
  try {
    const line = await p.waitForLog((l) => l.msg === "listening" && typeof l.url === "string", 60_000);
    return Object.assign(p, { url: line.url as string });
  } catch (error) {
    await p.stop();
    throw error;
  }
}

/** Poll `check` every `intervalMs` until it returns a value other than undefined/false; throws after `timeoutMs`. */
export async function pollUntil<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  { timeoutMs = 30_000, intervalMs = 50 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value as T;
    } catch (error) {
      lastError = error; // e.g. the database restarting: keep polling
    }
    if (Date.now() >= deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ""}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
