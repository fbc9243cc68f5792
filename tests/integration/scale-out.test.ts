/**
 * The scale-out proof, with real processes, real HTTP and a real PostgreSQL:
 *
 *   two web processes (tests/integration/web-process.ts: the production HTTP app without the Remix pages)
 *   and two worker processes (`server.ts --role worker`) on ONE PostgreSQL of this file's own (embedded, on a
 *   free port, so restarting it never disturbs the shared test server), plus the mock LLM provider.
 *
 * 1. A client attached to web B streams (SSE, reconnecting like EventSource with Last-Event-ID) a run that
 *    worker A executes; worker A is SIGKILLed in the middle of step 2. Worker B's dead-worker sweep releases
 *    the job, B resumes the run from its checkpoints and finishes it: no finished step runs again, the
 *    stored event seqs are 1..N without gap or duplicate, and so are the ids the client received.
 * 2. PostgreSQL is restarted while two runs are in flight: they still finish, every process stays up (the
 *    pools, the queue's and the event hubs' LISTEN connections reconnect), the clients get every event.
 *
 * The recovery times are printed (console.info).
 */
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type MockLlm, type RecordedRequest, startMockLlm } from "#tests/mocks/llm/server.ts";
import { type DedicatedPostgres, startDedicatedPostgres } from "./postgres.ts";
import {
  type NodeProcess,
  pollUntil,
  startWebProcess,
  startWorkerProcess,
  stopAllProcesses,
} from "./processes.ts";
import { openRunEvents, type SseClient } from "./sse-client.ts";

/**
 * Short heartbeats so a dead worker is found in ~4 s instead of 30 s (production defaults: 5 s beats, 30 s).
 * The threshold stays well above the database restart of test 2 (0.3–1.6 s measured here): while PostgreSQL
 * is down no worker can beat, and a longer outage would make the first worker back declare the others dead.
 */
const WORKER_HEARTBEAT_MS = 250;
const WORKER_DEAD_AFTER_MS = 4_000;
const WORKER_POLL_INTERVAL_MS = 200;

const JWT_SECRET = "scale-out-test-secret-0123456789-abcdefghij";
const ENCRYPTION_KEY = Buffer.alloc(32, 9).toString("base64");

/** The mock's `slow` model: 64 chunks 20 ms apart, ~1.3 s a call. */
const SLOW = "compat:mock/slow";
/** A scripted model of ~4 s a call (LONG_CALL), so the database restart of test 2 falls inside one. */
const LONG_SCRIPT = "long-call";
const LONG_CALL = { reply: Array.from({ length: 80 }, (_, i) => `w${i}`).join(" "), chunkDelayMs: 50 };

const CRASH_PROMPTS = { s1: "crash step one", s2: "crash step two", s3: "crash step three" };
const RESTART_PROMPTS = { s1: "restart step one", s2: "restart step two", s3: "restart step three" };
const WORKFLOWS = {
  crash: {
    name: "Three slow steps",
    definition: {
      steps: [
        { id: "s1", type: "llm", model: SLOW, prompt: CRASH_PROMPTS.s1 },
        { id: "s2", type: "llm", model: SLOW, prompt: CRASH_PROMPTS.s2 },
        { id: "s3", type: "llm", model: SLOW, prompt: CRASH_PROMPTS.s3 },
      ],
    },
  },
  restart: {
    name: "Slow, long, slow",
    definition: {
      steps: [
        { id: "s1", type: "llm", model: SLOW, prompt: RESTART_PROMPTS.s1 },
        { id: "s2", type: "llm", model: `compat:mock/script:${LONG_SCRIPT}`, prompt: RESTART_PROMPTS.s2 },
        { id: "s3", type: "llm", model: SLOW, prompt: RESTART_PROMPTS.s3 },
      ],
    },
  },
  quick: {
    name: "One quick step",
    definition: { steps: [{ id: "s1", type: "llm", model: "compat:mock/echo", prompt: "quick" }] },
  },
} as const;

