import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Prisma } from "#app/db/client.server.ts";
import { AppError } from "#app/lib/app-error.ts";
import { createLogger } from "#app/lib/logger.server.ts";
import { createFile, createProject, createUser, createWorkflow } from "#tests/factories/index.ts";
import { type MockLlm, startMockLlm } from "#tests/mocks/llm/server.ts";
import { type AiRuntime, createTestAiRuntime } from "#tests/setup/ai.ts";
import { setupTestDatabase } from "#tests/setup/database.ts";
import { startWorker, type WorkerHandle } from "#worker/index.ts";
import { waitFor } from "#worker/test-helpers.ts";
import {
  checkJsonSchema,
  type EngineDeps,
  executeRun,
  markRunDead,
  parseJsonOutput,
} from "./engine.server.ts";
import { createEventWriter, type EventWriter } from "./events.server.ts";
import { cancelRun, createRun } from "./runs.server.ts";

const database = setupTestDatabase();
const db = () => database.db;
const logger = createLogger({ level: "silent" });

let mock: MockLlm;
let ai: AiRuntime;
let events: EventWriter;

beforeAll(async () => {
  mock = await startMockLlm();
  ai = createTestAiRuntime(database.db, {
    server: { compat: { mock: { baseUrl: `${mock.url}/v1`, apiKey: "" } } },
  });
  events = createEventWriter({ db: database.db, flushIntervalMs: 5, logger });
});
afterAll(async () => {
  await events?.close();
  await mock?.close();
});
beforeEach(() => mock.reset());

function deps(overrides: Partial<EngineDeps> = {}): EngineDeps {
  return {
    db: db(),
    ai,
    events,
    logger,
    workerId: randomUUID(),
    signal: new AbortController().signal,
    heartbeatMs: 25,
    ...overrides,
  };
}

/** A user, a project, a workflow with `definition`, and a queued run of it (through createRun). */
async function queuedRun(definition: Prisma.InputJsonValue, input: Record<string, unknown> = {}) {
  const user = await createUser(db());
  const project = await createProject(db(), { userId: user.id, name: "Engine project" });
  const { workflow } = await createWorkflow(db(), { userId: user.id, projectId: project.id, definition });
  const { runId } = await createRun({ userId: user.id, workflowId: workflow.id, input }, { db: db() });
  return { user, project, workflow, runId };
}

async function eventsOf(runId: string) {
  return db().runEvent.findMany({ where: { runId }, orderBy: { seq: "asc" } });
}

/** Event types in order, runs of `token` collapsed to one (the writer's coalescing is timing-dependent). */
function typeSequence(rows: Array<{ type: string; stepId: string | null }>) {
  const out: string[] = [];
  for (const row of rows) {
    const label = row.stepId ? `${row.type}:${row.stepId}` : row.type;
    if (row.type === "token" && out[out.length - 1] === label) continue;
    out.push(label);
  }
  return out;
}

const echo = "compat:mock/echo";

