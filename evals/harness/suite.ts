/**
 * An eval suite on disk: a folder of tasks, each a folder with `task.json`, a `files/` folder (the project the
 * agent works on) and, for the scripted mock model, `mock-script.json`. Read and validated here, before any run.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { parseScriptStep, type ScriptStep } from "#tests/mocks/llm/scenarios.ts";

export const TASK_FILE = "task.json";
export const FILES_DIR = "files";
export const MOCK_SCRIPT_FILE = "mock-script.json";

/** Limits of one task's agent. Absent: the workflow step's defaults (30 turns, 20 minutes, no cost cap). */
export const ZTaskLimits = z
  .object({
    /** Model turns of the agent (the agent step's `maxTurns`, 1–200). */
    maxTurns: z.number().int().min(1).max(200).optional(),
    /** Tokens in + out of the whole run; the harness cancels the run past it (checked every 250 ms). */
    maxTokens: z.number().int().min(1_000).max(50_000_000).optional(),
    /** The agent step's `maxCostUsd`. */
    maxCostUsd: z.number().positive().max(1000).optional(),
    /** Wall time of the run (agent and check); the harness cancels it past this. Also sets the step's maxMinutes. */
    timeoutMs: z
      .number()
      .int()
      .min(1_000)
      .max(240 * 60_000)
      .optional(),
  })
  .strict();
export type TaskLimits = z.infer<typeof ZTaskLimits>;

export const ZTaskFile = z
  .object({
    /** What the agent is asked to do (its first message). */
    instruction: z.string().trim().min(1, "instruction is empty").max(100_000),
    /** Shell command run in the sandbox, in the workspace the agent left; exit 0 = pass. */
    check: z.string().trim().min(1, "check is empty").max(10_000),
    /** How long the check may run, in seconds (default 300). */
    checkTimeoutSeconds: z.number().int().min(1).max(3600).optional(),
    limits: ZTaskLimits.optional(),
  })
  .strict();

export type EvalTask = z.infer<typeof ZTaskFile> & {
  /** The task's folder name: its id in reports. */
  name: string;
  dir: string;
  /** Absolute path of its `files/` folder. */
  filesDir: string;
  /** The scripted solution for the mock model, when the task has one. */
  mockScript: ScriptStep[] | null;
};

export type EvalSuite = { dir: string; name: string; tasks: EvalTask[] };

/** A suite or task that cannot be used: the message says which file and what is wrong. */
export class SuiteError extends Error {
  override readonly name = "SuiteError";
}

async function isDirectory(p: string): Promise<boolean> {
  return (await stat(p).catch(() => null))?.isDirectory() ?? false;
}

async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new SuiteError(`${file}: cannot be read (${(error as NodeJS.ErrnoException).code ?? error})`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new SuiteError(`${file}: not valid JSON (${(error as Error).message})`);
  }
}

/** Read one task folder. */
export async function loadTask(dir: string): Promise<EvalTask> {
  const taskFile = path.join(dir, TASK_FILE);
  const parsed = ZTaskFile.safeParse(await readJson(taskFile));
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new SuiteError(`${taskFile} is not a valid task:\n${lines.join("\n")}`);
  }
  const filesDir = path.join(dir, FILES_DIR);
  if (!(await isDirectory(filesDir))) throw new SuiteError(`${dir}: has no ${FILES_DIR}/ folder`);
  let mockScript: ScriptStep[] | null = null;
  const scriptFile = path.join(dir, MOCK_SCRIPT_FILE);
  if (await stat(scriptFile).catch(() => null)) {
    const raw = await readJson(scriptFile);
    if (!Array.isArray(raw) || raw.length === 0)
      throw new SuiteError(`${scriptFile}: must be a non-empty array of mock script steps`);
    mockScript = raw.map((step, index) => {
      try {
        return parseScriptStep(step);
      } catch (error) {
        throw new SuiteError(`${scriptFile}: step ${index}: ${(error as Error).message}`);
      }
    });
  }
  return { ...parsed.data, name: path.basename(dir), dir, filesDir, mockScript };
}

/**
 * Read a suite: every sub-folder holding a `task.json`, by name. A folder that is itself a task is a suite of
 * one. Throws a SuiteError when there is no task or one is invalid.
 */
export async function loadSuite(dir: string): Promise<EvalSuite> {
  const root = path.resolve(dir);
  if (!(await isDirectory(root))) throw new SuiteError(`Suite folder not found: ${dir}`);
  if (await stat(path.join(root, TASK_FILE)).catch(() => null)) {
    return { dir: root, name: path.basename(root), tasks: [await loadTask(root)] };
  }
  const entries = await readdir(root, { withFileTypes: true });
  const tasks: EvalTask[] = [];
  for (const entry of entries.filter((e) => e.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
    const taskDir = path.join(root, entry.name);
    if (await stat(path.join(taskDir, TASK_FILE)).catch(() => null)) tasks.push(await loadTask(taskDir));
  }
  if (tasks.length === 0) throw new SuiteError(`${dir}: no task folders (folders with a ${TASK_FILE})`);
  return { dir: root, name: path.basename(root), tasks };
}
