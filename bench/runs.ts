/**
 * The `runs` suite: the run pipeline on this machine — createRun (row + job in one transaction) → a real
 * graphile-worker → the engine → checkpoint → done. Steps are `transform` and `llm` on the mock provider (in
 * its own process), so what is measured is the platform, not a model.
 *
 * Goals (issue 6): enqueue → first step started p50 ≤ 10 ms, p99 ≤ 50 ms; trivial one-step runs ≥ 300/s.
 */
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { createPrismaClient } from "#app/db/client.server.ts";
import { createLogger } from "#app/lib/logger.server.ts";
import { createRun } from "#app/modules/runs/runs.server.ts";
import { createWorkflow } from "#app/modules/workflows/workflows.server.ts";
import { createTestAiRuntime } from "#tests/setup/ai.ts";
import { startWorker } from "#worker/index.ts";
import { report, reportValue } from "./lib.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const SUITE = "runs";

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

export async function runRuns(databaseUrl: string): Promise<void> {
  const { url: mockUrl, child } = await startMockChild();
  const db = createPrismaClient({ connectionString: databaseUrl, max: 20 });
  const logger = createLogger({ level: "silent" });
  const ai = createTestAiRuntime(db, {
    server: { compat: { mock: { baseUrl: `${mockUrl}/v1`, apiKey: "" } } },
  });
  const worker = await startWorker({ connectionString: databaseUrl, db, logger, concurrency: 10, ai });
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

    const finished = async (runIds: string[]) => {
      for (;;) {
        const open = await db.workflowRun.count({
          where: { id: { in: runIds }, status: { notIn: ["succeeded", "failed", "cancelled", "dead"] } },
        });
        if (open === 0) return;
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    };

    // Enqueue → first step started, one run at a time (timestamps written by this process's clock).
    const toStart: number[] = [];
    const toDone: number[] = [];
    for (let i = -10; i < 200; i++) {
      const created = performance.now();
      const { runId } = await createRun(
        { userId: user.id, workflowId: trivial.id, input: { task: `t${i}` } },
        deps,
      );
      await finished([runId]);
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

    // Throughput: many trivial runs at once, worker concurrency 10.
    for (const [label, workflowId, count] of [
      ["trivial one-step runs (transform)", trivial.id, 600],
      ["one-step runs calling the mock model", withModel.id, 300],
    ] as const) {
      const started = performance.now();
      const ids: string[] = [];
      for (let i = 0; i < count; i++) {
        ids.push((await createRun({ userId: user.id, workflowId, input: { task: `x${i}` } }, deps)).runId);
      }
      await finished(ids);
      const seconds = (performance.now() - started) / 1000;
      const failed = await db.workflowRun.count({ where: { id: { in: ids }, status: { not: "succeeded" } } });
      reportValue(
        SUITE,
        `${label}: completed per second`,
        count / seconds,
        "runs/s",
        `${count} runs, ${failed} not succeeded; goal ≥ 300/s`,
      );
    }
  } finally {
    await worker.stop();
    child.kill("SIGTERM");
    await db.$disconnect();
  }
}
