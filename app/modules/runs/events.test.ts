/**
 * Run events on real PostgreSQL: seqs handed out by the run row (contiguous across writers), token
 * coalescing, one NOTIFY per flush, reads scoped to the owner, and the LISTEN hub with its reconnect.
 */
import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type Db, type DbTx, RunStatus } from "#app/db/client.server.ts";
import { createProject, createRun, createUser, createWorkflow } from "#tests/factories/index.ts";
import { setupTestDatabase } from "#tests/setup/database.ts";
import { createEventHub, type EventHub } from "./event-hub.server.ts";
import {
  createEventWriter,
  type EventWriter,
  RUN_EVENTS_CHANNEL,
  readEvents,
  readEventsBatch,
  terminalEventSeq,
} from "./events.server.ts";
import { parseRunEventData, RUN_STATUSES, TERMINAL_STATUSES } from "./run-events.types.ts";

const database = setupTestDatabase();

async function newRun(db: Db = database.db, userId?: string) {
  const owner = userId ?? (await createUser(db)).id;
  const project = await createProject(db, { userId: owner });
  const { workflow, version } = await createWorkflow(db, { userId: owner, projectId: project.id });
  const run = await createRun(db, {
    userId: owner,
    projectId: project.id,
    workflowId: workflow.id,
    workflowVersionId: version.id,
  });
  return { id: run.id, userId: owner };
}

const fakeLogger = () => ({ warn: vi.fn(), info: vi.fn() });

// Writers and hubs a test opened; closed even when it fails, so the database closes cleanly.
const toClose: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  while (toClose.length > 0)
    await toClose
      .pop()!
      .close()
      .catch(() => {});
});
function writer(options: Partial<Parameters<typeof createEventWriter>[0]> = {}): EventWriter {
  const w = createEventWriter({ db: database.db, ...options });
  toClose.push(w);
  return w;
}

async function listen(channel = RUN_EVENTS_CHANNEL) {
  const client = new pg.Client({ connectionString: database.url, application_name: "events-test-listener" });
  await client.connect();
  const payloads: string[] = [];
  client.on("notification", (message) => {
    if (message.channel === channel) payloads.push(message.payload ?? "");
  });
  await client.query(`LISTEN ${channel}`);
  toClose.push({ close: () => client.end() });
  return payloads;
}

describe("event vocabulary", () => {
  it("knows every RunStatus of the schema, and the terminal ones", () => {
    expect([...RUN_STATUSES].sort()).toEqual(Object.values(RunStatus).sort());
    expect([...TERMINAL_STATUSES].sort()).toEqual(["cancelled", "dead", "failed", "succeeded"]);
  });

  it("validates data per type", () => {
    expect(parseRunEventData("token", { stepId: "a", text: "hi" })).toEqual({ stepId: "a", text: "hi" });
    expect(() => parseRunEventData("status", { status: "exploded" })).toThrow();
    expect(() => parseRunEventData("usage", { tokensIn: -1, tokensOut: 0, costMicros: 0 })).toThrow();
    const w = writer();
    expect(() =>
      w.append({ id: randomUUID(), userId: randomUUID() }, { type: "token", data: {} } as never),
    ).toThrow();
  });
});