let pg: DedicatedPostgres | undefined;
let mock: MockLlm | undefined;
/** Every process started, for the failure report. */
const processes: NodeProcess[] = [];
const clients: SseClient[] = [];
let webA: NodeProcess & { url: string };
let webB: NodeProcess & { url: string };
/** The worker processes expected to be running. */
let workers: NodeProcess[] = [];
let baseEnv: Record<string, string> = {};
let token = "";
const workflowIds: Record<keyof typeof WORKFLOWS, string> = { crash: "", restart: "", quick: "" };

async function api<T>(base: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json().catch(() => null)) as T;
  if (res.status >= 300) throw new Error(`${method} ${path} → ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** Start a run through web A (its job is enqueued in the same transaction). */
async function startRun(workflow: keyof typeof WORKFLOWS): Promise<string> {
  const { runId } = await api<{ runId: string }>(
    webA.url,
    "POST",
    `/workflows/${workflowIds[workflow]}/runs`,
    {},
  );
  return runId;
}

function streamFrom(web: { url: string }, runId: string): SseClient {
  const client = openRunEvents({ url: `${web.url}/api/v1/runs/${runId}/events`, token });
  clients.push(client);
  return client;
}

function track<T extends NodeProcess>(starting: Promise<T>): Promise<T> {
  void starting.then((p) => processes.push(p)).catch(() => {});
  return starting;
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]);
}

/** The worker process whose WorkerProcess row has this id (rows record the pid). */
async function workerProcessOf(workerId: string): Promise<NodeProcess> {
  const [row] = await pg!.query<{ pid: number }>(`SELECT pid FROM "WorkerProcess" WHERE id = $1::uuid`, [
    workerId,
  ]);
  const found = workers.find((w) => w.pid === row?.pid);
  if (!found) throw new Error(`no worker process of ours has WorkerProcess ${workerId}`);
  return found;
}

async function workerIdOf(p: NodeProcess): Promise<string> {
  const [row] = await pg!.query<{ id: string }>(
    `SELECT id::text AS id FROM "WorkerProcess" WHERE pid = $1 AND "stoppedAt" IS NULL`,
    [p.pid],
  );
  if (!row) throw new Error(`${p.name} (pid ${p.pid}) has no live WorkerProcess row`);
  return row.id;
}

async function runRow(runId: string) {
  const [row] = await pg!.query<{
    status: string;
    workerId: string | null;
    attempt: number;
    lastEventSeq: number;
  }>(
    `SELECT status::text AS status, "workerId"::text AS "workerId", attempt, "lastEventSeq"
     FROM "WorkflowRun" WHERE id = $1::uuid`,
    [runId],
  );
  if (!row) throw new Error(`run ${runId} not found`);
  return row;
}

/** The run's steps with their checkpoint status, attempt and number of recorded AiCalls. */
async function stepRows(runId: string) {
  return pg!.query<{ stepId: string; status: string; attempt: number; calls: number }>(
    `SELECT s."stepId", s.status::text AS status, s.attempt,
            (SELECT count(*)::int FROM "AiCall" c WHERE c."stepRunId" = s.id) AS calls
     FROM "StepRun" s WHERE s."runId" = $1::uuid ORDER BY s.index`,
    [runId],
  );
}

/** Upstream model requests for one prompt (the mock records every request, the aborted ones too). */
function requestsFor(prompt: string): RecordedRequest[] {
  return mock!.requests.filter((r) => JSON.stringify(r.body).includes(prompt));
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

function received(client: SseClient, event: string, stepId: string) {
  return client.events.some((e) => e.event === event && (e.data as { stepId?: string }).stepId === stepId);
}

/** A run's events, as stored and as one client received them: 1..N, no gap, no repeat, ending `succeeded`. */
async function expectCompleteEventHistory(runId: string, client: SseClient) {
  const run = await runRow(runId);
  const stored = await pg!.query<{ seq: number }>(
    `SELECT seq FROM "RunEvent" WHERE "runId" = $1::uuid ORDER BY seq`,
    [runId],
  );
  const seqs = stored.map((r) => r.seq);
  expect(seqs, "stored RunEvent seqs are 1..N, contiguous and unique").toEqual(range(1, seqs.length));
  expect(run.lastEventSeq).toBe(seqs.length);
  expect(
    client.events.map((e) => e.id),
    "the SSE client received every event exactly once, in order",
  ).toEqual(range(1, seqs.length));
  const last = client.events.at(-1);
  expect([last?.event, (last?.data as { status?: string } | undefined)?.status]).toEqual([
    "status",
    "succeeded",
  ]);
}

function ms(since: number) {
  return Math.round(performance.now() - since);
}

beforeAll(async () => {
  const started = performance.now();
  pg = await startDedicatedPostgres();
  mock = await startMockLlm();
  mock.script(
    LONG_SCRIPT,
    Array.from({ length: 50 }, () => LONG_CALL),
  );
  baseEnv = {
    NODE_ENV: "production",
    DATABASE_URL: pg.url,
    AGENTRY_MIGRATE_ON_START: "false",
    LOG_FORMAT: "json",
    LOG_LEVEL: "info",
    JWT_SECRET,
    AGENTRY_ENCRYPTION_KEY: ENCRYPTION_KEY,
    AI_DEMO_MODEL: "off",
    AI_COMPAT_ENDPOINTS: `mock=${mock.url}/v1`,
    AI_MAX_RETRIES: "0",
    DATABASE_POOL_SIZE: "5",
    WORKER_CONCURRENCY: "2",
    WORKER_HEARTBEAT_MS: String(WORKER_HEARTBEAT_MS),
    WORKER_DEAD_AFTER_MS: String(WORKER_DEAD_AFTER_MS),
    WORKER_POLL_INTERVAL_MS: String(WORKER_POLL_INTERVAL_MS),
    SHUTDOWN_TIMEOUT_SECONDS: "3",
  };
  const [a, b, w1, w2] = await Promise.all([
    track(startWebProcess("web-A", baseEnv)),
    track(startWebProcess("web-B", baseEnv)),
    track(startWorkerProcess("worker-1", baseEnv)),
    track(startWorkerProcess("worker-2", baseEnv)),
  ]);
  webA = a;
  webB = b;
  workers = [w1, w2];

  const signup = await api<{ accessToken: string }>(webA.url, "POST", "/auth/signup", {
    email: `scale-out-${Date.now()}@example.com`,
    password: "correct horse battery staple",
    name: "Scale Out",
  });
  token = signup.accessToken;
  const project = await api<{ id: string }>(webA.url, "POST", "/projects", { name: "Scale-out proof" });
  for (const [key, workflow] of Object.entries(WORKFLOWS)) {
    const created = await api<{ id: string }>(
      webA.url,
      "POST",
      `/projects/${project.id}/workflows`,
      workflow,
    );
    workflowIds[key as keyof typeof WORKFLOWS] = created.id;
  }
  console.info(`[scale-out] 2 web + 2 worker processes and a dedicated PostgreSQL up in ${ms(started)} ms`);
}, 120_000);

afterAll(async () => {
  for (const client of clients) client.close();
  // Every child, also one still booting when a hook timed out.
  await stopAllProcesses(5_000);
  await mock?.close();
  await pg?.destroy();
}, 60_000);

/** On failure: the runs, jobs and workers, the warnings of every process, and its full log in a file. */
afterEach(async (context) => {
  if (context.task.result?.state !== "fail") return;
  const state = await Promise.all([
    pg?.query(`SELECT id, status, "workerId", attempt, "lastEventSeq", error FROM "WorkflowRun"`),
    pg?.query(`SELECT id, key, attempts, run_at, locked_at, locked_by, last_error FROM graphile_worker.jobs`),
    pg?.query(`SELECT id, pid, "heartbeatAt", "stoppedAt" FROM "WorkerProcess" ORDER BY "startedAt"`),
  ]).catch((error: unknown) => [`(database unreadable: ${String(error)})`]);
  console.info(`[scale-out] runs, jobs and workers at the failure: ${JSON.stringify(state, null, 1)}`);
  const dir = await mkdtemp(path.join(tmpdir(), "agentry-scale-out-logs-"));
  for (const p of processes) {
    await writeFile(path.join(dir, `${p.name}.log`), `${p.logs.map((l) => JSON.stringify(l)).join("\n")}\n`);
    const warnings = p.logs.filter((l) => (l.level ?? 0) >= 40);
    console.info(
      `[scale-out] ${p.name} (pid ${p.pid}, ${p.alive ? "running" : "exited"}): ${warnings.length} warnings/errors\n${warnings
        .slice(-20)
        .map((l) => `  ${JSON.stringify(l).slice(0, 600)}`)
        .join("\n")}`,
    );
  }
  console.info(`[scale-out] full process logs in ${dir}`);
});

describe("scale-out: 2 web + 2 worker processes on one PostgreSQL", () => {
  it("worker A killed (SIGKILL) mid-run: worker B finishes the run, no finished step runs again, a client on web B gets every event once", async () => {
    const runId = await startRun("crash");
    const client = streamFrom(webB, runId);

    // Mid-run: step 1 finished (checkpointed), step 2 streaming.
    await pollUntil(
      "s1 finished and s2 streaming, as seen by the client on web B",
      () => received(client, "step_finished", "s1") && received(client, "token", "s2"),
      { timeoutMs: 30_000, intervalMs: 10 },
    );
    const before = await runRow(runId);
    expect(before.status).toBe("running");
    const workerAId = before.workerId!;
    const workerA = await workerProcessOf(workerAId);
    const workerB = workers.find((w) => w !== workerA)!;
    const workerBId = await workerIdOf(workerB);

    const killedAt = performance.now();
    await workerA.kill9();
    // The client's own connection breaks too: it must resume from Last-Event-ID with no gap and no repeat.
    client.dropConnection();

    const declaredDead = await pollUntil(
      "worker A declared dead",
      async () => {
        const [row] = await pg!.query<{ stoppedAt: Date | null }>(
          `SELECT "stoppedAt" FROM "WorkerProcess" WHERE id = $1::uuid`,
          [workerAId],
        );
        return row?.stoppedAt ? ms(killedAt) : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 20 },
    );
    const resumed = await pollUntil(
      "the run resumed on worker B",
      async () => ((await runRow(runId)).workerId === workerBId ? ms(killedAt) : undefined),
      { timeoutMs: 30_000, intervalMs: 20 },
    );
    // A replacement for worker A boots meanwhile, for the next test (B holds this run's job: it cannot take it).
    const replacement = track(startWorkerProcess("worker-3", baseEnv));

    await within(client.done, 45_000, "the end of the run on the client");
    const finished = ms(killedAt);
    workers = [workerB, await replacement];

    // Resumed once worker A's silence passed the threshold (plus a beat and a poll), not hours later.
    expect(resumed).toBeLessThan(WORKER_DEAD_AFTER_MS + 5_000);
    const run = await runRow(runId);
    expect(run.status).toBe("succeeded");
    expect(run.workerId, "the run finished on worker B").toBe(workerBId);
    expect(run.attempt, "two executions: worker A's, then worker B's resume").toBe(2);
    expect(workerA.alive).toBe(false);

    // Checkpoints: s1 finished on A and did not run again; s2, cut by the kill, ran again on B; s3 ran on B.
    expect(await stepRows(runId)).toEqual([
      { stepId: "s1", status: "succeeded", attempt: 1, calls: 1 },
      { stepId: "s2", status: "succeeded", attempt: 2, calls: 1 },
      { stepId: "s3", status: "succeeded", attempt: 1, calls: 1 },
    ]);
    // The provider's side: s1 was called once in all; s2 twice, A's call cut off by the kill.
    expect(requestsFor(CRASH_PROMPTS.s1)).toHaveLength(1);
    const s2 = requestsFor(CRASH_PROMPTS.s2);
    expect(s2.map((r) => r.clientClosed)).toEqual([true, false]);
    expect(requestsFor(CRASH_PROMPTS.s3)).toHaveLength(1);

    await expectCompleteEventHistory(runId, client);
    // The client reconnected once (the dropped connection) and resumed after the last id it had.
    expect(client.connections.map((c) => c.status)).toEqual([200, 200]);
    expect(client.connections[0]?.lastEventId).toBeNull();
    expect(Number(client.connections[1]?.lastEventId)).toBeGreaterThan(0);
    // Two `running` events (A's start, B's resume), then the end.
    expect(
      client.events.filter((e) => e.event === "status").map((e) => (e.data as { status: string }).status),
    ).toEqual(["running", "running", "succeeded"]);

    console.info(
      `[scale-out] crash recovery (heartbeat ${WORKER_HEARTBEAT_MS} ms, dead after ${WORKER_DEAD_AFTER_MS} ms, poll ${WORKER_POLL_INTERVAL_MS} ms): ` +
        `kill -9 of worker A → declared dead ${declaredDead} ms → run resumed on worker B ${resumed} ms → run finished ${finished} ms ` +
        `(events 1..${run.lastEventSeq}, received once each by the client on web B)`,
    );
  }, 90_000);

  it("PostgreSQL restarted mid-run: the runs still finish, every process reconnects, the clients get every event", async () => {
    const runIds = [await startRun("restart"), await startRun("restart")];
    // One client on each web process.
    const streams = [streamFrom(webB, runIds[0]!), streamFrom(webA, runIds[1]!)];
    // Both runs inside their long s2 call (s1 checkpointed).
    await pollUntil(
      "s1 finished and s2 started in both runs",
      () => streams.every((c) => received(c, "step_finished", "s1") && received(c, "token", "s2")),
      { timeoutMs: 30_000, intervalMs: 10 },
    );
    const restartAt = performance.now();
    const { stopMs, startMs } = await pg!.restart();
    const backAt = performance.now();
    const seen = streams.map((c) => c.events.length);
    // Live again: each client receives new events (the writers flushed their buffers, the hubs listen again).
    await pollUntil(
      "new events on both clients after the restart",
      () => streams.every((c, i) => c.events.length > seen[i]!),
      { timeoutMs: 30_000, intervalMs: 10 },
    );
    const flowingAgain = ms(backAt);

    await within(Promise.all(streams.map((c) => c.done)), 60_000, "the end of both runs on their clients");
    const finishedAt = performance.now();

    for (const [i, runId] of runIds.entries()) {
      expect((await runRow(runId)).status).toBe("succeeded");
      expect(await stepRows(runId)).toEqual([
        { stepId: "s1", status: "succeeded", attempt: 1, calls: 1 },
        { stepId: "s2", status: "succeeded", attempt: 1, calls: 1 },
        { stepId: "s3", status: "succeeded", attempt: 1, calls: 1 },
      ]);
      await expectCompleteEventHistory(runId, streams[i]!);
    }
    expect(requestsFor(RESTART_PROMPTS.s1), "s1 was not called again after the restart").toHaveLength(2);

    // Nobody died: workers and web processes reconnected by themselves…
    for (const p of [webA, webB, ...workers]) expect(p.alive, `${p.name} is still running`).toBe(true);
    const live = await pg!.query<{ pid: number }>(
      `SELECT pid FROM "WorkerProcess" WHERE "stoppedAt" IS NULL`,
    );
    expect(live.map((w) => w.pid).sort()).toEqual(workers.map((w) => w.pid).sort());
    for (const web of [webA, webB]) {
      // …both event hubs listen again (a LISTEN connection lost while the server was down is restored)…
      await web.waitForLog((l) => l.msg === "run events LISTEN connection restored", 10_000);
      expect((await fetch(`${web.url}/readyz`)).status).toBe(200);
    }
    // …and the queue takes new work: a run started after the restart finishes too.
    const after = await startRun("quick");
    await within(streamFrom(webB, after).done, 20_000, "the end of a run started after the restart");
    expect((await runRow(after)).status).toBe("succeeded");

    console.info(
      `[scale-out] PostgreSQL restart mid-run (stop ${stopMs} ms + start ${startMs} ms, 2 runs in flight): ` +
        `events reached both clients again ${flowingAgain} ms after it was back; both runs finished ${Math.round(finishedAt - backAt)} ms after it was back (${Math.round(finishedAt - restartAt)} ms after the stop began), ` +
        `no step re-run, no event lost or repeated; SSE reconnects: ${streams.map((c) => c.connections.length - 1).join(", ")}`,
    );
  }, 120_000);
});
