/**
 * The eval harness: each model × task runs through the REAL workflow engine, in-process, as a worker would run
 * it. Per task: a project imported from the task's `files/` (importLocalDirectory), a workflow of two steps —
 * `agent` (the task's instruction, the model under test, the task's limits) then `command` (the task's check,
 * continueOnError so the exit code is recorded rather than failing the run) — a run created with createRun and
 * executed with executeRun, in the sandbox the app uses. The report is read back from what the run stored:
 * StepRuns (turns, stop reason, check exit code), the run's totals (tokens, cost), its tool_call events and its
 * ChangeSet (files changed, +/−).
 *
 * The database is a throwaway one (the caller's, or created and dropped here); provider credentials come from
 * the app's own config code (aiConfigFromEnv). Model `mock` is the project's mock provider, started in-process
 * and scripted per task from `mock-script.json` (native tool calls).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createPrismaClient, type Db } from "#app/db/client.server.ts";
import { migrate } from "#app/db/migrate.server.ts";
import { type Env, loadEnv } from "#app/env.server.ts";
import { createLogger } from "#app/lib/logger.server.ts";
import { type CatalogEntry, parseModelId } from "#app/modules/ai/ai.types.ts";
import { createCatalog, loadCatalog } from "#app/modules/ai/catalog.server.ts";
import type { AiConfig } from "#app/modules/ai/config.server.ts";
import { createKeyring } from "#app/modules/ai/crypto.server.ts";
import { aiConfigFromEnv, createAiRuntime } from "#app/modules/ai/runtime.server.ts";
import { createProject, importLocalDirectory } from "#app/modules/projects/index.server.ts";
import { executeRun } from "#app/modules/runs/engine.server.ts";
import { createEventWriter } from "#app/modules/runs/events.server.ts";
import { cancelRun, createRun } from "#app/modules/runs/index.server.ts";
import { detectSandbox, type SandboxConfig } from "#app/modules/sandbox/index.server.ts";
import type { WorkflowDefinitionInput } from "#app/modules/workflows/definition.ts";
import { createWorkflow } from "#app/modules/workflows/index.server.ts";
import { type MockLlm, startMockLlm } from "#tests/mocks/llm/server.ts";
import { createDatabase, dropDatabase } from "#tests/setup/database-server.ts";
import { type EvalSuite, type EvalTask, loadSuite, SuiteError } from "./suite.ts";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const MIGRATIONS_DIR = path.join(REPO_ROOT, "prisma", "migrations");

/** `--model mock`: the mock provider, scripted per task from its mock-script.json. */
export const MOCK_MODEL = "mock";
const MOCK_ENDPOINT = "mock";

/** How often the harness looks at a run's wall time to enforce timeoutMs. */
const WATCH_MS = 250;
/** Characters of the check's output kept in the report (its end: where test runners print the summary). */
const CHECK_OUTPUT_CHARS = 4_000;

export type TaskStatus = "pass" | "fail" | "error";

export type TaskResult = {
  task: string;
  /** The model as given (`mock`, `openai:gpt-4.1-mini`). */
  model: string;
  /** The model id the agent step ran with (`compat:mock/script:…` for the mock). */
  modelId: string;
  status: TaskStatus;
  passed: boolean;
  /** Why it did not pass (null when it passed). */
  reason: string | null;
  runId: string | null;
  runStatus: string | null;
  agent: {
    stopReason: string | null;
    summary: string | null;
    /** Model turns. */
    turns: number;
    /** Tool calls the agent made (finish included). */
    toolCalls: number;
  };
  tokensIn: number;
  tokensOut: number;
  costUsd: number;
  /** Wall time of the run (agent, then check), milliseconds. */
  wallMs: number;
  diff: {
    files: number;
    additions: number;
    deletions: number;
    changes: Array<{ path: string; status: string; additions: number; deletions: number }>;
  };
  /** null: the check did not run (the agent did not finish, or the run was cancelled). */
  check: { exitCode: number | null; timedOut: boolean; output: string } | null;
};

export type ModelTotals = {
  model: string;
  passed: number;
  total: number;
  tokensIn: number;
  tokensOut: number;
  costUsd: number;
  wallMs: number;
};

export type EvalReport = {
  version: 1;
  suite: { name: string; dir: string; tasks: string[] };
  models: string[];
  /** How the agent's commands and the checks were isolated: "bwrap", or "unsafe" (AGENTRY_UNSAFE_NO_SANDBOX). */
  sandbox: "bwrap" | "unsafe";
  startedAt: string;
  finishedAt: string;
  /** Wall time of the whole eval (setup included), milliseconds. */
  wallMs: number;
  /** Model-major, tasks in suite order. */
  results: TaskResult[];
  totals: ModelTotals[];
  /** Every task of every model passed. */
  passed: boolean;
};

