/**
 * The `runs` suite: the run pipeline on this machine — createRun (row + job in one transaction) → a real
 * graphile-worker → the engine → checkpoint → done — and the event streams of one web process (bench/sse.ts).
 * Steps are `transform` and `llm` on the mock provider (in its own process), so what is measured is the
 * platform, not a model.
 *
 * Goals (issue 6): enqueue → first step started p50 ≤ 10 ms, p99 ≤ 50 ms; trivial one-step runs ≥ 300/s;
 * ≥ 2,000 concurrent SSE subscribers per web process at 64 chunks × 20 ms.
 *
 * Besides wall-clock rates (which move with whatever else the machine runs), each throughput scenario reports
 * the CPU it cost per run: this process (web and worker in one process, as `npm start` runs them) and the
 * PostgreSQL backends of the bench database (read from /proc, so only when PostgreSQL runs on this host).
 */
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { createPrismaClient, type Db } from "#app/db/client.server.ts";
import { createLogger } from "#app/lib/logger.server.ts";
import { createRun } from "#app/modules/runs/runs.server.ts";
import { createWorkflow } from "#app/modules/workflows/workflows.server.ts";
import { createTestAiRuntime } from "#tests/setup/ai.ts";
import { startWorker, type WorkerHandle } from "#worker/index.ts";
import { postgresCpuMeter, report, reportValue, round } from "./lib.ts";
import { runSse } from "./sse.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const SUITE = "runs";
/**
 * Worker slots. Trivial runs wait on the database, not the CPU, so more slots mean more runs ending in each
 * event flush (one transaction for all of them). The shipped default (WORKER_CONCURRENCY) is 4; the
 * throughput scenarios also run at 4 to show the difference.
 */
const CONCURRENCY = 32;
/** Callers creating runs at once in the throughput scenarios (API clients, browser tabs). */
const CREATORS = 8;

async function startMockChild(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(root, "bench/mock-child.ts")], {
    cwd: root,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", resolve);
    child.once("exit", (code) => reject(new Error(`mock provider exited with ${code}`)));
  });
  return { url, child };
}

/** CPU per run over a span: this process and the database's backends. */
async function cpuMeter(db: Db) {
  const node = process.cpuUsage();
  const pg = await postgresCpuMeter(db);
  return async (runs: number) => {
    const used = process.cpuUsage(node);
    const pgMs = await pg();
    const nodeMs = (used.user + used.system) / 1000 / runs;
    return `CPU per run: node ${round(nodeMs)} ms, postgres ${pgMs === null ? "n/a" : `${round(pgMs / runs)} ms`}`;
  };
}

