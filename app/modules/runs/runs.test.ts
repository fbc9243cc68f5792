import { TRPCError } from "@trpc/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPrismaClient, type Prisma } from "#app/db/client.server.ts";
import type { Scope } from "#app/modules/auth/auth.types.ts";
import { createCallerFactory } from "#app/trpc/init.server.ts";
import { createProject, createUser, createWorkflow } from "#tests/factories/index.ts";
import { rejection } from "#tests/setup/assertions.ts";
import { setupTestDatabase } from "#tests/setup/database.ts";
import {
  sessionPrincipal,
  signupViaApi,
  startTestServer,
  type TestServer,
  testContext,
} from "#tests/setup/http-server.ts";
import { runsRouter } from "./runs.router.server.ts";
import { cancelRun, createRun, getRun, listRuns } from "./runs.server.ts";

const database = setupTestDatabase();
const db = () => database.db;
const deps = () => ({ db: database.db });

const DEFINITION = {
  inputs: { task: { type: "string" }, count: { type: "number", default: 2 } },
  steps: [{ id: "plan", type: "llm", model: "compat:mock/echo", prompt: "Plan: {{inputs.task}}" }],
} satisfies Prisma.InputJsonValue;

async function owner() {
  const user = await createUser(db());
  const project = await createProject(db(), { userId: user.id });
  const { workflow, version } = await createWorkflow(db(), {
    userId: user.id,
    projectId: project.id,
    definition: DEFINITION,
  });
  return { user, project, workflow, version };
}

async function jobsFor(runId: string) {
  return db().$queryRaw<Array<{ task_identifier: string; payload: unknown; max_attempts: number }>>`
    SELECT t.identifier AS task_identifier, j.payload, j.max_attempts
    FROM graphile_worker._private_jobs j JOIN graphile_worker._private_tasks t ON t.id = j.task_id
    WHERE j.key = ${runId}`;
}