export type EvalDatabase =
  /** An existing, migrated database (tests pass theirs). Left as it is. */
  | { db: Db }
  /** A PostgreSQL server: a throwaway database is created on it, migrated, and dropped at the end. */
  | { serverUrl: string };

export type RunEvalOptions = {
  /** Suite folder (or one task folder), or a suite already loaded. */
  suite: string | EvalSuite;
  /** Models to evaluate: `mock`, `openai:…`, `anthropic:…`, `compat:<endpoint>/<model>`. */
  models: string[];
  database: EvalDatabase;
  /** Provider keys and AI settings, as the app reads them (OPENAI_API_KEY, AI_COMPAT_ENDPOINTS …). Default: none. */
  env?: Env;
  /** Tasks run at once. Default 1. */
  concurrency?: number;
  /** Replace a task's mock-script.json for the mock model (tests: a deliberately wrong solution). */
  mockScripts?: Record<string, EvalTask["mockScript"]>;
  /** Price of the mock model, USD per million tokens. Default 0 (it is free). */
  mockPricing?: { inputPerMTok: number; outputPerMTok: number };
  /** Sandbox settings override (default: the app's: bwrap, unsafe only with AGENTRY_UNSAFE_NO_SANDBOX). */
  sandbox?: SandboxConfig;
  /** Called as each task finishes (progress output). */
  onResult?: (result: TaskResult) => void;
};

/** The eval could not start (no sandbox, unknown model, database unreachable …). */
export class EvalSetupError extends Error {
  override readonly name = "EvalSetupError";
}

export const isMockModel = (model: string) =>
  model === MOCK_MODEL || model.startsWith(`compat:${MOCK_ENDPOINT}/`);

type Job = { index: number; task: EvalTask; model: string; modelId: string; scriptId: string | null };

const slug = (text: string) =>
  text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 60) || "task";

/** A throwaway, migrated database on `serverUrl`; close() drops it. */
async function throwawayDatabase(
  serverUrl: string,
  pool: number,
): Promise<{ db: Db; close(): Promise<void> }> {
  const name = `agentry_eval_${randomBytes(6).toString("hex")}`;
  let url: string;
  try {
    ({ url } = await createDatabase(serverUrl, name));
  } catch (error) {
    throw new EvalSetupError(`Cannot create a database for the eval: ${(error as Error).message}`);
  }
  try {
    await migrate({ connectionString: url, migrationsDir: MIGRATIONS_DIR });
  } catch (error) {
    await dropDatabase(serverUrl, name).catch(() => {});
    throw error;
  }
  const db = createPrismaClient({ connectionString: url, max: pool, applicationName: "agentry-eval" });
  return {
    db,
    close: async () => {
      await db.$disconnect().catch(() => {});
      await dropDatabase(serverUrl, name);
    },
  };
}