describe("executeRun", () => {
  it("runs transform → llm → llm (reading the previous output): outputs, totals, ordered contiguous events", async () => {
    const { runId } = await queuedRun(
      {
        inputs: { task: { type: "string" } },
        steps: [
          { id: "prep", type: "transform", template: "Task: {{inputs.task}}" },
          { id: "first", type: "llm", model: echo, prompt: "{{steps.prep.output}}" },
          {
            id: "second",
            type: "llm",
            model: echo,
            system: "Be brief",
            prompt: "Again: {{steps.first.output}}",
          },
        ],
      },
      { task: "hello" },
    );
    expect(await executeRun(runId, deps())).toBe("succeeded");

    const run = await db().workflowRun.findUniqueOrThrow({ where: { id: runId } });
    expect(run.status).toBe("succeeded");
    expect(run.output).toBe("Echo: Again: Echo: Task: hello");
    expect(run.attempt).toBe(1);
    expect(run.startedAt).toBeInstanceOf(Date);
    expect(run.finishedAt).toBeInstanceOf(Date);
    expect(run.durationMs).toBeGreaterThanOrEqual(0);

    const steps = await db().stepRun.findMany({ where: { runId }, orderBy: { index: "asc" } });
    expect(steps.map((s) => [s.stepId, s.status, s.output])).toEqual([
      ["prep", "succeeded", "Task: hello"],
      ["first", "succeeded", "Echo: Task: hello"],
      ["second", "succeeded", "Echo: Again: Echo: Task: hello"],
    ]);
    expect(steps[1]?.input).toEqual({ prompt: "Task: hello" });
    expect(steps[2]?.input).toEqual({ system: "Be brief", prompt: "Again: Echo: Task: hello" });

    // Totals: the run's are the sum of its AiCalls, and each step's are its own calls'.
    const calls = await db().aiCall.findMany({ where: { runId } });
    expect(calls).toHaveLength(2);
    const sum = (key: "tokensIn" | "tokensOut") => calls.reduce((n, c) => n + c[key], 0);
    expect(sum("tokensIn")).toBeGreaterThan(0);
    expect(run.tokensIn).toBe(sum("tokensIn"));
    expect(run.tokensOut).toBe(sum("tokensOut"));
    expect(steps[1]?.tokensOut).toBe(calls.find((c) => c.stepRunId === steps[1]?.id)?.tokensOut);
    expect(steps[0]?.tokensIn).toBe(0);

    // The mock saw the system message and the rendered prompt.
    const second = mock.requests[1]?.body as { messages: Array<{ role: string; content: string }> };
    expect(second.messages).toEqual([
      { role: "system", content: "Be brief" },
      { role: "user", content: "Again: Echo: Task: hello" },
    ]);

    const rows = await eventsOf(runId);
    expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i + 1));
    expect(run.lastEventSeq).toBe(rows.length);
    expect(typeSequence(rows)).toEqual([
      "status",
      "step_started:prep",
      "step_finished:prep",
      "step_started:first",
      "token:first",
      "step_finished:first",
      "usage:first",
      "step_started:second",
      "token:second",
      "step_finished:second",
      "usage:second",
      "status",
    ]);
    expect(rows[0]?.data).toEqual({ status: "running" });
    expect(rows[rows.length - 1]?.data).toEqual({ status: "succeeded" });
    const tokens = rows
      .filter((r) => r.type === "token" && r.stepId === "first")
      .map((r) => (r.data as { text: string }).text)
      .join("");
    expect(tokens).toBe("Echo: Task: hello");
  });

  it("skips a step that already succeeded (a checkpoint) and reuses its output: the model is not called again", async () => {
    const { user, runId } = await queuedRun({
      steps: [
        { id: "a", type: "llm", model: echo, prompt: "first" },
        { id: "b", type: "llm", model: echo, prompt: "After {{steps.a.output}}" },
      ],
    });
    await db().stepRun.create({
      data: {
        userId: user.id,
        runId,
        stepId: "a",
        index: 0,
        type: "llm",
        status: "succeeded",
        attempt: 1,
        output: "cached A",
        finishedAt: new Date(),
      },
    });
    expect(await executeRun(runId, deps())).toBe("succeeded");
    expect(mock.requests).toHaveLength(1);
    const run = await db().workflowRun.findUniqueOrThrow({ where: { id: runId } });
    expect(run.output).toBe("Echo: After cached A");
    const a = await db().stepRun.findFirstOrThrow({ where: { runId, stepId: "a" } });
    expect(a).toMatchObject({ attempt: 1, output: "cached A", status: "succeeded" });
    const types = typeSequence(await eventsOf(runId));
    expect(types).not.toContain("step_started:a");
  });

  it("json output: a fenced answer is parsed; a schema mismatch fails the step listing every mismatch", async () => {
    mock.script("json-ok", [{ reply: '```json\n{"name": "Ada", "tags": ["x"]}\n```' }]);
    mock.script("json-bad", [{ reply: '{"name": 5, "level": "max"}' }]);
    const schema = {
      type: "object",
      required: ["name", "tags"],
      properties: {
        name: { type: "string" },
        tags: { type: "array", items: { type: "string" } },
        level: { enum: ["low", "high"] },
      },
    };
    const ok = await queuedRun({
      steps: [
        {
          id: "extract",
          type: "llm",
          model: "compat:mock/script:json-ok",
          prompt: "x",
          output: "json",
          schema,
        },
      ],
    });
    expect(await executeRun(ok.runId, deps())).toBe("succeeded");
    expect((await db().workflowRun.findUniqueOrThrow({ where: { id: ok.runId } })).output).toEqual({
      name: "Ada",
      tags: ["x"],
    });

    const bad = await queuedRun({
      steps: [
        {
          id: "extract",
          type: "llm",
          model: "compat:mock/script:json-bad",
          prompt: "x",
          output: "json",
          schema,
        },
        { id: "never", type: "transform", template: "unreached" },
      ],
    });
    expect(await executeRun(bad.runId, deps())).toBe("failed");
    const run = await db().workflowRun.findUniqueOrThrow({ where: { id: bad.runId } });
    expect(run.status).toBe("failed");
    const error = run.error as { code: string; message: string; stepId: string };
    expect(error.code).toBe("SCHEMA_MISMATCH");
    expect(error.stepId).toBe("extract");
    expect(error.message).toContain("$.name: expected string, got integer");
    expect(error.message).toContain("$.tags: is required");
    expect(error.message).toContain('$.level: must be one of "low", "high", got "max"');
    const steps = await db().stepRun.findMany({ where: { runId: bad.runId } });
    expect(steps.map((s) => [s.stepId, s.status])).toEqual([["extract", "failed"]]);
    expect(typeSequence(await eventsOf(bad.runId)).slice(-3)).toEqual([
      "step_finished:extract",
      "error:extract",
      "status",
    ]);
  });

  it("without a sandbox, a command step fails loudly with SANDBOX_UNAVAILABLE; an agent step with AGENT_UNAVAILABLE", async () => {
    const { runId } = await queuedRun({
      steps: [
        { id: "prep", type: "transform", template: "ok" },
        { id: "check", type: "command", run: "npm test" },
      ],
    });
    expect(await executeRun(runId, deps())).toBe("failed");
    const run = await db().workflowRun.findUniqueOrThrow({ where: { id: runId } });
    expect(run.error).toMatchObject({ code: "SANDBOX_UNAVAILABLE", stepId: "check" });
    const message = (run.error as { message: string }).message;
    expect(message).toContain('Step "check"');
    expect(message).toContain("no sandbox configured for commands");
    const status = (await eventsOf(runId)).at(-1);
    expect(status?.data).toMatchObject({ status: "failed", error: { code: "SANDBOX_UNAVAILABLE" } });

    const agent = await queuedRun({
      steps: [{ id: "fix", type: "agent", model: echo, instructions: "Fix it" }],
    });
    expect(await executeRun(agent.runId, deps())).toBe("failed");
    const agentRun = await db().workflowRun.findUniqueOrThrow({ where: { id: agent.runId } });
    expect(agentRun.error).toMatchObject({ code: "AGENT_UNAVAILABLE", stepId: "fix" });
    expect(mock.requests).toHaveLength(0);
  });

  it("project variables: name and the referenced files; a missing file fails the step listing it", async () => {
    const { user, project, runId } = await queuedRun({
      steps: [
        {
          id: "show",
          type: "transform",
          template: '{{project.name}} / {{project.files["src/a.ts"]}}',
        },
      ],
    });
    await createFile(db(), {
      userId: user.id,
      projectId: project.id,
      path: "src/a.ts",
      content: "const a = 1;",
    });
    expect(await executeRun(runId, deps())).toBe("succeeded");
    expect((await db().workflowRun.findUniqueOrThrow({ where: { id: runId } })).output).toBe(
      "Engine project / const a = 1;",
    );

    const missing = await queuedRun({
      steps: [{ id: "show", type: "transform", template: '{{project.files["nope.ts"]}} {{steps.x.output}}' }],
    });
    expect(await executeRun(missing.runId, deps())).toBe("failed");
    const run = await db().workflowRun.findUniqueOrThrow({ where: { id: missing.runId } });
    expect(run.error).toMatchObject({ code: "TEMPLATE_MISSING_VARIABLES", stepId: "show" });
    expect((run.error as { message: string }).message).toContain(
      '{{project.files["nope.ts"]}}, {{steps.x.output}}',
    );
  });

  it("transform with output json: parsed, and bad JSON fails clearly", async () => {
    const ok = await queuedRun(
      {
        inputs: { n: { type: "number" } },
        steps: [{ id: "j", type: "transform", template: '{"n": {{inputs.n}}}', output: "json" }],
      },
      { n: 3 },
    );
    expect(await executeRun(ok.runId, deps())).toBe("succeeded");
    expect((await db().workflowRun.findUniqueOrThrow({ where: { id: ok.runId } })).output).toEqual({ n: 3 });
    const bad = await queuedRun({
      steps: [{ id: "j", type: "transform", template: "{nope", output: "json" }],
    });
    expect(await executeRun(bad.runId, deps())).toBe("failed");
    const run = await db().workflowRun.findUniqueOrThrow({ where: { id: bad.runId } });
    expect(run.error).toMatchObject({ code: "INVALID_JSON", stepId: "j" });
    expect((run.error as { message: string }).message).toContain("the rendered template is not valid JSON");
  });

  it("cancel of a running run aborts the model call upstream and ends it cancelled", async () => {
    mock.script("slow", [{ reply: "word ".repeat(400), chunkDelayMs: 25 }]);
    const { user, runId } = await queuedRun({
      steps: [
        { id: "prep", type: "transform", template: "go" },
        { id: "talk", type: "llm", model: "compat:mock/script:slow", prompt: "{{steps.prep.output}}" },
        { id: "after", type: "transform", template: "never" },
      ],
    });
    const running = executeRun(runId, deps());
    await waitFor(() => db().runEvent.findFirst({ where: { runId, type: "token" } }), { what: "a token" });
    const view = await cancelRun({ userId: user.id, runId }, { db: db() });
    expect(view.status).toBe("running");
    expect(view.cancelRequestedAt).toBeInstanceOf(Date);
    expect(await running).toBe("cancelled");

    await mock.waitFor((requests) => requests[0]?.clientClosed === true);
    const run = await db().workflowRun.findUniqueOrThrow({ where: { id: runId } });
    expect(run.status).toBe("cancelled");
    expect(run.finishedAt).toBeInstanceOf(Date);
    const steps = await db().stepRun.findMany({ where: { runId }, orderBy: { index: "asc" } });
    expect(steps.map((s) => [s.stepId, s.status])).toEqual([
      ["prep", "succeeded"],
      ["talk", "cancelled"],
    ]);
    expect((await eventsOf(runId)).at(-1)?.data).toEqual({ status: "cancelled" });
  });

  it("cancel of a queued run: cancelled at once, its job removed, and the engine leaves it alone", async () => {
    const { user, runId } = await queuedRun({ steps: [{ id: "a", type: "llm", model: echo, prompt: "x" }] });
    const view = await cancelRun({ userId: user.id, runId }, { db: db() });
    expect(view.status).toBe("cancelled");
    expect(await db().$queryRaw`SELECT id FROM graphile_worker.jobs WHERE key = ${runId}`).toEqual([]);
    expect(await executeRun(runId, deps())).toBe("skipped");
    expect(mock.requests).toHaveLength(0);
    expect((await eventsOf(runId)).map((e) => e.data)).toEqual([{ status: "cancelled" }]);
  });

  it("worker shutdown mid-call leaves the run running (and throws); the next attempt resumes after the checkpoint", async () => {
    mock.script("held", [{ reply: "word ".repeat(400), chunkDelayMs: 25 }, { reply: "done now" }]);
    const { runId } = await queuedRun({
      steps: [
        { id: "prep", type: "transform", template: "go" },
        { id: "talk", type: "llm", model: "compat:mock/script:held", prompt: "{{steps.prep.output}}" },
      ],
    });
    const shutdown = new AbortController();
    const first = executeRun(runId, deps({ signal: shutdown.signal }));
    await waitFor(() => db().runEvent.findFirst({ where: { runId, type: "token" } }), { what: "a token" });
    shutdown.abort();
    await expect(first).rejects.toThrow("The worker is shutting down");
    await mock.waitFor((requests) => requests[0]?.clientClosed === true);
    const interrupted = await db().workflowRun.findUniqueOrThrow({ where: { id: runId } });
    expect(interrupted.status).toBe("running");
    expect(interrupted.error).toBeNull();

    expect(await executeRun(runId, deps())).toBe("succeeded");
    const run = await db().workflowRun.findUniqueOrThrow({ where: { id: runId } });
    expect(run).toMatchObject({ status: "succeeded", output: "done now", attempt: 2 });
    const steps = await db().stepRun.findMany({ where: { runId }, orderBy: { index: "asc" } });
    expect(steps.map((s) => [s.stepId, s.attempt])).toEqual([
      ["prep", 1],
      ["talk", 2],
    ]);
    const rows = await eventsOf(runId);
    expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i + 1));
  });

  it("the run's end and its terminal status event commit together: a failed final write leaves neither, and the retry finishes", async () => {
    const { runId } = await queuedRun({
      steps: [
        { id: "prep", type: "transform", template: "go" },
        { id: "talk", type: "llm", model: echo, prompt: "{{steps.prep.output}}" },
      ],
    });
    // A database whose transactions fail (the event writer's flush, where the run ends): one connection lost.
    let failing = true;
    const flaky = new Proxy(db(), {
      get(target, prop, receiver) {
        if (prop === "$transaction" && failing) {
          return () => Promise.reject(new Error("connection lost"));
        }
        return Reflect.get(target, prop, receiver);
      },
    });
    const brokenEvents = createEventWriter({ db: flaky, flushIntervalMs: 60_000, logger });
    await expect(executeRun(runId, deps({ events: brokenEvents }))).rejects.toThrow("connection lost");
    const stuck = await db().workflowRun.findUniqueOrThrow({ where: { id: runId } });
    expect(stuck).toMatchObject({ status: "running", finishedAt: null, lastEventSeq: 0 });
    // The checkpoints were written before the end: the retry does not call the model again.
    const steps = await db().stepRun.findMany({ where: { runId }, orderBy: { index: "asc" } });
    expect(steps.map((step) => [step.stepId, step.status, step.attempt])).toEqual([
      ["prep", "succeeded", 1],
      ["talk", "succeeded", 1],
    ]);
    expect(mock.requests).toHaveLength(1);

    // The connection is back: the writer still holds the first attempt's events and writes them first.
    failing = false;
    expect(await executeRun(runId, deps({ events: brokenEvents }))).toBe("succeeded");
    await brokenEvents.close();
    expect(mock.requests).toHaveLength(1);
    const run = await db().workflowRun.findUniqueOrThrow({ where: { id: runId } });
    expect(run).toMatchObject({ status: "succeeded", output: "Echo: go", attempt: 2 });
    expect(run.tokensOut).toBeGreaterThan(0);
    const rows = await eventsOf(runId);
    expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i + 1));
    const statuses = rows
      .filter((r) => r.type === "status")
      .map((r) => (r.data as { status: string }).status);
    expect(statuses).toEqual(["running", "running", "succeeded"]);
    expect(rows.at(-1)?.type).toBe("status");
  });

  it("a worker fenced off (the run handed to another) stops the call and writes nothing more", async () => {
    mock.script("fenced", [{ reply: "word ".repeat(400), chunkDelayMs: 25 }]);
    const { runId } = await queuedRun({
      steps: [{ id: "talk", type: "llm", model: "compat:mock/script:fenced", prompt: "go" }],
    });
    const first = executeRun(runId, deps());
    await waitFor(() => db().runEvent.findFirst({ where: { runId, type: "token" } }), { what: "a token" });
    // What the dead-worker sweep plus another worker's takeover amount to: the run now belongs to someone else.
    const other = randomUUID();
    await db().workflowRun.update({ where: { id: runId }, data: { workerId: other } });
    await expect(first).rejects.toThrow("Another worker has taken this run over");
    await mock.waitFor((requests) => requests[0]?.clientClosed === true);
    const run = await db().workflowRun.findUniqueOrThrow({ where: { id: runId } });
    expect(run).toMatchObject({ status: "running", workerId: other, error: null, finishedAt: null });
    const step = await db().stepRun.findFirstOrThrow({ where: { runId } });
    expect(step.status).toBe("running");
  });

  it("runs ending in the same flush are ended together, each with its own end; two endings of one run: the first wins", async () => {
    const slow = createEventWriter({ db: database.db, flushIntervalMs: 60_000, logger });
    try {
      const runs = await Promise.all(
        ["a", "b", "c", "d"].map((task) =>
          queuedRun(
            {
              inputs: { task: { type: "string" } },
              steps: [{ id: "echo", type: "transform", template: "{{inputs.task}}!" }],
            },
            { task },
          ),
        ),
      );
      const outcomes = await Promise.all(runs.map(({ runId }) => executeRun(runId, deps({ events: slow }))));
      expect(outcomes).toEqual(["succeeded", "succeeded", "succeeded", "succeeded"]);
      for (const [i, { runId }] of runs.entries()) {
        const run = await db().workflowRun.findUniqueOrThrow({ where: { id: runId } });
        expect([run.status, run.output, run.error]).toEqual(["succeeded", `${"abcd"[i]}!`, null]);
        expect(run.durationMs).toBeGreaterThanOrEqual(0);
        expect(run.finishedAt).not.toBeNull();
        const rows = await eventsOf(runId);
        expect(rows.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
        expect(rows.at(-1)?.data).toEqual({ status: "succeeded" });
        expect(await db().notification.count({ where: { runId } })).toBe(1);
      }
      // Two endings of one run in one flush (a dead-worker sweep and the last attempt, say): one takes effect.
      const { runId } = await queuedRun({ steps: [{ id: "t", type: "transform", template: "x" }] });
      const ended = await Promise.all([
        markRunDead(runId, "first", { db: db(), events: slow }),
        markRunDead(runId, "second", { db: db(), events: slow }),
      ]);
      expect(ended.filter(Boolean)).toHaveLength(1);
      const run = await db().workflowRun.findUniqueOrThrow({ where: { id: runId } });
      expect(run.status).toBe("dead");
      expect((await eventsOf(runId)).map((e) => e.data)).toEqual([{ status: "dead", error: run.error }]);
      expect(await db().notification.count({ where: { runId } })).toBe(1);
    } finally {
      await slow.close();
    }
  });

  it("the last attempt interrupted ends the run dead with the reason", async () => {
    mock.script("held2", [{ reply: "word ".repeat(400), chunkDelayMs: 25 }]);
    const { runId } = await queuedRun({
      steps: [{ id: "talk", type: "llm", model: "compat:mock/script:held2", prompt: "x" }],
    });
    const shutdown = new AbortController();
    const first = executeRun(runId, deps({ signal: shutdown.signal, lastAttempt: true }));
    await waitFor(() => db().runEvent.findFirst({ where: { runId, type: "token" } }), { what: "a token" });
    shutdown.abort();
    await expect(first).rejects.toThrow();
    const run = await db().workflowRun.findUniqueOrThrow({ where: { id: runId } });
    expect(run.status).toBe("dead");
    expect(run.error).toMatchObject({ code: "ATTEMPTS_EXHAUSTED" });
  });
});