describe("createRun", () => {
  it("writes the queued run (validated input, budget) and its job keyed by the run id", async () => {
    const { user, workflow, version } = await owner();
    const { runId } = await createRun(
      { userId: user.id, workflowId: workflow.id, input: { task: "ship", count: "3" }, budgetUsd: 0.25 },
      deps(),
    );
    const run = await db().workflowRun.findUniqueOrThrow({ where: { id: runId } });
    expect(run).toMatchObject({
      status: "queued",
      userId: user.id,
      workflowId: workflow.id,
      workflowVersionId: version.id,
      input: { task: "ship", count: 3 },
      budgetMicros: 250_000n,
      maxAttempts: 3,
      attempt: 0,
    });
    expect(await jobsFor(runId)).toEqual([
      { task_identifier: "runs.execute", payload: { runId }, max_attempts: 3 },
    ]);
  });

  it("forces generic plans for its own statement only: the connection's plan_cache_mode is left as it was", async () => {
    const { user, workflow } = await owner();
    const single = createPrismaClient({ connectionString: database.url, max: 1 });
    try {
      for (let i = 0; i < 7; i++) {
        await createRun(
          { userId: user.id, workflowId: workflow.id, input: { task: `t${i}` } },
          { db: single },
        );
      }
      const [mode] = await single.$queryRaw<
        Array<{ mode: string }>
      >`SELECT current_setting('plan_cache_mode') AS mode`;
      expect(mode?.mode).toBe("auto");
      expect(await single.workflowRun.count({ where: { userId: user.id } })).toBe(7);
    } finally {
      await single.$disconnect();
    }
  });

  it("stamps createdAt from the clock, exactly (the insert is raw SQL)", async () => {
    const { user, workflow } = await owner();
    const at = new Date("2026-03-01T23:30:15.123Z");
    const { runId } = await createRun(
      { userId: user.id, workflowId: workflow.id, input: { task: "t" } },
      { db: db(), now: () => at },
    );
    const run = await db().workflowRun.findUniqueOrThrow({ where: { id: runId } });
    expect(run.createdAt.toISOString()).toBe(at.toISOString());
    expect(run.updatedAt.toISOString()).toBe(at.toISOString());
    expect(run.budgetMicros).toBeNull();
    expect(run.apiKeyId).toBeNull();
  });

  it("a failing job insert rolls the run back: neither is written", async () => {
    const { user, workflow } = await owner();
    await db().$executeRawUnsafe(
      `CREATE FUNCTION test_refuse_job() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'no jobs today'; END $$ LANGUAGE plpgsql`,
    );
    await db().$executeRawUnsafe(
      `CREATE TRIGGER test_refuse_job BEFORE INSERT ON graphile_worker._private_jobs FOR EACH ROW EXECUTE FUNCTION test_refuse_job()`,
    );
    try {
      await expect(
        createRun({ userId: user.id, workflowId: workflow.id, input: { task: "x" } }, deps()),
      ).rejects.toThrow("no jobs today");
    } finally {
      await db().$executeRawUnsafe(`DROP TRIGGER test_refuse_job ON graphile_worker._private_jobs`);
      await db().$executeRawUnsafe(`DROP FUNCTION test_refuse_job()`);
    }
    expect(await db().workflowRun.count({ where: { workflowId: workflow.id } })).toBe(0);
    expect(
      await db()
        .$queryRaw`SELECT id FROM graphile_worker._private_jobs WHERE key IS NOT NULL AND key NOT IN (SELECT id::text FROM "WorkflowRun")`,
    ).toEqual([]);
  });

  it("checks the input against the version's inputs: BAD_REQUEST with every issue", async () => {
    const { user, workflow } = await owner();
    const error = await rejection(
      createRun({ userId: user.id, workflowId: workflow.id, input: { count: "many", tsak: 1 } }, deps()),
    );
    expect(error.code).toBe("BAD_REQUEST");
    expect(error.message).toMatch(/^The run input has 3 problems: /);
    const issues = (error.details as { issues: Array<{ path: unknown[] }> }).issues;
    expect(issues.map((i) => i.path)).toEqual([
      ["input", "tsak"],
      ["input", "task"],
      ["input", "count"],
    ]);
    expect(await db().workflowRun.count({ where: { workflowId: workflow.id } })).toBe(0);
  });

  it("another user's workflow, a missing version and an archived workflow are refused", async () => {
    const { user, workflow } = await owner();
    const other = await createUser(db());
    expect(
      (
        await rejection(
          createRun({ userId: other.id, workflowId: workflow.id, input: { task: "x" } }, deps()),
        )
      ).code,
    ).toBe("NOT_FOUND");
    expect(
      await rejection(
        createRun({ userId: user.id, workflowId: workflow.id, version: 7, input: { task: "x" } }, deps()),
      ),
    ).toMatchObject({ code: "NOT_FOUND", message: "Workflow version 7 not found" });
    await db().aIWorkflow.update({ where: { id: workflow.id }, data: { archivedAt: new Date() } });
    expect(
      (await rejection(createRun({ userId: user.id, workflowId: workflow.id, input: { task: "x" } }, deps())))
        .code,
    ).toBe("CONFLICT");
  });
});