/** Run every model × task of a suite; see the module comment. Throws EvalSetupError / SuiteError before any run. */
export async function runEval(options: RunEvalOptions): Promise<EvalReport> {
  const started = new Date();
  const suite = typeof options.suite === "string" ? await loadSuite(options.suite) : options.suite;
  const models = [...new Set(options.models.map((m) => m.trim()).filter(Boolean))];
  if (models.length === 0) throw new EvalSetupError("Name at least one model (--model)");
  const concurrency = Math.max(1, Math.min(32, Math.floor(options.concurrency ?? 1)));
  const env = options.env ?? loadEnv({});
  const logger = createLogger({ level: "silent" });

  // The jobs, and for the mock model one script (and catalog entry, tools: true = native tool calls) per task.
  const jobs: Job[] = [];
  const mockEntries: CatalogEntry[] = [];
  const runTag = randomBytes(3).toString("hex");
  for (const model of models) {
    for (const task of suite.tasks) {
      if (model === MOCK_MODEL) {
        const script = options.mockScripts?.[task.name] ?? task.mockScript;
        if (!script)
          throw new SuiteError(`${task.dir}: has no mock-script.json, which --model ${MOCK_MODEL} needs`);
        const scriptId = `eval-${runTag}-${jobs.length}-${slug(task.name)}`;
        const modelId = `compat:${MOCK_ENDPOINT}/script:${scriptId}`;
        mockEntries.push({
          id: modelId,
          label: `Mock (scripted): ${task.name}`,
          contextWindow: 128_000,
          tools: true,
          inputPerMTok: options.mockPricing?.inputPerMTok ?? 0,
          outputPerMTok: options.mockPricing?.outputPerMTok ?? 0,
        });
        jobs.push({ index: jobs.length, task, model, modelId, scriptId });
      } else {
        jobs.push({ index: jobs.length, task, model, modelId: model, scriptId: null });
      }
    }
  }

  // Provider settings and the catalog as the app builds them; every model checked before anything starts.
  const config = aiConfigFromEnv(env, { demoBaseUrl: null });
  const catalog = createCatalog(loadCatalog({ modelsFile: config.modelsFile }).entries, mockEntries);
  const isKnownModel = (id: string) => catalog.get(id) !== undefined || id.startsWith("compat:");
  const problems = models
    .filter((m) => !isMockModel(m))
    .flatMap((m) => modelProblem(m, config, isKnownModel));
  if (problems.length > 0) throw new EvalSetupError(problems.join("\n"));

  const cleanups: Array<() => Promise<unknown>> = [];
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) await fn().catch(() => {});
  };
  try {
    // The sandbox, as the worker configures it (start.server.ts): the app's folder and data are never mounted.
    const sandboxConfig: SandboxConfig = options.sandbox ?? {
      allowUnsafe: env.AGENTRY_UNSAFE_NO_SANDBOX,
      protectedPaths: [REPO_ROOT, env.dataDir],
    };
    const sandboxStatus = await detectSandbox(sandboxConfig);
    if (sandboxStatus.mode === "unavailable") {
      throw new EvalSetupError(
        `No sandbox for the agent's commands: ${sandboxStatus.reason}. Install bubblewrap, or set AGENTRY_UNSAFE_NO_SANDBOX=true on a machine you trust.`,
      );
    }
    const sandboxMode = sandboxStatus.mode;
    const workspacesDir = await mkdtemp(path.join(os.tmpdir(), "agentry-eval-"));
    cleanups.push(() => rm(workspacesDir, { recursive: true, force: true }));

    let db: Db;
    if ("db" in options.database) db = options.database.db;
    else {
      const throwaway = await throwawayDatabase(options.database.serverUrl, concurrency * 2 + 4);
      cleanups.push(() => throwaway.close());
      db = throwaway.db;
    }

    let mock: MockLlm | null = null;
    if (models.some(isMockModel)) {
      mock = await startMockLlm({ host: "127.0.0.1", port: 0, maxRecorded: 0 });
      cleanups.push(() => mock!.close());
    }
    if (mock) {
      config.server.compat = {
        ...config.server.compat,
        [MOCK_ENDPOINT]: { baseUrl: `${mock.url}/v1`, apiKey: "" },
      };
    }
    // Nothing is stored encrypted in a throwaway database: a random key will do (and .data/ is left alone).
    const keyring = createKeyring(randomBytes(32).toString("base64"));
    const ai = createAiRuntime({ db, logger, config, keyring, catalog });

    const events = createEventWriter({ db, logger, flushIntervalMs: 10 });
    cleanups.push(() => events.close());
    const user = await db.user.create({
      data: {
        email: `eval-${runTag}-${randomBytes(4).toString("hex")}@agentry.invalid`,
        name: "Agentry eval",
      },
      select: { id: true },
    });

    const results: TaskResult[] = new Array(jobs.length);
    let next = 0;
    const worker = async () => {
      while (next < jobs.length) {
        const job = jobs[next++]!;
        if (job.scriptId && mock)
          mock.script(job.scriptId, options.mockScripts?.[job.task.name] ?? job.task.mockScript ?? []);
        const result = await runJob(job, {
          db,
          userId: user.id,
          isKnownModel,
          engine: {
            db,
            ai,
            events,
            logger,
            sandbox: { config: sandboxConfig, workspacesDir },
          },
        });
        results[job.index] = result;
        options.onResult?.(result);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, jobs.length) }, worker));

    const finished = new Date();
    const totals = models.map((model) => totalsOf(model, results));
    return {
      version: 1,
      suite: { name: suite.name, dir: suite.dir, tasks: suite.tasks.map((t) => t.name) },
      models,
      sandbox: sandboxMode,
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      wallMs: finished.getTime() - started.getTime(),
      results,
      totals,
      passed: results.every((r) => r.passed),
    };
  } finally {
    await cleanup();
  }
}

