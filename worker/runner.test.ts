import { hostname } from "node:os";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { z } from "zod";
import { createTestDatabase } from "#tests/setup/database.ts";
import packageJson from "../package.json" with { type: "json" };
import { maySweep, startWorker, type WorkerHandle } from "./runner.ts";
import { createEnqueue, defineRegistry, defineTask } from "./task-kit.ts";
import { enqueue, probeTask } from "./tasks.ts";
import { createCapturingLogger, gate, nextEvent, sleep, waitFor } from "./test-helpers.ts";
import { findDeadWorkers, sweepDeadWorkers } from "./worker-process.ts";

type TestDb = Awaited<ReturnType<typeof createTestDatabase>>;

let database: TestDb;
const { logger, lines } = createCapturingLogger();
/** Every worker a test starts; afterAll stops those still running. */
const started: WorkerHandle[] = [];

/** Held open by tests: a `test.hold` job runs until its gate opens. */
const gates = new Map<string, ReturnType<typeof gate>>();
/** Runs per `test.hold` key: proves a finished job never runs twice. */
const runs = new Map<string, number>();

const holdTask = defineTask({
  name: "test.hold",
  payload: z.object({ key: z.string(), probeId: z.uuid() }),
  async run({ key, probeId }, { db }) {
    runs.set(key, (runs.get(key) ?? 0) + 1);
    await gates.get(key)?.promise;
    await db.workerProbe.update({ where: { id: probeId }, data: { completedAt: new Date() } });
  },
});
const registry = defineRegistry([probeTask, holdTask]);
const enqueueTest = createEnqueue(registry);

async function start(options: Partial<Parameters<typeof startWorker>[0]> = {}): Promise<WorkerHandle> {
  const handle = await startWorker({
    connectionString: database.url,
    db: database.db,
    logger,
    concurrency: 2,
    heartbeatMs: 50,
    tasks: registry,
    ...options,
  });
  started.push(handle);
  return handle;
}

async function workerRow(id: string) {
  return database.db.workerProcess.findUnique({ where: { id } });
}

async function lockedBy(jobId: string): Promise<string | null | undefined> {
  const rows = await database.db.$queryRaw<{ locked_by: string | null }[]>`
    SELECT locked_by FROM graphile_worker.jobs WHERE id = ${jobId}::bigint`;
  return rows[0] ? rows[0].locked_by : undefined;
}

/** Enqueue a held job and wait until a worker has started it. */
async function startHeldJob(key: string) {
  gates.set(key, gate());
  const probe = await database.db.workerProbe.create({ data: {} });
  const job = await enqueueTest(database.db, "test.hold", { key, probeId: probe.id });
  await waitFor(() => runs.get(key) === 1, { what: `job ${key} to start` });
  return { job, probe };
}

beforeAll(async () => {
  database = await createTestDatabase();
});

afterAll(async () => {
  for (const g of gates.values()) g.open();
  await Promise.all(started.map((w) => w.stop({ timeoutMs: 5000 })));
  await Promise.all(started.map((w) => w.runner.promise.catch(() => undefined)));
  await database?.close();
});

describe("WorkerProcess row", () => {
  test("is inserted at start and its heartbeat advances; stop() records stoppedAt", async () => {
    const worker = await start({ concurrency: 3 });
    const first = await workerRow(worker.workerId);
    expect(first).toMatchObject({
      hostname: hostname(),
      pid: process.pid,
      concurrency: 3,
      version: packageJson.version,
      stoppedAt: null,
    });
    const later = await waitFor(
      async () => {
        const row = await workerRow(worker.workerId);
        return row && row.heartbeatAt > first!.heartbeatAt ? row : null;
      },
      { what: "heartbeat to advance" },
    );
    expect(later.heartbeatAt.getTime()).toBeGreaterThan(first!.heartbeatAt.getTime());
    const queueConnections = await database.db.$queryRaw<{ n: number }[]>`
      SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND application_name = 'agentry-worker-queue'`;
    expect(queueConnections[0]!.n).toBeGreaterThan(0);

    expect(await worker.stop()).toEqual({ drained: true });
    const stopped = await workerRow(worker.workerId);
    expect(stopped!.stoppedAt).not.toBeNull();
    const beatAtStop = stopped!.heartbeatAt.getTime();
    await sleep(150);
    expect((await workerRow(worker.workerId))!.heartbeatAt.getTime()).toBe(beatAtStop);
  });
});