describe("getRun, listRuns, cancelRun", () => {
  it("get: steps by index and totals; another user's run is NOT_FOUND", async () => {
    const { user, workflow } = await owner();
    const { runId } = await createRun(
      { userId: user.id, workflowId: workflow.id, input: { task: "x" } },
      deps(),
    );
    for (const [index, stepId] of ["b", "a"].entries()) {
      await db().stepRun.create({
        data: { userId: user.id, runId, stepId, index: 1 - index, type: "transform", status: "succeeded" },
      });
    }
    const view = await getRun({ userId: user.id, runId }, deps());
    expect(view).toMatchObject({
      id: runId,
      status: "queued",
      versionNumber: 1,
      workflowName: "Test workflow",
    });
    expect(view.steps.map((s) => s.stepId)).toEqual(["a", "b"]);
    const other = await createUser(db());
    expect((await rejection(getRun({ userId: other.id, runId }, deps()))).code).toBe("NOT_FOUND");
    expect((await rejection(getRun({ userId: user.id, runId: "nope" }, deps()))).code).toBe("NOT_FOUND");
  });

  it("list: newest first, filters, cursor pagination, others' filters NOT_FOUND", async () => {
    const { user, project, workflow } = await owner();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      // One second apart: the order is by createdAt, whatever ids generated in one millisecond do.
      const now = () => new Date(Date.UTC(2025, 0, 1, 0, 0, i));
      ids.push(
        (
          await createRun(
            { userId: user.id, workflowId: workflow.id, input: { task: `t${i}` } },
            { db: db(), now },
          )
        ).runId,
      );
    }
    await cancelRun({ userId: user.id, runId: ids[1]! }, deps());
    const first = await listRuns({ userId: user.id, workflowId: workflow.id, limit: 2 }, deps());
    expect(first.items.map((r) => r.id)).toEqual([ids[4], ids[3]]);
    const second = await listRuns(
      { userId: user.id, workflowId: workflow.id, limit: 2, cursor: first.nextCursor! },
      deps(),
    );
    expect(second.items.map((r) => r.id)).toEqual([ids[2], ids[1]]);
    const third = await listRuns(
      { userId: user.id, workflowId: workflow.id, limit: 2, cursor: second.nextCursor! },
      deps(),
    );
    expect(third).toMatchObject({ items: [{ id: ids[0] }], nextCursor: null });
    expect(
      (await listRuns({ userId: user.id, projectId: project.id, status: "cancelled" }, deps())).items.map(
        (r) => r.id,
      ),
    ).toEqual([ids[1]]);

    const other = await createUser(db());
    expect((await listRuns({ userId: other.id }, deps())).items).toEqual([]);
    expect((await rejection(listRuns({ userId: other.id, projectId: project.id }, deps()))).code).toBe(
      "NOT_FOUND",
    );
    expect((await rejection(listRuns({ userId: other.id, workflowId: workflow.id }, deps()))).code).toBe(
      "NOT_FOUND",
    );
    expect((await rejection(listRuns({ userId: other.id, cursor: ids[2] }, deps()))).code).toBe(
      "BAD_REQUEST",
    );
  });

  it("cancel: queued → cancelled with a status event; finished → CONFLICT; running → cancelRequestedAt", async () => {
    const { user, workflow } = await owner();
    const { runId } = await createRun(
      { userId: user.id, workflowId: workflow.id, input: { task: "x" } },
      deps(),
    );
    const other = await createUser(db());
    expect((await rejection(cancelRun({ userId: other.id, runId }, deps()))).code).toBe("NOT_FOUND");
    const cancelled = await cancelRun({ userId: user.id, runId }, deps());
    expect(cancelled).toMatchObject({ status: "cancelled", lastEventSeq: 1 });
    expect(cancelled.finishedAt).toBeInstanceOf(Date);
    expect(
      await db().runEvent.findMany({ where: { runId }, select: { seq: true, type: true, data: true } }),
    ).toEqual([{ seq: 1, type: "status", data: { status: "cancelled" } }]);
    expect(await jobsFor(runId)).toEqual([]);
    expect(await rejection(cancelRun({ userId: user.id, runId }, deps()))).toMatchObject({
      code: "CONFLICT",
      message: "The run has already finished (cancelled)",
    });

    const running = await createRun(
      { userId: user.id, workflowId: workflow.id, input: { task: "y" } },
      deps(),
    );
    await db().workflowRun.update({ where: { id: running.runId }, data: { status: "running" } });
    const requested = await cancelRun({ userId: user.id, runId: running.runId }, deps());
    expect(requested.status).toBe("running");
    expect(requested.cancelRequestedAt).toBeInstanceOf(Date);
  });
});

// ─── Transports ──────────────────────────────────────────────────────────────