describe("the real worker", () => {
  let worker: WorkerHandle | undefined;
  afterAll(async () => {
    await worker?.stop();
  });

  it("picks up the job createRun enqueued and finishes the run", async () => {
    worker = await startWorker({
      connectionString: database.url,
      db: db(),
      logger,
      concurrency: 2,
      pollInterval: 200,
      ai,
    });
    const { runId } = await queuedRun(
      {
        inputs: { task: { type: "string" } },
        steps: [
          { id: "prep", type: "transform", template: "Do {{inputs.task}}" },
          { id: "ask", type: "llm", model: echo, prompt: "{{steps.prep.output}}" },
        ],
      },
      { task: "it" },
    );
    const run = await waitFor(
      async () => {
        const row = await db().workflowRun.findUniqueOrThrow({ where: { id: runId } });
        return row.status === "succeeded" || row.status === "failed" ? row : null;
      },
      { what: "the run to finish" },
    );
    expect(run).toMatchObject({ status: "succeeded", output: "Echo: Do it", workerId: worker.workerId });
    // The terminal event is written by the time the status is: the engine flushes before the job completes.
    const last = await waitFor(async () => {
      const rows = await eventsOf(runId);
      return rows.at(-1)?.type === "status" && rows.length > 2 ? rows : null;
    });
    expect(last.at(-1)?.data).toEqual({ status: "succeeded" });
    await waitFor(
      async () => {
        const jobs = await db().$queryRaw<
          unknown[]
        >`SELECT id FROM graphile_worker.jobs WHERE key = ${runId}`;
        return jobs.length === 0;
      },
      { what: "the job to complete" },
    );
  });
});

