/**
 * Concurrent SSE subscribers of ONE web process (part of the `runs` suite). Three processes besides
 * PostgreSQL, so the web process's CPU and memory are its own:
 *
 *   - the web process (bench/sse-server.ts): the real HTTP app with authentication, rate limits, the run event
 *     routes and a real event hub (one LISTEN connection);
 *   - the clients (bench/sse-client.ts): N raw HTTP streams, `SUBSCRIBERS_PER_RUN` per run;
 *   - this process, the producer: the real EventWriter (default 30 ms flushes) appending, for every run at
 *     once, a `running` status, 64 token chunks 20 ms apart (what a streaming model produces), then ending the
 *     run (`finishRun`: row and terminal status event in one transaction).
 *
 * A level N holds when every stream got every event (ids contiguous, every chunk once and in order, the
 * terminal status, then the end) and the p99 delivery lag (producer append → client receipt, which includes
 * the writer's flush interval) is ≤ LAG_P99_LIMIT_MS. Levels go up until one does not hold (or time runs
 * out). Memory per stream: the web process's RSS and heap after a full GC with N idle streams open, minus
 * the same before they connected, over N.
 */
import { type ChildProcess, fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createPrismaClient, type Db } from "#app/db/client.server.ts";
import { createEventWriter } from "#app/modules/runs/events.server.ts";
import { createWorkflow } from "#app/modules/workflows/workflows.server.ts";
import { postgresCpuMeter, reportValue, round } from "./lib.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const SUITE = "runs";

const SUBSCRIBERS_PER_RUN = 20;
const CHUNKS = 64;
const CHUNK_DELAY_MS = 20;
const LAG_P99_LIMIT_MS = 250;
const LEVELS = [500, 1_000, 2_000, 3_000, 4_000, 6_000, 8_000];
/** No new level starts after this long. */
const BUDGET_MS = 120_000;

type Reply = Record<string, unknown>;