describe("runsRouter and REST", () => {
  let server: TestServer;
  let alice: Awaited<ReturnType<typeof signupViaApi>>;
  let bob: Awaited<ReturnType<typeof signupViaApi>>;
  let workflowId: string;
  const createCaller = createCallerFactory(runsRouter);
  const asKey = (userId: string, scopes: Scope[]) =>
    createCaller(
      testContext(server, {
        userId,
        kind: "api_key",
        sessionId: null,
        apiKeyId: null,
        scopes,
        rateLimitPerMinute: null,
      }),
    );

  beforeAll(async () => {
    server = await startTestServer();
    alice = await signupViaApi(server.base);
    bob = await signupViaApi(server.base);
    const project = await createProject(server.database.db, { userId: alice.userId });
    workflowId = (
      await createWorkflow(server.database.db, {
        userId: alice.userId,
        projectId: project.id,
        definition: DEFINITION,
      })
    ).workflow.id;
  });
  afterAll(() => server?.close());

  async function call(
    method: string,
    path: string,
    token: string,
    body: unknown = method === "POST" ? {} : undefined,
  ) {
    const res = await fetch(`${server.base}/api/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    type Body = {
      runId?: string;
      status?: string;
      items?: Array<{ id: string }>;
      error?: { code: string; details?: { issues?: unknown } };
    } & Record<string, unknown>;
    return { status: res.status, body: (await res.json().catch(() => null)) as Body | null };
  }

  it("REST: 202 {runId}; get, list, cancel; another user gets 404 everywhere", async () => {
    const created = await call("POST", `/workflows/${workflowId}/runs`, alice.accessToken, {
      input: { task: "rest" },
    });
    expect(created.status).toBe(202);
    const runId = created.body?.runId as string;
    expect(runId).toMatch(/^[0-9a-f-]{36}$/);

    const got = await call("GET", `/runs/${runId}`, alice.accessToken);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({
      id: runId,
      status: "queued",
      input: { task: "rest", count: 2 },
      steps: [],
    });

    const list = await call("GET", `/runs?workflowId=${workflowId}&limit=1`, alice.accessToken);
    expect(list.status).toBe(200);
    expect(list.body?.items?.map((r) => r.id)).toEqual([runId]);

    const bad = await call("POST", `/workflows/${workflowId}/runs`, alice.accessToken, { input: {} });
    expect(bad.status).toBe(400);
    expect(bad.body?.error?.details?.issues).toEqual([
      { path: ["input", "task"], message: 'Input "task" is required' },
    ]);

    expect(
      (await call("POST", `/workflows/${workflowId}/runs`, bob.accessToken, { input: { task: "x" } })).status,
    ).toBe(404);
    expect((await call("GET", `/runs/${runId}`, bob.accessToken)).status).toBe(404);
    expect((await call("POST", `/runs/${runId}/cancel`, bob.accessToken)).status).toBe(404);
    expect((await call("GET", `/runs?workflowId=${workflowId}`, bob.accessToken)).status).toBe(404);

    const cancelled = await call("POST", `/runs/${runId}/cancel`, alice.accessToken);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body?.status).toBe("cancelled");
    expect((await call("POST", `/runs/${runId}/cancel`, alice.accessToken)).status).toBe(409);
  });

  it("tRPC: scopes — runs:read cannot create or cancel, runs:write cannot read", async () => {
    const reader = asKey(alice.userId, ["runs:read"]);
    const writer = asKey(alice.userId, ["runs:write"]);
    const code = async (promise: Promise<unknown>) => {
      const error = await promise.then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(TRPCError);
      return (error as TRPCError).code;
    };
    expect(await code(reader.create({ id: workflowId, input: { task: "x" } }))).toBe("FORBIDDEN");
    const { runId } = await writer.create({ id: workflowId, input: { task: "x" } });
    expect(await code(writer.get({ id: runId }))).toBe("FORBIDDEN");
    expect(await code(writer.list({}))).toBe("FORBIDDEN");
    expect((await reader.get({ id: runId })).status).toBe("queued");
    expect(await code(reader.cancel({ id: runId }))).toBe("FORBIDDEN");
    expect((await writer.cancel({ id: runId })).status).toBe("cancelled");

    const session = createCaller(testContext(server, sessionPrincipal(bob.userId, "s")));
    expect(await code(session.get({ id: runId }))).toBe("NOT_FOUND");
  });
});
