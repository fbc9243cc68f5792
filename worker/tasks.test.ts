import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { z } from "zod";
import { createTestDatabase } from "#tests/setup/database.ts";
import { startWorker, type WorkerHandle } from "./runner.ts";
import { createEnqueue, defineRegistry, defineTask, PermanentJobError } from "./task-kit.ts";
import { enqueue, probeTask } from "./tasks.ts";
import { createCapturingLogger, nextEvent, waitFor } from "./test-helpers.ts";

type TestDb = Awaited<ReturnType<typeof createTestDatabase>>;

let database: TestDb;
let worker: WorkerHandle;
const { logger, lines } = createCapturingLogger();

const refusingTask = defineTask({
  name: "test.refuse",
  payload: z.object({ reason: z.string() }),
  async run({ reason }) {
    throw new PermanentJobError(`refused: ${reason}`);
  },
});
const flakyTask = defineTask({
  name: "test.flaky",
  payload: z.object({}),
  async run() {
    throw new Error("transient failure");
  },
});
const testRegistry = defineRegistry([probeTask, refusingTask, flakyTask]);
const enqueueTest = createEnqueue(testRegistry);

interface JobRow {
  id: string;
  task_identifier: string;
  attempts: number;
  max_attempts: number;
  last_error: string | null;
  locked_by: string | null;
  key: string | null;
  queue_name: string | null;
  priority: number;
  run_at: Date;
}

async function jobById(id: string): Promise<JobRow | undefined> {
  const rows = await database.db.$queryRaw<JobRow[]>`
    SELECT id::text AS id, task_identifier, attempts, max_attempts, last_error, locked_by, key, queue_name,
           priority, run_at
    FROM graphile_worker.jobs WHERE id = ${id}::bigint`;
  return rows[0];
}

// The public `jobs` view has no payload column; tests may read the private table.
async function jobsForProbe(probeId: string): Promise<number> {
  const rows = await database.db.$queryRaw<{ n: number }[]>`
    SELECT count(*)::int AS n FROM graphile_worker._private_jobs WHERE payload->>'probeId' = ${probeId}`;
  return rows[0]?.n ?? 0;
}

beforeAll(async () => {
  database = await createTestDatabase();
  worker = await startWorker({
    connectionString: database.url,
    db: database.db,
    logger,
    concurrency: 2,
    heartbeatMs: 1000,
    tasks: testRegistry,
  });
});

afterAll(async () => {
  await worker?.stop();
  await database?.close();
});

describe("enqueue", () => {
  test("a job enqueued in a transaction that rolls back never exists", async () => {
    let probeId = "";
    let visibleInsideTx = 0;
    const marker = new Error("roll back");
    await expect(
      database.db.$transaction(async (tx) => {
        const probe = await tx.workerProbe.create({ data: {} });
        probeId = probe.id;
        await enqueue(tx, "worker.probe", { probeId });
        const rows = await tx.$queryRaw<{ n: number }[]>`
          SELECT count(*)::int AS n FROM graphile_worker._private_jobs WHERE payload->>'probeId' = ${probeId}`;
        visibleInsideTx = rows[0]?.n ?? 0;
        throw marker;
      }),
    ).rejects.toBe(marker);

    expect(visibleInsideTx).toBe(1);
    expect(await jobsForProbe(probeId)).toBe(0);
    expect(await database.db.workerProbe.findUnique({ where: { id: probeId } })).toBeNull();
  });

  test("a job enqueued in a committed transaction runs: the probe is completed by this worker", async () => {
    const probe = await database.db.$transaction(async (tx) => {
      const created = await tx.workerProbe.create({ data: {} });
      await enqueue(tx, "worker.probe", { probeId: created.id });
      return created;
    });

    const done = await waitFor(
      async () => {
        const row = await database.db.workerProbe.findUnique({ where: { id: probe.id } });
        return row?.completedAt ? row : null;
      },
      { what: "probe completion" },
    );
    expect(done.workerId).toBe(worker.workerId);
    expect(done.startedAt).not.toBeNull();
    expect(done.startedAt!.getTime()).toBeGreaterThanOrEqual(done.requestedAt.getTime());
    expect(done.completedAt!.getTime()).toBeGreaterThanOrEqual(done.startedAt!.getTime());
    // Completed jobs are deleted; the completion was written, not merely attempted.
    await waitFor(async () => (await jobsForProbe(probe.id)) === 0, { what: "job deletion" });
  });

  test("a probe whose row is gone completes without retrying and says so", async () => {
    const probeId = randomUUID();
    const completed = nextEvent(
      worker.runner.events,
      "job:complete",
      ({ job }) => (job.payload as { probeId?: string }).probeId === probeId,
    );
    const job = await enqueue(database.db, "worker.probe", { probeId });
    const event = await completed;
    expect(event.job.id).toBe(job.id);
    expect(event.error).toBeNull();
    expect(lines.some((l) => l.level === 40 && l.probeId === probeId && l.msg?.includes("not found"))).toBe(
      true,
    );
  });

  test("options reach add_job; jobKey dedupes", async () => {
    const probeId = randomUUID();
    const runAt = new Date(Date.now() + 3_600_000);
    const first = await enqueue(
      database.db,
      "worker.probe",
      { probeId },
      { jobKey: `probe:${probeId}`, runAt, maxAttempts: 3, queueName: "probes", priority: 7 },
    );
    const second = await enqueue(
      database.db,
      "worker.probe",
      { probeId },
      { jobKey: `probe:${probeId}`, runAt },
    );
    expect(second.id).toBe(first.id);
    const job = await jobById(first.id);
    expect(job).toMatchObject({
      task_identifier: "worker.probe",
      key: `probe:${probeId}`,
      queue_name: null, // "replace" mode overwrote the first spec with the second's
      max_attempts: probeTask.maxAttempts,
      attempts: 0,
    });
    expect(job!.run_at.getTime()).toBe(runAt.getTime());
    expect(await jobsForProbe(probeId)).toBe(1);

    const other = await enqueue(
      database.db,
      "worker.probe",
      { probeId: randomUUID() },
      {
        runAt,
        maxAttempts: 3,
        queueName: "probes",
        priority: 7,
      },
    );
    expect(await jobById(other.id)).toMatchObject({ queue_name: "probes", priority: 7, max_attempts: 3 });
  });

  test("a bad payload is refused at enqueue, before anything is written", async () => {
    // Type-correct (a string), but not a UUID: only the schema can tell.
    await expect(enqueue(database.db, "worker.probe", { probeId: "not-a-uuid" })).rejects.toThrow(
      'Invalid payload for task "worker.probe": probeId: Invalid UUID',
    );
    await expect(
      // @ts-expect-error -- unknown task name
      enqueue(database.db, "worker.nope", {}),
    ).rejects.toThrow('Unknown task "worker.nope"');
  });
});