/** Why `model` cannot run here (bad id, not in the catalog, no server credentials), or nothing. */
function modelProblem(model: string, config: AiConfig, isKnownModel: (id: string) => boolean): string[] {
  const parsed = parseModelId(model);
  if (!parsed.ok) return [`${parsed.error}, or mock`];
  if (!isKnownModel(model))
    return [`Unknown model ${model}: not in the catalog (add it with AI_MODELS_FILE, or pick another)`];
  const { provider, endpoint } = parsed.ref;
  if (provider === "openai" && !config.server.openai) return [`${model}: set OPENAI_API_KEY`];
  if (provider === "anthropic" && !config.server.anthropic) return [`${model}: set ANTHROPIC_API_KEY`];
  if (provider === "compat" && endpoint && !config.server.compat[endpoint])
    return [
      `${model}: no OpenAI-compatible endpoint "${endpoint}" (set AI_COMPAT_ENDPOINTS=${endpoint}=http://…/v1)`,
    ];
  return [];
}

export function totalsOf(model: string, results: TaskResult[]): ModelTotals {
  const mine = results.filter((r) => r.model === model);
  return {
    model,
    passed: mine.filter((r) => r.passed).length,
    total: mine.length,
    tokensIn: mine.reduce((sum, r) => sum + r.tokensIn, 0),
    tokensOut: mine.reduce((sum, r) => sum + r.tokensOut, 0),
    costUsd: mine.reduce((sum, r) => sum + r.costUsd, 0),
    wallMs: mine.reduce((sum, r) => sum + r.wallMs, 0),
  };
}

type JobDeps = {
  db: Db;
  userId: string;
  isKnownModel: (id: string) => boolean;
  engine: Omit<Parameters<typeof executeRun>[1], "workerId" | "signal">;
};

function emptyResult(job: Job): TaskResult {
  return {
    task: job.task.name,
    model: job.model,
    modelId: job.modelId,
    status: "error",
    passed: false,
    reason: null,
    runId: null,
    runStatus: null,
    agent: { stopReason: null, summary: null, turns: 0, toolCalls: 0 },
    tokensIn: 0,
    tokensOut: 0,
    costUsd: 0,
    wallMs: 0,
    diff: { files: 0, additions: 0, deletions: 0, changes: [] },
    check: null,
  };
}

/** The workflow a task runs as: the agent, then the check on the workspace it left. */
export function taskWorkflow(task: EvalTask, modelId: string): WorkflowDefinitionInput {
  const limits = task.limits ?? {};
  return {
    // Passed as inputs, not written into the templates: `{{` in an instruction or a check stays literal.
    inputs: { instruction: { type: "text" }, check: { type: "text" } },
    steps: [
      {
        id: "agent",
        type: "agent",
        model: modelId,
        instructions: "{{inputs.instruction}}",
        ...(limits.maxTurns !== undefined ? { maxTurns: limits.maxTurns } : {}),
        ...(limits.maxTokens !== undefined ? { maxTokens: limits.maxTokens } : {}),
        ...(limits.maxCostUsd !== undefined ? { maxCostUsd: limits.maxCostUsd } : {}),
        ...(limits.timeoutMs !== undefined
          ? { maxMinutes: Math.min(240, Math.max(1, Math.ceil(limits.timeoutMs / 60_000))) }
          : {}),
      },
      {
        id: "check",
        type: "command",
        run: "{{inputs.check}}",
        continueOnError: true,
        timeoutSeconds: task.checkTimeoutSeconds ?? 300,
      },
    ],
  };
}

const asRecord = (value: unknown): Record<string, unknown> =>
  value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
const num = (value: unknown) => (typeof value === "number" && Number.isFinite(value) ? value : 0);
const str = (value: unknown) => (typeof value === "string" ? value : null);

