/**
 * Behaviour the data model promises beyond its shape: ownership cascades, spend that survives
 * deletions, the append-only audit trail, ids, money, time zones — and that the factories and
 * the seed write valid rows.
 */
import { describe, expect, it } from "vitest";
import { DEMO_EMAIL, SAMPLE_FILES, seed } from "#prisma/seed.ts";
import {
  createAiCall,
  createFile,
  createProject,
  createRun,
  createUser,
  createWorkflow,
} from "#tests/factories/index.ts";
import { setupTestDatabase } from "#tests/setup/database.ts";
import { createPrismaClient, Prisma } from "./client.server.ts";

const database = setupTestDatabase();

async function ownedGraph() {
  const { db } = database;
  const user = await createUser(db);
  const project = await createProject(db, { userId: user.id });
  const file = await createFile(db, { userId: user.id, projectId: project.id });
  const { workflow, version } = await createWorkflow(db, { userId: user.id, projectId: project.id });
  const run = await createRun(db, {
    userId: user.id,
    projectId: project.id,
    workflowId: workflow.id,
    workflowVersionId: version.id,
  });
  return { user, project, file, workflow, version, run };
}

describe("data model", () => {
  it("generates time-ordered UUIDv7 ids", async () => {
    const a = await createUser(database.db);
    const b = await createUser(database.db);
    expect(a.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(a.id < b.id).toBe(true);
  });

  it("factories write a consistent project: file at version 1 with its history, a queued run pinned to v1", async () => {
    const { file, run, version } = await ownedGraph();
    expect(file.version).toBe(1);
    expect(file.versions).toMatchObject([{ version: 1, content: file.content, sha256: file.sha256 }]);
    expect(run).toMatchObject({
      status: "queued",
      workflowVersionId: version.id,
      attempt: 0,
      costMicros: 0n,
    });
  });

  it("keeps money exact in BigInt micro-dollars", async () => {
    const { user, run } = await ownedGraph();
    const big = 9_007_199_254_740_993n; // beyond Number.MAX_SAFE_INTEGER
    await database.db.workflowRun.update({ where: { id: run.id }, data: { costMicros: big } });
    await createAiCall(database.db, {
      userId: user.id,
      runId: run.id,
      costMicros: 1_234_567n,
    });
    expect((await database.db.workflowRun.findUniqueOrThrow({ where: { id: run.id } })).costMicros).toBe(big);
    const sum = await database.db.aiCall.aggregate({
      where: { userId: user.id },
      _sum: { costMicros: true },
    });
    expect(sum._sum.costMicros).toBe(1_234_567n);
  });

  it("deleting a user removes everything they own", async () => {
    const { user, project, run } = await ownedGraph();
    await database.db.runEvent.create({
      data: { userId: user.id, runId: run.id, seq: 1, type: "status", data: {} },
    });
    await database.db.user.delete({ where: { id: user.id } });
    expect(await database.db.project.findUnique({ where: { id: project.id } })).toBeNull();
    expect(await database.db.workflowRun.count({ where: { userId: user.id } })).toBe(0);
    expect(await database.db.runEvent.count({ where: { userId: user.id } })).toBe(0);
    expect(await database.db.fileVersion.count({ where: { userId: user.id } })).toBe(0);
  });

  it("deleting a project keeps the user's spend: AiCall rows stay, unlinked", async () => {
    const { user, project, run } = await ownedGraph();
    const call = await createAiCall(database.db, {
      userId: user.id,
      projectId: project.id,
      runId: run.id,
      costMicros: 500n,
    });
    await database.db.project.delete({ where: { id: project.id } });
    expect(await database.db.aiCall.findUnique({ where: { id: call.id } })).toMatchObject({
      projectId: null,
      runId: null,
      costMicros: 500n,
    });
  });

  it("RunEvent sequence numbers are unique per run", async () => {
    const { user, run } = await ownedGraph();
    await database.db.runEvent.create({
      data: { userId: user.id, runId: run.id, seq: 1, type: "status", data: {} },
    });
    await expect(
      database.db.runEvent.create({
        data: { userId: user.id, runId: run.id, seq: 1, type: "log", data: {} },
      }),
    ).rejects.toMatchObject({ code: "P2002" });
  });

  it("AuditEvent is append-only: updates, deletes and truncation are refused by the database", async () => {
    const user = await createUser(database.db);
    const event = await database.db.auditEvent.create({
      data: { userId: user.id, action: "auth.signup", ip: "127.0.0.1" },
    });
    await expect(
      database.db.auditEvent.update({ where: { id: event.id }, data: { action: "auth.login" } }),
    ).rejects.toThrow(/append-only: UPDATE is not allowed/);
    await expect(database.db.auditEvent.delete({ where: { id: event.id } })).rejects.toThrow(
      /append-only: DELETE is not allowed/,
    );
    await expect(database.db.$executeRawUnsafe(`TRUNCATE "AuditEvent"`)).rejects.toThrow(/append-only/);
    // The trail outlives the account it describes.
    await database.db.user.delete({ where: { id: user.id } });
    expect(await database.db.auditEvent.findUnique({ where: { id: event.id } })).toMatchObject({
      userId: user.id,
      action: "auth.signup",
    });
  });

  it("runs every session in UTC, so raw SQL and Prisma agree on timestamp columns", async () => {
    const [row] = await database.db.$queryRaw<{ tz: string }[]>`SELECT current_setting('TimeZone') AS tz`;
    expect(row!.tz).toBe("UTC");
    const probe = await database.db.workerProbe.create({ data: {} });
    const [fresh] = await database.db.$queryRaw<{ fresh: boolean }[]>`
      SELECT "requestedAt" > now() - interval '1 minute' AND "requestedAt" <= now() + interval '1 second' AS fresh
        FROM "WorkerProbe" WHERE id = ${probe.id}::uuid`;
    expect(fresh!.fresh).toBe(true);
  });

  it("exposes Prisma's error classes through client.server.ts", async () => {
    const error = await database.db.user
      .findUniqueOrThrow({ where: { email: "nobody@example.test" } })
      .catch((e) => e);
    expect(error).toBeInstanceOf(Prisma.PrismaClientKnownRequestError);
  });

  it("$disconnect() closes the client's whole pool", async () => {
    const client = createPrismaClient({
      connectionString: database.url,
      max: 3,
      applicationName: "pool-close-test",
    });
    await Promise.all([client.user.count(), client.project.count(), client.workflowRun.count()]);
    await client.$disconnect();
    const deadline = Date.now() + 2_000;
    let open = 1;
    while (open > 0 && Date.now() < deadline) {
      const [row] = await database.db.$queryRaw<{ n: number }[]>`
        SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'pool-close-test'`;
      open = row!.n;
      if (open > 0) await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(open).toBe(0);
  });
});

describe("seed", () => {
  it("creates the demo user and sample project once, however often it runs", async () => {
    const first = await seed(database.db);
    expect(first.createdFiles).toEqual(SAMPLE_FILES.map((f) => f.path));
    // A user edit survives re-seeding.
    await database.db.codeSnippet.update({
      where: { projectId_path: { projectId: first.projectId, path: "README.md" } },
      data: { content: "edited", version: 2 },
    });

    const [second, third] = [await seed(database.db), await seed(database.db)];

    expect(second).toEqual({ userId: first.userId, projectId: first.projectId, createdFiles: [] });
    expect(third).toEqual(second);
    const user = await database.db.user.findUniqueOrThrow({ where: { email: DEMO_EMAIL } });
    expect(user.passwordHash).toBeNull();
    expect(await database.db.project.count({ where: { userId: user.id } })).toBe(1);
    const files = await database.db.codeSnippet.findMany({
      where: { projectId: first.projectId },
      include: { versions: true },
      orderBy: { path: "asc" },
    });
    expect(files.map((f) => [f.path, f.versions.length])).toEqual([
      ["README.md", 1],
      ["src/greet.js", 1],
      ["test/greet.test.js", 1],
    ]);
    expect(files[0]!.content).toBe("edited");
  });
});