describe("createEventWriter", () => {
  it("two writers appending to the same runs at once get seqs 1..1000 exactly once, in each writer's order", async () => {
    const runA = await newRun();
    const runB = await newRun();
    const writers = [
      writer({ flushIntervalMs: 1, maxBatch: 37 }),
      writer({ flushIntervalMs: 1, maxBatch: 53 }),
    ];
    await Promise.all(
      writers.map(async (w, wi) => {
        for (let i = 0; i < 500; i++) {
          // Each writer touches both runs, in opposite orders: locking in id order must prevent deadlocks.
          const [first, second] = wi === 0 ? [runA, runB] : [runB, runA];
          w.append(first, { type: "log", data: { level: "info", message: `w${wi}-${i}` } });
          if (i % 5 === 0) w.append(second, { type: "log", data: { level: "info", message: `w${wi}-${i}` } });
          if (i % 25 === 0) await new Promise((resolve) => setImmediate(resolve));
        }
        await w.flush();
      }),
    );
    const eventsA = await database.db.runEvent.findMany({
      where: { runId: runA.id },
      orderBy: { seq: "asc" },
    });
    // runA: 500 from writer 0 + 100 from writer 1.
    expect(eventsA.map((e) => e.seq)).toEqual(Array.from({ length: 600 }, (_, i) => i + 1));
    const eventsB = await database.db.runEvent.findMany({
      where: { runId: runB.id },
      orderBy: { seq: "asc" },
    });
    expect(eventsB.map((e) => e.seq)).toEqual(Array.from({ length: 600 }, (_, i) => i + 1));
    for (const events of [eventsA, eventsB]) {
      for (const wi of [0, 1]) {
        const mine = events
          .map((e) => (e.data as { message: string }).message)
          .filter((m) => m.startsWith(`w${wi}-`))
          .map((m) => Number(m.split("-")[1]));
        expect(mine).toEqual([...mine].sort((a, b) => a - b));
      }
    }
    const rows = await database.db.workflowRun.findMany({
      where: { id: { in: [runA.id, runB.id] } },
      select: { lastEventSeq: true },
    });
    expect(rows.map((r) => r.lastEventSeq)).toEqual([600, 600]);
  });

  it("2×500 events on one run from two writers flushing concurrently: seqs 1..1000, lastEventSeq 1000", async () => {
    const run = await newRun();
    const writers = [writer({ flushIntervalMs: 2 }), writer({ flushIntervalMs: 2 })];
    // In lockstep batches of 50, both writers flushing at once each time: they race for the run's row on
    // every round (the seqs must stay contiguous), and both write within the first half whatever the timing.
    for (let batch = 0; batch < 10; batch++) {
      await Promise.all(
        writers.map(async (w, wi) => {
          for (let i = batch * 50; i < (batch + 1) * 50; i++) {
            w.append(run, { type: "log", stepId: "s", data: { level: "info", message: `${wi}:${i}` } });
            if (i % 10 === 0) await new Promise((resolve) => setImmediate(resolve));
          }
          await w.flush();
        }),
      );
    }
    const events = await database.db.runEvent.findMany({ where: { runId: run.id }, orderBy: { seq: "asc" } });
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    expect(new Set(events.map((e) => (e.data as { message: string }).message)).size).toBe(1000);
    // The writers really interleaved: both wrote within the first half of the seqs.
    const writersInFirstHalf = new Set(
      events.slice(0, 500).map((e) => (e.data as { message: string }).message.split(":")[0]),
    );
    expect(writersInFirstHalf.size).toBe(2);
    expect(events.every((e) => e.userId === run.userId && e.stepId === "s")).toBe(true);
    const { lastEventSeq } = await database.db.workflowRun.findUniqueOrThrow({ where: { id: run.id } });
    expect(lastEventSeq).toBe(1000);
  });

  it("coalesces consecutive tokens of the same run and step, and nothing else", async () => {
    const run = await newRun();
    const other = await newRun();
    const w = writer({ flushIntervalMs: 60_000 });
    w.append(run, { type: "token", data: { stepId: "plan", text: "Hel" } });
    w.append(other, { type: "token", data: { stepId: "plan", text: "other run" } });
    w.append(run, { type: "token", data: { stepId: "plan", text: "lo" } });
    w.append(run, { type: "token", data: { stepId: "plan", text: ", world" } });
    w.append(run, { type: "token", data: { stepId: "code", text: "x" } });
    w.append(run, { type: "token", data: { stepId: "plan", text: "!" } });
    w.append(run, { type: "log", data: { stepId: "plan", level: "info", message: "m" } });
    w.append(run, { type: "token", data: { stepId: "plan", text: "again" } });
    await w.flush();
    const events = await readEvents(database.db, { runId: run.id, userId: run.userId });
    expect(events.map((e) => [e.seq, e.type, e.stepId, e.data])).toEqual([
      [1, "token", "plan", { stepId: "plan", text: "Hello, world" }],
      [2, "token", "code", { stepId: "code", text: "x" }],
      [3, "token", "plan", { stepId: "plan", text: "!" }],
      [4, "log", "plan", { stepId: "plan", level: "info", message: "m" }],
      [5, "token", "plan", { stepId: "plan", text: "again" }],
    ]);
    expect(typeof events[0]!.createdAt).toBe("string");
    const theirs = await readEvents(database.db, { runId: other.id, userId: other.userId });
    expect(theirs.map((e) => e.data)).toEqual([{ stepId: "plan", text: "other run" }]);
  });

  it("coalesces a command's output per step and stream, never across a token", async () => {
    const run = await newRun();
    const w = writer({ flushIntervalMs: 60_000 });
    const out = (stream: "stdout" | "stderr", text: string) =>
      w.append(run, { type: "output", data: { stepId: "test", stream, text } });
    out("stdout", "a");
    out("stdout", "b");
    out("stderr", "c");
    out("stdout", "d");
    w.append(run, { type: "token", data: { stepId: "test", text: "t" } });
    out("stdout", "e");
    await w.flush();
    const events = await readEvents(database.db, { runId: run.id, userId: run.userId });
    expect(events.map((e) => [e.type, e.data])).toEqual([
      ["output", { stepId: "test", stream: "stdout", text: "ab" }],
      ["output", { stepId: "test", stream: "stderr", text: "c" }],
      ["output", { stepId: "test", stream: "stdout", text: "d" }],
      ["token", { stepId: "test", text: "t" }],
      ["output", { stepId: "test", stream: "stdout", text: "e" }],
    ]);
  });

  it("sends one NOTIFY per flush, for every run of the flush, with each run's highest seq", async () => {
    const payloads = await listen();
    const runs = await Promise.all([newRun(), newRun(), newRun()]);
    const w = writer({ flushIntervalMs: 60_000 });
    runs.forEach((run, i) => {
      for (let k = 0; k <= i; k++) w.append(run, { type: "log", data: { level: "info", message: `${k}` } });
    });
    await w.flush();
    await vi.waitFor(() => expect(payloads).toHaveLength(1));
    expect(JSON.parse(payloads[0]!)).toEqual({
      runs: { [runs[0]!.id]: 1, [runs[1]!.id]: 2, [runs[2]!.id]: 3 },
    });
    // A second flush: exactly one more notification (they arrive in commit order, so none is pending).
    w.append(runs[0]!, { type: "log", data: { level: "info", message: "again" } });
    await w.flush();
    await vi.waitFor(() => expect(payloads).toHaveLength(2));
    expect(JSON.parse(payloads[1]!)).toEqual({ runs: { [runs[0]!.id]: 2 } });
    // An empty flush notifies nobody; notify: false never does.
    await w.flush();
    const quiet = writer({ notify: false });
    quiet.append(runs[1]!, { type: "log", data: { level: "info", message: "quiet" } });
    await quiet.flush();
    w.append(runs[2]!, { type: "log", data: { level: "info", message: "marker" } });
    await w.flush();
    await vi.waitFor(() => expect(payloads).toHaveLength(3));
    expect(JSON.parse(payloads[2]!)).toEqual({ runs: { [runs[2]!.id]: 4 } });
  });

  it("splits the notification of a flush with many runs into payloads under 8000 bytes", async () => {
    const first = await newRun();
    const { projectId, workflowId, workflowVersionId } = await database.db.workflowRun.findUniqueOrThrow({
      where: { id: first.id },
    });
    const rows = await database.db.workflowRun.createManyAndReturn({
      data: Array.from({ length: 249 }, () => ({
        userId: first.userId,
        projectId,
        workflowId,
        workflowVersionId,
        input: {},
      })),
      select: { id: true },
    });
    const runs = [first, ...rows.map((row) => ({ id: row.id, userId: first.userId }))];
    const payloads = await listen();
    const w = writer({ flushIntervalMs: 60_000, maxBatch: 10_000 });
    runs.forEach((run, i) => {
      for (let k = 0; k <= i % 3; k++)
        w.append(run, { type: "log", data: { level: "info", message: `${k}` } });
    });
    await w.flush();
    await vi.waitFor(() => expect(payloads).toHaveLength(3));
    const merged: Record<string, number> = {};
    for (const payload of payloads) {
      expect(Buffer.byteLength(payload)).toBeLessThan(8000);
      Object.assign(merged, (JSON.parse(payload) as { runs: Record<string, number> }).runs);
    }
    expect(merged).toEqual(Object.fromEntries(runs.map((run, i) => [run.id, (i % 3) + 1])));
  });

  it("flushes on its timer, and at once when maxBatch events are buffered", async () => {
    const run = await newRun();
    const timed = writer({ flushIntervalMs: 5 });
    timed.append(run, { type: "log", data: { level: "info", message: "timed" } });
    await vi.waitFor(async () =>
      expect(await database.db.runEvent.count({ where: { runId: run.id } })).toBe(1),
    );

    const batched = writer({ flushIntervalMs: 3_600_000, maxBatch: 10 });
    for (let i = 0; i < 9; i++)
      batched.append(run, { type: "log", data: { level: "info", message: `${i}` } });
    // 9 < maxBatch and the timer is an hour away: nothing more is written...
    await new Promise((resolve) => setImmediate(resolve));
    expect(await database.db.runEvent.count({ where: { runId: run.id } })).toBe(1);
    // ...until the 10th.
    batched.append(run, { type: "log", data: { level: "info", message: "9" } });
    await vi.waitFor(async () =>
      expect(await database.db.runEvent.count({ where: { runId: run.id } })).toBe(11),
    );
  });

  it("drops the events of a run that no longer exists (or is not the user's) with a warning", async () => {
    const run = await newRun();
    const stranger = await createUser(database.db);
    const gone = await newRun();
    await database.db.workflowRun.delete({ where: { id: gone.id } });
    const logger = fakeLogger();
    const w = writer({ logger });
    w.append(gone, { type: "log", data: { level: "info", message: "lost" } });
    w.append(
      { id: run.id, userId: stranger.id },
      { type: "log", data: { level: "info", message: "forged" } },
    );
    w.append(run, { type: "log", data: { level: "info", message: "kept" } });
    await w.flush();
    const events = await readEvents(database.db, { runId: run.id, userId: run.userId });
    expect(events.map((e) => [e.seq, (e.data as { message: string }).message])).toEqual([[1, "kept"]]);
    const warned = logger.warn.mock.calls.map(([fields]) => (fields as { runId: string }).runId);
    expect(warned).toEqual(expect.arrayContaining([gone.id, run.id]));
    expect(await database.db.runEvent.count({ where: { userId: stranger.id } })).toBe(0);
  });

  it("keeps the events of a failed flush and writes them, coalesced and in order, at the next one", async () => {
    const run = await newRun();
    let failNext = true;
    // A flush is one statement (or, when it ends runs, one transaction): the next of either fails once.
    const flaky = new Proxy(database.db, {
      get(target, prop, receiver) {
        if ((prop === "$transaction" || prop === "$queryRaw") && failNext) {
          failNext = false;
          return () => Promise.reject(new Error("connection lost"));
        }
        return Reflect.get(target, prop, receiver);
      },
    });
    const logger = fakeLogger();
    const w = writer({ db: flaky, flushIntervalMs: 60_000, logger });
    w.append(run, { type: "token", data: { stepId: "a", text: "one " } });
    await expect(w.flush()).rejects.toThrow("connection lost");
    expect(logger.warn).toHaveBeenCalledTimes(1);
    w.append(run, { type: "token", data: { stepId: "a", text: "two" } });
    w.append(run, { type: "status", data: { status: "succeeded" } });
    await w.flush();
    const events = await readEvents(database.db, { runId: run.id, userId: run.userId });
    expect(events.map((e) => [e.seq, e.type, e.data])).toEqual([
      [1, "token", { stepId: "a", text: "one two" }],
      [2, "status", { status: "succeeded" }],
    ]);
  });

  it("finishRun: the run's update, its buffered events and its last events commit in one flush with one NOTIFY", async () => {
    const [run, other] = [await newRun(), await newRun()];
    const payloads = await listen();
    const w = writer({ flushIntervalMs: 60_000 });
    w.append(run, { type: "status", data: { status: "running" } });
    w.append(run, { type: "token", data: { stepId: "a", text: "hi" } });
    w.append(other, { type: "status", data: { status: "running" } });
    let statusInTx: string | undefined;
    await w.finishRun(run, async (tx) => {
      await tx.workflowRun.update({ where: { id: run.id }, data: { status: "succeeded" } });
      // Inside the flush's transaction: the run's rows are locked and its events not yet written.
      statusInTx = (await tx.workflowRun.findUniqueOrThrow({ where: { id: run.id } })).status;
      expect(await tx.runEvent.count({ where: { runId: run.id } })).toBe(0);
      return [{ type: "status", data: { status: "succeeded" } }];
    });
    expect(statusInTx).toBe("succeeded");
    const events = await readEvents(database.db, { runId: run.id, userId: run.userId });
    expect(events.map((e) => [e.seq, e.type])).toEqual([
      [1, "status"],
      [2, "token"],
      [3, "status"],
    ]);
    expect(events[2]?.data).toEqual({ status: "succeeded" });
    // The other run's buffered event went in the same flush.
    expect((await readEvents(database.db, { runId: other.id, userId: other.userId })).length).toBe(1);
    await vi.waitFor(() => expect(payloads.length).toBeGreaterThan(0));
    const runs = payloads.map((p) => (JSON.parse(p) as { runs: Record<string, number> }).runs);
    expect(runs.filter((r) => Object.keys(r).length > 0)).toEqual([{ [run.id]: 3, [other.id]: 1 }]);
  });

  it("batched finishers: the runs ending in one flush share one call, in run order; each run's events follow its own", async () => {
    const runs = [await newRun(), await newRun(), await newRun()];
    const w = writer({ flushIntervalMs: 60_000 });
    for (const run of runs) w.append(run, { type: "status", data: { status: "running" } });
    const calls: string[][] = [];
    const batch = async (tx: DbTx, items: Array<{ id: string; end: boolean }>) => {
      calls.push(items.map((item) => item.id));
      const ids = items.filter((item) => item.end).map((item) => item.id);
      await tx.workflowRun.updateMany({ where: { id: { in: ids } }, data: { status: "succeeded" } });
      return items.map((item) =>
        item.end ? [{ type: "status" as const, data: { status: "succeeded" as const } }] : [],
      );
    };
    // Finished in reverse order, all before the flush starts: one flush, one call.
    await Promise.all(
      [...runs].reverse().map((run, i) => w.finishRun(run, { batch, item: { id: run.id, end: i !== 1 } })),
    );
    expect(calls).toEqual([runs.map((run) => run.id).sort()]);
    for (const [i, run] of [...runs].reverse().entries()) {
      const events = await readEvents(database.db, { runId: run.id, userId: run.userId });
      const row = await database.db.workflowRun.findUniqueOrThrow({ where: { id: run.id } });
      if (i === 1) {
        expect(events.map((e) => e.data)).toEqual([{ status: "running" }]);
        expect(row.status).toBe("queued");
      } else {
        expect(events.map((e) => e.data)).toEqual([{ status: "running" }, { status: "succeeded" }]);
        expect(row.status).toBe("succeeded");
      }
    }
  });

  it("finishRun: when the transaction fails nothing of it is written; the buffered events are kept", async () => {
    const run = await newRun();
    const logger = fakeLogger();
    const w = writer({ flushIntervalMs: 60_000, logger });
    w.append(run, { type: "status", data: { status: "running" } });
    await expect(
      w.finishRun(run, async (tx) => {
        await tx.workflowRun.update({ where: { id: run.id }, data: { status: "succeeded" } });
        throw new Error("lost the connection");
      }),
    ).rejects.toThrow("lost the connection");
    const row = await database.db.workflowRun.findUniqueOrThrow({ where: { id: run.id } });
    expect([row.status, row.lastEventSeq]).toEqual(["queued", 0]);
    expect(await database.db.runEvent.count({ where: { runId: run.id } })).toBe(0);
    // Finish events a finisher returns are checked like appended ones: a bad one fails the flush.
    await expect(
      w.finishRun(run, async () => [{ type: "status", data: { status: "exploded" } } as never]),
    ).rejects.toThrow();
    // The next finish writes the kept event, then its own.
    await w.finishRun(run, async () => [{ type: "status", data: { status: "cancelled" } }]);
    const events = await readEvents(database.db, { runId: run.id, userId: run.userId });
    expect(events.map((e) => [e.seq, e.data])).toEqual([
      [1, { status: "running" }],
      [2, { status: "cancelled" }],
    ]);
  });

  it("close() writes what is buffered; appends after it are dropped with a warning", async () => {
    const run = await newRun();
    const logger = fakeLogger();
    const w = createEventWriter({ db: database.db, flushIntervalMs: 60_000, logger });
    w.append(run, { type: "status", data: { status: "running" } });
    await w.close();
    expect(await database.db.runEvent.count({ where: { runId: run.id } })).toBe(1);
    w.append(run, { type: "status", data: { status: "failed" } });
    expect(logger.warn).toHaveBeenCalledTimes(1);
    await w.flush();
    expect(await database.db.runEvent.count({ where: { runId: run.id } })).toBe(1);
  });
});