async function runJob(job: Job, deps: JobDeps): Promise<TaskResult> {
  const { db, userId } = deps;
  const result = emptyResult(job);
  const { task } = job;
  let runId: string;
  try {
    const project = await createProject(
      {
        userId,
        name: `eval ${task.name}`.slice(0, 100),
        description: `Eval task ${task.name} × ${job.model}`,
      },
      { db },
    );
    const imported = await importLocalDirectory(
      { userId, projectId: project.id, dir: task.filesDir, allowedRoot: task.filesDir },
      { db },
    );
    if (imported.created === 0) throw new Error(`no file of ${task.filesDir} could be imported`);
    const workflow = await createWorkflow(
      { userId, projectId: project.id, name: "eval", definition: taskWorkflow(task, job.modelId) },
      { db, isKnownModel: deps.isKnownModel },
    );
    ({ runId } = await createRun(
      { userId, workflowId: workflow.id, input: { instruction: task.instruction, check: task.check } },
      { db },
    ));
  } catch (error) {
    result.reason = `setup failed: ${(error as Error).message}`;
    return result;
  }
  result.runId = runId;

  // timeoutMs: the agent step's limit is whole minutes, so the harness cancels the run (the same cancel a
  // user sends) when its time is up. maxTokens is the agent step's own (the loop stops before the next turn).
  const limits = task.limits ?? {};
  let limitHit: string | null = null;
  const startedAt = performance.now();
  const timeoutMs = limits.timeoutMs;
  const watch =
    timeoutMs !== undefined
      ? setInterval(() => {
          if (limitHit || performance.now() - startedAt <= timeoutMs) return;
          limitHit = `timeout: still running after ${timeoutMs} ms`;
          void cancelRun({ userId, runId }, { db }).catch(() => {});
        }, WATCH_MS)
      : null;
  watch?.unref();
  let outcome: string;
  try {
    outcome = await executeRun(runId, {
      ...deps.engine,
      workerId: randomUUID(),
      signal: new AbortController().signal,
      heartbeatMs: WATCH_MS,
    });
  } catch (error) {
    if (watch) clearInterval(watch);
    result.wallMs = Math.round(performance.now() - startedAt);
    result.reason = `the engine failed: ${(error as Error).message}`;
    return result;
  }
  if (watch) clearInterval(watch);
  result.wallMs = Math.round(performance.now() - startedAt);

  // What the run stored.
  const [run, steps, changeSet, toolCalls] = await Promise.all([
    db.workflowRun.findFirstOrThrow({
      where: { id: runId, userId },
      select: { status: true, error: true, tokensIn: true, tokensOut: true, costMicros: true },
    }),
    db.stepRun.findMany({
      where: { runId, userId },
      select: { stepId: true, status: true, output: true, error: true, transcript: true },
    }),
    db.changeSet.findFirst({
      where: { runId, userId },
      select: { files: true },
      orderBy: { createdAt: "desc" },
    }),
    db.runEvent.count({ where: { runId, userId, type: "tool_call" } }),
  ]);
  result.runStatus = run.status;
  result.tokensIn = run.tokensIn;
  result.tokensOut = run.tokensOut;
  result.costUsd = Number(run.costMicros) / 1_000_000;
  result.agent.toolCalls = toolCalls;

  const agentStep = steps.find((s) => s.stepId === "agent");
  const agentOutput = asRecord(agentStep?.output);
  const transcript = asRecord(agentStep?.transcript);
  const outcomeOf = asRecord(transcript.outcome);
  result.agent.turns = num(agentOutput.turns) || num(transcript.turns);
  result.agent.stopReason = str(agentOutput.stopReason) ?? str(outcomeOf.stopReason);
  result.agent.summary = str(agentOutput.summary) ?? str(outcomeOf.summary);

  const files = Array.isArray(changeSet?.files) ? changeSet.files.map(asRecord) : [];
  result.diff = {
    files: files.length,
    additions: files.reduce((sum, f) => sum + num(f.additions), 0),
    deletions: files.reduce((sum, f) => sum + num(f.deletions), 0),
    changes: files.map((f) => ({
      path: str(f.path) ?? "?",
      status: str(f.status) ?? "?",
      additions: num(f.additions),
      deletions: num(f.deletions),
    })),
  };

  const checkStep = steps.find((s) => s.stepId === "check");
  if (checkStep?.status === "succeeded") {
    const out = asRecord(checkStep.output);
    const text = `${str(out.stdout) ?? ""}${str(out.stderr) ?? ""}`;
    result.check = {
      exitCode: typeof out.exitCode === "number" ? out.exitCode : null,
      timedOut: out.timedOut === true,
      output: text.length > CHECK_OUTPUT_CHARS ? `…${text.slice(-CHECK_OUTPUT_CHARS)}` : text,
    };
  }

  if (outcome === "succeeded" && result.check?.exitCode === 0) {
    result.status = "pass";
    result.passed = true;
    return result;
  }
  result.status = "fail";
  if (limitHit) result.reason = limitHit;
  else if (result.check) {
    result.reason = result.check.timedOut
      ? "the check timed out"
      : `the check exited with code ${result.check.exitCode ?? "?"}${lastLine(result.check.output)}`;
  } else {
    const error = asRecord(run.error);
    const code = str(error.code);
    const message = str(error.message);
    result.reason = `run ${run.status}${code ? ` (${code})` : ""}${message ? `: ${message}` : ""}`;
  }
  return result;
}

/** The last non-empty line of a check's output, to say why it failed. */
function lastLine(output: string): string {
  const lines = output
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  const failing = lines.find((l) => /^(not ok|✖|AssertionError|Error:)/.test(l));
  const line = failing ?? lines.at(-1);
  return line ? `: ${line.length > 160 ? `${line.slice(0, 160)}…` : line}` : "";
}