export async function runRuns(databaseUrl: string): Promise<void> {
  const { url: mockUrl, child } = await startMockChild();
  const db = createPrismaClient({ connectionString: databaseUrl, max: 10 });
  const logger = createLogger({ level: "silent" });
  const ai = createTestAiRuntime(db, {
    server: { compat: { mock: { baseUrl: `${mockUrl}/v1`, apiKey: "" } } },
  });
  let worker: WorkerHandle | undefined;
  const start = async (concurrency = CONCURRENCY) => {
    worker = await startWorker({ connectionString: databaseUrl, db, logger, concurrency, ai });
  };
  const stop = async () => {
    await worker?.stop();
    worker = undefined;
  };
  try {
    const user = await db.user.create({ data: { email: `bench-runs-${Date.now()}@example.com` } });
    const project = await db.project.create({ data: { userId: user.id, name: "bench" } });
    const deps = { db };
    const trivial = await createWorkflow(
      {
        userId: user.id,
        projectId: project.id,
        name: "trivial",
        definition: {
          inputs: { task: { type: "string" } },
          steps: [{ id: "echo", type: "transform", template: "{{inputs.task}}" }],
        },
      },
      deps,
    );
    const withModel = await createWorkflow(
      {
        userId: user.id,
        projectId: project.id,
        name: "model",
        definition: {
          inputs: { task: { type: "string" } },
          steps: [{ id: "ask", type: "llm", model: "compat:mock/echo", prompt: "{{inputs.task}}" }],
        },
      },
      deps,
    );

    /** Polls every `everyMs` (the throughput scenarios poll rarely: polling costs CPU too). */
    const finished = async (runIds: string[], everyMs = 50) => {
      for (;;) {
        const open = await db.workflowRun.count({
          where: { id: { in: runIds }, status: { notIn: ["succeeded", "failed", "cancelled", "dead"] } },
        });
        if (open === 0) return;
        await new Promise((resolve) => setTimeout(resolve, everyMs));
      }
    };
    const notSucceeded = (ids: string[]) =>
      db.workflowRun.count({ where: { id: { in: ids }, status: { not: "succeeded" } } });
    /** `count` runs of `workflowId`, created by CREATORS callers at once; their ids. */
    const createMany = async (workflowId: string, count: number) => {
      const ids: string[] = [];
      let next = 0;
      await Promise.all(
        Array.from({ length: CREATORS }, async () => {
          while (next < count) {
            const i = next++;
            ids.push(
              (await createRun({ userId: user.id, workflowId, input: { task: `x${i}` } }, deps)).runId,
            );
          }
        }),
      );
      return ids;
    };

    // ── Enqueue → first step started, one run at a time (timestamps written by this process's clock).
    await start();
    const toStart: number[] = [];
    const toDone: number[] = [];
    for (let i = -10; i < 200; i++) {
      const created = performance.now();
      const { runId } = await createRun(
        { userId: user.id, workflowId: trivial.id, input: { task: `t${i}` } },
        deps,
      );
      await finished([runId], 2);
      const elapsed = performance.now() - created;
      if (i < 0) continue;
      const run = await db.workflowRun.findUniqueOrThrow({
        where: { id: runId },
        select: { createdAt: true, status: true, steps: { select: { startedAt: true } } },
      });
      if (run.status !== "succeeded") throw new Error(`run ${runId} ended ${run.status}`);
      toStart.push(run.steps[0]!.startedAt!.getTime() - run.createdAt.getTime());
      toDone.push(elapsed);
    }
    report(
      SUITE,
      "enqueue → first step started",
      toStart,
      "ms",
      "goal p50 ≤ 10, p99 ≤ 50; ms-resolution timestamps",
    );
    report(SUITE, "one-step run, createRun → succeeded (seen)", toDone, "ms", "includes 2 ms polling");

    // ── End to end: CREATORS callers creating runs while the worker executes them.
    for (const [label, workflowId, count] of [
      ["trivial one-step runs (transform)", trivial.id, 600],
      ["one-step runs calling the mock model", withModel.id, 300],
    ] as const) {
      const cpu = await cpuMeter(db);
      const started = performance.now();
      const ids = await createMany(workflowId, count);
      await finished(ids);
      const seconds = (performance.now() - started) / 1000;
      reportValue(
        SUITE,
        `${label}: created and completed per second`,
        count / seconds,
        "runs/s",
        `${count} runs, ${await notSucceeded(ids)} not succeeded; ${CREATORS} creators, concurrency ${CONCURRENCY}; ${await cpu(count)}; goal ≥ 300/s`,
      );
    }
    await stop();

    // ── The two halves apart: createRun alone (no worker), then the worker draining what was queued.
    for (const concurrency of [CONCURRENCY, 4]) {
      const count = 600;
      let cpu = await cpuMeter(db);
      let started = performance.now();
      const ids = await createMany(trivial.id, count);
      let seconds = (performance.now() - started) / 1000;
      if (concurrency === CONCURRENCY) {
        reportValue(
          SUITE,
          "createRun alone: runs queued per second",
          count / seconds,
          "runs/s",
          `${CREATORS} callers; ${await cpu(count)}`,
        );
      }
      cpu = await cpuMeter(db);
      started = performance.now();
      await start(concurrency);
      await finished(ids);
      seconds = (performance.now() - started) / 1000;
      reportValue(
        SUITE,
        `worker alone, concurrency ${concurrency}: queued trivial runs done per second`,
        count / seconds,
        "runs/s",
        `${count} runs, ${await notSucceeded(ids)} not succeeded; ${await cpu(count)}`,
      );
      await stop();
    }
  } finally {
    await stop();
    child.kill("SIGTERM");
    await db.$disconnect();
  }
  await runSse(databaseUrl);
}