describe("graceful stop", () => {
  test("a running job finishes, its result is kept, and it does not run again on the next start", async () => {
    const worker = await start();
    const { job, probe } = await startHeldJob("graceful");
    // Locks carry our WorkerProcess id, so a dead worker's jobs can be found.
    expect(await lockedBy(job.id)).toBe(worker.workerId);

    const stopping = worker.stop();
    await sleep(100); // stop() is now waiting on the job
    gates.get("graceful")!.open();
    expect(await stopping).toEqual({ drained: true });

    expect(await lockedBy(job.id)).toBeUndefined(); // completed = deleted
    expect(
      (await database.db.workerProbe.findUnique({ where: { id: probe.id } }))!.completedAt,
    ).not.toBeNull();
    expect((await workerRow(worker.workerId))!.stoppedAt).not.toBeNull();

    const next = await start();
    const ran = nextEvent(next.runner.events, "job:complete");
    await enqueue(database.db, "worker.probe", {
      probeId: (await database.db.workerProbe.create({ data: {} })).id,
    });
    await ran; // the new worker is up and taking jobs
    expect(runs.get("graceful")).toBe(1);
    await next.stop();
  });

  test("a job outliving the timeout stays locked; the sweep releases it and another worker runs it", async () => {
    const worker = await start({ abortAfterMs: 60_000 });
    const { job } = await startHeldJob("stuck");

    expect(await worker.stop({ timeoutMs: 200 })).toEqual({ drained: false });
    expect(await lockedBy(job.id)).toBe(worker.workerId);
    expect((await workerRow(worker.workerId))!.stoppedAt).toBeNull();
    expect(lines.some((l) => l.msg?.includes("worker shutdown timed out"))).toBe(true);

    // Heartbeats stopped with stop(): after a while the worker reads as dead.
    await sleep(300);
    const dead = await findDeadWorkers({ db: database.db, olderThanMs: 250 });
    expect(dead.map((w) => w.id)).toContain(worker.workerId);

    const sweep = await sweepDeadWorkers({ db: database.db, olderThanMs: 250, logger });
    expect(sweep.workers.map((w) => w.id)).toContain(worker.workerId);
    expect(sweep.releasedJobIds).toEqual([job.id]);
    expect(await lockedBy(job.id)).toBeNull();
    expect((await workerRow(worker.workerId))!.stoppedAt).not.toBeNull();
    // A second sweep finds nothing: each dead worker is released once.
    expect((await sweepDeadWorkers({ db: database.db, olderThanMs: 250 })).workers).toEqual([]);

    // Another worker picks the released job up (its attempt stays counted).
    const firstRun = gates.get("stuck")!;
    const secondRun = gate();
    gates.set("stuck", secondRun);
    secondRun.open();
    const next = await start();
    await waitFor(() => runs.get("stuck") === 2, { what: "released job to run again" });
    await waitFor(async () => (await lockedBy(job.id)) === undefined, { what: "job completion" });
    await next.stop();

    // The first run, still going in the old worker, may finish late; its runner then ends.
    firstRun.open();
    await worker.runner.promise;
  });

  test("live workers sweep a silent one by themselves and run its released job", async () => {
    const worker = await start({ abortAfterMs: 60_000, deadAfterMs: 0 });
    const { job } = await startHeldJob("abandoned");
    expect(await worker.stop({ timeoutMs: 200 })).toEqual({ drained: false });
    expect(await lockedBy(job.id)).toBe(worker.workerId);

    const firstRun = gates.get("abandoned")!;
    const secondRun = gate();
    gates.set("abandoned", secondRun);
    secondRun.open();
    // No one calls the sweep: the live worker does it with its heartbeat once the other is silent for 300 ms.
    const next = await start({ deadAfterMs: 300 });
    await waitFor(async () => (await workerRow(worker.workerId))?.stoppedAt != null, {
      what: "the silent worker declared dead",
    });
    await waitFor(() => runs.get("abandoned") === 2, { what: "released job to run again" });
    await waitFor(async () => (await lockedBy(job.id)) === undefined, { what: "job completion" });
    await next.stop();
    firstRun.open();
    await worker.runner.promise;
  });

  test("maySweep: only with the sweep on and after two clean beats of its own", () => {
    const base = { deadAfterMs: 30_000, heartbeatMs: 5_000 };
    expect(maySweep({ ...base, healthySince: null, now: 100_000 })).toBe(false); // heartbeats failing
    expect(maySweep({ ...base, healthySince: 100_000, now: 100_000 })).toBe(false); // first beat after an outage
    expect(maySweep({ ...base, healthySince: 100_000, now: 105_000 })).toBe(false);
    expect(maySweep({ ...base, healthySince: 100_000, now: 110_000 })).toBe(true);
    expect(maySweep({ ...base, deadAfterMs: 0, healthySince: 0, now: 110_000 })).toBe(false); // sweep off
  });

  test("a worker gives the others two beats before it sweeps (their heartbeats may be stale from an outage)", async () => {
    // B is alive but its row looks silent, as after a database outage longer than deadAfterMs.
    const b = await start({ heartbeatMs: 150, deadAfterMs: 0 });
    await database.db.workerProcess.update({
      where: { id: b.workerId },
      data: { heartbeatAt: new Date(Date.now() - 60_000) },
    });
    const a = await start({ heartbeatMs: 100, deadAfterMs: 450 });
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect((await workerRow(b.workerId))?.stoppedAt).toBeNull();
    await a.stop();
    await b.stop();
  });

  test("a worker whose row was declared dead stops itself at its next heartbeat", async () => {
    const worker = await start();
    await database.db.workerProcess.update({
      where: { id: worker.workerId },
      data: { stoppedAt: new Date() },
    });
    await worker.runner.promise;
    expect(
      lines.some((l) => l.level === 50 && l.workerId === worker.workerId && l.msg?.includes("declared dead")),
    ).toBe(true);
  });
});