describe("readEvents", () => {
  it("returns the owner's events after a seq, in order, bounded by limit; others see nothing", async () => {
    const run = await newRun();
    const stranger = await createUser(database.db);
    const w = writer();
    for (let i = 1; i <= 5; i++) w.append(run, { type: "log", data: { level: "info", message: `${i}` } });
    w.append(run, { type: "status", data: { status: "failed", error: { code: "X", message: "boom" } } });
    await w.flush();
    const all = await readEvents(database.db, { runId: run.id, userId: run.userId });
    expect(all.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    const page = await readEvents(database.db, { runId: run.id, userId: run.userId, afterSeq: 2, limit: 2 });
    expect(page.map((e) => e.seq)).toEqual([3, 4]);
    expect(await readEvents(database.db, { runId: run.id, userId: stranger.id })).toEqual([]);
    expect(await terminalEventSeq(database.db, { runId: run.id, userId: run.userId })).toBe(6);
    expect(await terminalEventSeq(database.db, { runId: run.id, userId: stranger.id })).toBeNull();
  });
});

describe("readEventsBatch", () => {
  it("reads many cursors in one query: each its owner's events after its seq, in order; others' empty", async () => {
    const [a, b] = [await newRun(), await newRun()];
    const w = writer();
    for (let i = 1; i <= 4; i++) w.append(a, { type: "log", data: { level: "info", message: `a${i}` } });
    for (let i = 1; i <= 2; i++) w.append(b, { type: "log", data: { level: "info", message: `b${i}` } });
    await w.flush();
    const messages = (events: Array<{ data: unknown }>) =>
      events.map((e) => (e.data as { message: string }).message);
    const pages = await readEventsBatch(database.db, [
      { runId: a.id, userId: a.userId, afterSeq: 1 },
      { runId: b.id, userId: b.userId, afterSeq: 0 },
      { runId: a.id, userId: b.userId, afterSeq: 0 },
      { runId: a.id, userId: a.userId, afterSeq: 4 },
      { runId: a.id, userId: a.userId, afterSeq: 0 },
    ]);
    expect(pages.map(messages)).toEqual([["a2", "a3", "a4"], ["b1", "b2"], [], [], ["a1", "a2", "a3", "a4"]]);
    expect(pages[0]?.map((e) => e.seq)).toEqual([2, 3, 4]);
    expect(await readEventsBatch(database.db, [])).toEqual([]);
    const limited = await readEventsBatch(database.db, [{ runId: a.id, userId: a.userId, afterSeq: 0 }], 2);
    expect(limited[0]?.map((e) => e.seq)).toEqual([1, 2]);
  });
});

describe("createEventHub", () => {
  function hub(logger = fakeLogger(), applicationName = `events-hub-${randomUUID().slice(0, 8)}`): EventHub {
    const h = createEventHub({
      connectionString: database.url,
      logger,
      applicationName,
      reconnect: { minMs: 10, maxMs: 50 },
    });
    toClose.push(h);
    return h;
  }

  it("wakes the subscribers of a run with its highest seq; unsubscribe stops it", async () => {
    const run = await newRun();
    const other = await newRun();
    const h = hub();
    await h.ready();
    const wakes: Array<number | null> = [];
    const unsubscribe = h.subscribe(run.id, (seq) => wakes.push(seq));
    const otherWakes: Array<number | null> = [];
    h.subscribe(other.id, (seq) => otherWakes.push(seq));
    const w = writer();
    w.append(run, { type: "log", data: { level: "info", message: "a" } });
    w.append(run, { type: "log", data: { level: "info", message: "b" } });
    await w.flush();
    await vi.waitFor(() => expect(wakes).toEqual([2]));
    unsubscribe();
    expect(h.subscribedRuns).toBe(1);
    w.append(run, { type: "log", data: { level: "info", message: "c" } });
    w.append(other, { type: "log", data: { level: "info", message: "x" } });
    await w.flush();
    await vi.waitFor(() => expect(otherWakes).toEqual([1]));
    expect(wakes).toEqual([2]);
  });

  it("reconnects after the connection drops and wakes every subscriber to re-read", async () => {
    const run = await newRun();
    const logger = fakeLogger();
    const name = `events-hub-drop-${randomUUID().slice(0, 8)}`;
    const h = hub(logger, name);
    await h.ready();
    const wakes: Array<number | null> = [];
    h.subscribe(run.id, (seq) => wakes.push(seq));
    const killed = await database.db.$queryRaw<Array<{ ok: boolean }>>`
      SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
      WHERE application_name = ${name} AND datname = current_database()`;
    expect(killed).toEqual([{ ok: true }]);
    await vi.waitFor(() => expect(wakes).toEqual([null]));
    expect(logger.warn).toHaveBeenCalled();
    expect(logger.info).toHaveBeenCalledWith({ runs: 1 }, "run events LISTEN connection restored");
    // Live again after the reconnect.
    const w = writer();
    w.append(run, { type: "log", data: { level: "info", message: "after" } });
    await w.flush();
    await vi.waitFor(() => expect(wakes).toEqual([null, 1]));
  });
});