describe("failures", () => {
  test("a job whose payload fails to parse fails permanently, with the zod message, after one attempt", async () => {
    const failed = nextEvent(
      worker.runner.events,
      "job:failed",
      ({ job }) => job.task_identifier === "worker.probe",
    );
    // Bypass the typed enqueue, as SQL callers or an older deploy could.
    const rows = await database.db.$queryRaw<{ id: string }[]>`
      SELECT (graphile_worker.add_job('worker.probe', '{"probeId": "nope"}'::json)).id::text AS id`;
    const jobId = rows[0]!.id;
    const event = await failed;
    expect(event.job.id).toBe(jobId);

    const job = await waitFor(
      async () => {
        const row = await jobById(jobId);
        return row && row.locked_by === null ? row : null;
      },
      { what: "failure to be recorded" },
    );
    expect(job).toMatchObject({
      attempts: 1,
      max_attempts: 1,
      last_error: 'Invalid payload for task "worker.probe": probeId: Invalid UUID',
    });
    // attempts == max_attempts: get_job never selects it again.
    const failureLog = lines.find((l) => l.level === 50 && String(l.msg).includes(`Failed task ${jobId}`));
    expect(failureLog?.msg).toContain("attempt 1 of 1");
  });

  test("a task throwing PermanentJobError is not retried", async () => {
    const job = await enqueueTest(database.db, "test.refuse", { reason: "no" });
    const row = await waitFor(
      async () => {
        const r = await jobById(job.id);
        return r && r.attempts === 1 && r.locked_by === null ? r : null;
      },
      { what: "permanent failure" },
    );
    expect(row).toMatchObject({ max_attempts: 1, last_error: "refused: no" });
  });

  test("an ordinary error is retried later (attempts left)", async () => {
    const job = await enqueueTest(database.db, "test.flaky", {});
    const row = await waitFor(
      async () => {
        const r = await jobById(job.id);
        return r && r.attempts === 1 && r.locked_by === null ? r : null;
      },
      { what: "first failure" },
    );
    expect(row.max_attempts).toBe(25);
    expect(row.last_error).toBe("transient failure");
    expect(row.run_at.getTime()).toBeGreaterThan(Date.now());
  });
});

test("typed enqueue rejects wrong task names, payloads and options at compile time", () => {
  // Never called, only type-checked: `tsc --noEmit` fails if a line below stops being an error.
  const typeChecks = (tx: Parameters<typeof enqueue>[0]) => {
    void enqueue(tx, "worker.probe", { probeId: randomUUID() });
    // @ts-expect-error -- unknown task name
    void enqueue(tx, "worker.prob", { probeId: randomUUID() });
    // @ts-expect-error -- missing field
    void enqueue(tx, "worker.probe", {});
    // @ts-expect-error -- wrong type
    void enqueue(tx, "worker.probe", { probeId: 42 });
    // @ts-expect-error -- unknown field
    void enqueue(tx, "worker.probe", { probeId: randomUUID(), extra: true });
    // @ts-expect-error -- the test registry's tasks are not in the app registry
    void enqueue(tx, "test.refuse", { reason: "x" });
    // @ts-expect-error -- bad option
    void enqueue(tx, "worker.probe", { probeId: randomUUID() }, { jobKeyMode: "merge" });
  };
  expect(typeChecks).toBeTypeOf("function");
});