describe("latency", () => {
  test("enqueue → completion of 50 probes", async () => {
    const worker = await start({ concurrency: 4 });
    const nodeMs: number[] = [];
    const dbMs: number[] = [];
    for (let i = 0; i < 50; i++) {
      const completed = nextEvent(
        worker.runner.events,
        "job:complete",
        ({ job }) => job.task_identifier === "worker.probe",
      );
      const probe = await database.db.$transaction(async (tx) => {
        const created = await tx.workerProbe.create({ data: {} });
        await enqueue(tx, "worker.probe", { probeId: created.id });
        return created;
      });
      const committedAt = performance.now();
      await completed;
      nodeMs.push(performance.now() - committedAt);
      const row = await database.db.workerProbe.findUniqueOrThrow({ where: { id: probe.id } });
      dbMs.push(row.completedAt!.getTime() - row.requestedAt.getTime());
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.95)]!;
    console.info(
      `worker.probe latency over 50: commit→task done median ${median(nodeMs).toFixed(1)} ms, p95 ${p95(nodeMs).toFixed(1)} ms; ` +
        `requestedAt→completedAt (row timestamps) median ${median(dbMs)} ms, p95 ${p95(dbMs)} ms`,
    );
    // Woken by NOTIFY, not by polling (default poll interval is 2 s).
    expect(median(nodeMs)).toBeLessThan(250);
    await worker.stop();
  });
});

describe("connections", () => {
  // close() of the test database also fails on any connection left open (Prisma's included).
  test("stopped workers leave none of their queue connections behind", async () => {
    await Promise.all(started.map((w) => w.stop()));
    // A closed client's backend leaves pg_stat_activity a moment after the socket closes: give it up
    // to 2 s (a leaked pool never goes away, so the assertion still catches leaks).
    let open = -1;
    for (const deadline = Date.now() + 2_000; Date.now() < deadline; ) {
      const rows = await database.db.$queryRaw<{ n: number }[]>`
        SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = 'agentry-worker-queue'`;
      open = rows[0]!.n;
      if (open === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(open).toBe(0);
  });
});