/** A child process driven by request/reply IPC messages. */
async function child(file: string, execArgv: string[] = []) {
  const proc: ChildProcess = fork(path.join(root, file), [], {
    cwd: root,
    execArgv: ["--import", "tsx", ...execArgv],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const waiting: Array<(reply: Reply) => void> = [];
  proc.on("message", (reply: Reply) => {
    if ("error" in reply) console.error(`${file}: ${String(reply.error)}`);
    waiting.shift()?.(reply);
  });
  const exited = new Promise<never>((_, reject) =>
    proc.once("exit", (code) => reject(new Error(`${file} exited with ${code}`))),
  );
  exited.catch(() => {});
  const next = () =>
    Promise.race([new Promise<Reply>((resolve) => waiting.push(resolve)), exited]) as Promise<Reply>;
  await next(); // { ready }
  return {
    ask: (message: unknown) => {
      const reply = next();
      proc.send(message as object);
      return reply;
    },
    kill: () => {
      proc.kill("SIGKILL");
    },
  };
}

type Memory = { rss: number; heapUsed: number };
type ClientResult = {
  /** CPU the client process used (connecting included). */
  cpuMs: number;
  streams: number;
  complete: number;
  problems: string[];
  frames: number;
  chunks: number;
  lag: { p50: number; p95: number; p99: number; max: number };
};

const sleepUntil = (at: number) =>
  new Promise((resolve) => setTimeout(resolve, Math.max(0, at - performance.now())));

/** Every run at once: running, CHUNKS tokens CHUNK_DELAY_MS apart, then the run's end. */
async function produce(db: Db, userId: string, runIds: string[]) {
  const events = createEventWriter({ db });
  try {
    const refs = runIds.map((id) => ({ id, userId }));
    for (const ref of refs) events.append(ref, { type: "status", data: { status: "running" } });
    const started = performance.now();
    for (let i = 0; i < CHUNKS; i++) {
      await sleepUntil(started + i * CHUNK_DELAY_MS);
      const sent = (performance.timeOrigin + performance.now()).toFixed(3);
      for (const ref of refs) {
        events.append(ref, { type: "token", stepId: "ask", data: { stepId: "ask", text: `#${i}@${sent};` } });
      }
    }
    await sleepUntil(started + CHUNKS * CHUNK_DELAY_MS);
    await Promise.all(
      refs.map((ref) =>
        events.finishRun(ref, async (tx) => {
          await tx.workflowRun.update({
            where: { id: ref.id },
            data: { status: "succeeded", finishedAt: new Date() },
          });
          return [{ type: "status", data: { status: "succeeded" } }];
        }),
      ),
    );
  } finally {
    await events.close();
  }
}

/** `levels`: the subscriber counts to try, in order (default LEVELS). */
export async function runSse(databaseUrl: string, { levels = LEVELS } = {}): Promise<void> {
  const db = createPrismaClient({ connectionString: databaseUrl, max: 10 });
  const server = await child("bench/sse-server.ts", ["--expose-gc"]);
  const began = performance.now();
  try {
    const { url } = (await server.ask({
      start: { databaseUrl, jwtSecret: randomBytes(32).toString("base64url") },
    })) as { url: string };
    const signup = await fetch(`${url}/api/v1/auth/signup`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        email: `bench-sse-${Date.now()}@example.com`,
        password: "correct horse battery staple",
        name: "Bench",
      }),
    });
    if (signup.status !== 201) throw new Error(`signup failed: ${signup.status}`);
    const { user, accessToken } = (await signup.json()) as { user: { id: string }; accessToken: string };
    const project = await db.project.create({ data: { userId: user.id, name: "sse bench" } });
    const workflow = await createWorkflow(
      {
        userId: user.id,
        projectId: project.id,
        name: "stream",
        definition: { steps: [{ id: "ask", type: "llm", model: "compat:mock/echo", prompt: "hi" }] },
      },
      { db },
    );
    const version = await db.workflowVersion.findFirstOrThrow({
      where: { workflowId: workflow.id },
      select: { id: true },
    });

    let best = 0;
    for (const n of levels) {
      if (performance.now() - began > BUDGET_MS) {
        console.info(`  (time budget spent: no level above ${best} tried)`);
        break;
      }
      const runs = await db.workflowRun.createManyAndReturn({
        data: Array.from({ length: Math.ceil(n / SUBSCRIBERS_PER_RUN) }, () => ({
          userId: user.id,
          projectId: project.id,
          workflowId: workflow.id,
          workflowVersionId: version.id,
          status: "running" as const,
          input: {},
          startedAt: new Date(),
        })),
        select: { id: true },
      });
      const runIds = runs.map((r) => r.id);
      const before = ((await server.ask({ memory: true })) as { memory: Memory }).memory;
      const clients = await child("bench/sse-client.ts");
      try {
        const connect = (await clients.ask({
          connect: { base: url, token: accessToken, runIds, perRun: SUBSCRIBERS_PER_RUN },
        })) as { connected: number; failed: number; ms: number };
        const after = ((await server.ask({ memory: true })) as { memory: Memory }).memory;
        await server.ask({ peak: "start" });
        const cpuBefore = ((await server.ask({ cpu: true })) as { cpuMs: number }).cpuMs;
        const pgCpu = await postgresCpuMeter(db);
        const producerCpu = process.cpuUsage();
        const clientCpu = ((await clients.ask({ cpu: true })) as { cpuMs: number }).cpuMs;
        const streamStart = performance.now();
        await produce(db, user.id, runIds);
        const { result } = (await clients.ask({ finish: { timeoutMs: 60_000, chunks: CHUNKS } })) as {
          result: ClientResult;
        };
        const streamMs = performance.now() - streamStart;
        const cpuMs = ((await server.ask({ cpu: true })) as { cpuMs: number }).cpuMs - cpuBefore;
        const pgMs = await pgCpu();
        const producerMs = (({ user, system }) => (user + system) / 1000)(process.cpuUsage(producerCpu));
        const { peak } = (await server.ask({ peak: "stop" })) as { peak: Memory };
        const holds = connect.failed === 0 && result.complete === n && result.lag.p99 <= LAG_P99_LIMIT_MS;
        const kb = (bytes: number) => round(bytes / 1024, 1);
        const perStreamRss = (after.rss - before.rss) / connect.connected;
        const perStreamHeap = (after.heapUsed - before.heapUsed) / connect.connected;
        reportValue(
          SUITE,
          `SSE ${n} subscribers (${runIds.length} runs): complete`,
          result.complete,
          "streams",
          `${holds ? "holds" : "DOES NOT HOLD"}; ${connect.failed} failed to connect (${round(connect.ms / 1000, 1)} s to connect); ${result.frames} frames; ${result.problems.join(" | ") || "no problems"}`,
        );
        reportValue(
          SUITE,
          `SSE ${n} subscribers: delivery lag p99`,
          result.lag.p99,
          "ms",
          `p50 ${round(result.lag.p50)}, p95 ${round(result.lag.p95)}, max ${round(result.lag.max)}; ${result.chunks} chunks; append → receipt, includes the 30 ms flush; limit ${LAG_P99_LIMIT_MS}`,
        );
        reportValue(
          SUITE,
          `SSE ${n} subscribers: web process CPU while streaming`,
          (cpuMs / streamMs) * 100,
          "% of a core",
          `${round(cpuMs)} ms over ${round(streamMs)} ms; ${round((cpuMs * 1000) / (result.frames || 1), 1)} µs per event delivered to a stream; meanwhile postgres ${pgMs === null ? "n/a" : `${round(pgMs)} ms`}, clients ${round(result.cpuMs - clientCpu)} ms, producer ${round(producerMs)} ms`,
        );
        reportValue(
          SUITE,
          `SSE ${n} subscribers: memory per stream`,
          kb(perStreamRss),
          "KB RSS",
          `heap ${kb(perStreamHeap)} KB per stream; web process RSS ${round(after.rss / 2 ** 20)} MB idle with ${n} streams, peak ${round(peak.rss / 2 ** 20)} MB streaming`,
        );
        if (!holds) break;
        best = n;
      } finally {
        clients.kill();
      }
      // Let the web process notice the closed sockets before the next level measures its memory.
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    reportValue(
      SUITE,
      "SSE subscribers per web process (largest level that held)",
      best,
      "streams",
      `${SUBSCRIBERS_PER_RUN} per run, ${CHUNKS} chunks × ${CHUNK_DELAY_MS} ms; goal ≥ 2,000`,
    );
  } finally {
    await server.ask({ stop: true }).catch(() => {});
    server.kill();
    await db.$disconnect();
  }
}