describe("output helpers", () => {
  it("a failure of our own during a model call (not the provider's) rejects so the job retries, instead of failing the run", async () => {
    const { runId } = await queuedRun({
      steps: [{ id: "ask", type: "llm", model: echo, prompt: "hi" }],
    });
    const broken = {
      service: {
        stream: () =>
          Object.assign(
            (async function* () {
              yield* [];
              throw new AppError("BAD_GATEWAY", "The model call failed unexpectedly", { kind: "unknown" });
            })(),
            { result: new Promise(() => {}) },
          ),
      },
    } as unknown as EngineDeps["ai"];
    await expect(executeRun(runId, deps({ ai: broken }))).rejects.toThrow("failed unexpectedly");
    const run = await db().workflowRun.findUniqueOrThrow({ where: { id: runId } });
    expect(run.status).toBe("running"); // the retried job resumes it
    expect(await executeRun(runId, deps())).toBe("succeeded");
  });

  it("parseJsonOutput tolerates a fence and names the step on bad JSON", () => {
    expect(parseJsonOutput('```json\n{"a":1}\n```', "s")).toEqual({ a: 1 });
    expect(parseJsonOutput(" [1, 2] ", "s")).toEqual([1, 2]);
    expect(() => parseJsonOutput("nope", "s")).toThrow('Step "s": the model\'s answer is not valid JSON');
  });

  it("checkJsonSchema: type, properties, required, enum, items, additionalProperties", () => {
    const schema = {
      type: "object",
      required: ["id"],
      additionalProperties: false,
      properties: { id: { type: "integer" }, list: { type: "array", items: { type: ["string", "null"] } } },
    };
    expect(checkJsonSchema({ id: 1, list: ["a", null] }, schema)).toEqual([]);
    expect(checkJsonSchema({ id: 1.5, list: ["a", 2], extra: true }, schema)).toEqual([
      "$.id: expected integer, got number",
      "$.list[1]: expected string or null, got integer",
      "$.extra: is not allowed",
    ]);
    expect(checkJsonSchema([], schema)).toEqual(["$: expected object, got array"]);
    expect(checkJsonSchema(3, { type: "number" })).toEqual([]);
  });
});
