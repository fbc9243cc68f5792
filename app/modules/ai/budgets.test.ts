import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { Db, Prisma } from "#app/db/client.server.ts";
import {
  createAiCall,
  createProject,
  createRun,
  createUser,
  createWorkflow,
} from "#tests/factories/index.ts";
import { rejection } from "#tests/setup/assertions.ts";
import { setupTestDatabase } from "#tests/setup/database.ts";
import {
  applicableBudgets,
  budgetSpend,
  deleteBudget,
  listBudgets,
  listBudgetTargets,
  setBudget,
} from "./budgets.server.ts";

const database = setupTestDatabase();
/** Mid-March 2026, UTC: "this month" starts 2026-03-01T00:00Z. */
const NOW = new Date("2026-03-15T12:00:00.000Z");
const deps = () => ({ db: database.db, now: () => NOW, ip: "203.0.113.9", userAgent: "vitest" });

/** An API key row (only its hash would ever be stored; these tests never authenticate with it). */
function apiKey(db: Db, userId: string, overrides: Partial<Prisma.ApiKeyUncheckedCreateInput> = {}) {
  const random = randomBytes(8).toString("hex");
  return db.apiKey.create({
    data: {
      userId,
      name: "CI",
      prefix: `agt_${random.slice(0, 8)}`,
      keyHash: `hash-${random}`,
      scopes: ["usage:read"],
      ...overrides,
    },
  });
}

/** A user with a project, a run in it and an API key. */
async function scene() {
  const user = await createUser(database.db);
  const project = await createProject(database.db, { userId: user.id, name: "Shop" });
  const { workflow, version } = await createWorkflow(database.db, { userId: user.id, projectId: project.id });
  const run = await createRun(database.db, {
    userId: user.id,
    projectId: project.id,
    workflowId: workflow.id,
    workflowVersionId: version.id,
  });
  const key = await apiKey(database.db, user.id);
  return { user, project, run, key };
}

describe("setBudget", () => {
  it("creates a budget, then replaces its limit when set again for the same scope, target and period", async () => {
    const { user, project } = await scene();
    const first = await setBudget(
      { userId: user.id, scope: "project", projectId: project.id, limitUsd: 25 },
      deps(),
    );
    expect(first).toMatchObject({
      scope: "project",
      period: "monthly",
      projectId: project.id,
      apiKeyId: null,
      targetName: "Shop",
      limitMicros: 25_000_000,
      spentMicros: 0,
      remainingMicros: 25_000_000,
    });

    const second = await setBudget(
      { userId: user.id, scope: "project", projectId: project.id, limitUsd: 40.5 },
      deps(),
    );
    expect(second.id).toBe(first.id);
    expect(second.limitMicros).toBe(40_500_000);
    // A per-run budget on the same project is a different budget.
    const perRun = await setBudget(
      { userId: user.id, scope: "project", projectId: project.id, period: "per_run", limitUsd: 2 },
      deps(),
    );
    expect(perRun.id).not.toBe(first.id);
    expect(perRun).toMatchObject({ period: "per_run", spentMicros: null, remainingMicros: null });
    expect(await database.db.budget.count({ where: { userId: user.id } })).toBe(2);

    const events = await database.db.auditEvent.findMany({
      where: { userId: user.id, action: "budget.set" },
      orderBy: { createdAt: "asc" },
    });
    expect(events).toHaveLength(3);
    expect(events[0]).toMatchObject({
      targetType: "budget",
      targetId: first.id,
      ip: "203.0.113.9",
      userAgent: "vitest",
      actorType: "user",
    });
    expect(events[0]!.data).toMatchObject({ limitMicros: 25_000_000, previousLimitMicros: null });
    expect(events[1]!.data).toMatchObject({ limitMicros: 40_500_000, previousLimitMicros: 25_000_000 });
  });

  it("names the API key as the actor when a key set the budget", async () => {
    const { user, key } = await scene();
    const budget = await setBudget(
      { userId: user.id, scope: "api_key", apiKeyId: key.id, limitUsd: 5 },
      { ...deps(), actorApiKeyId: key.id },
    );
    expect(budget.targetName).toBe(`CI (${key.prefix}…)`);
    const event = await database.db.auditEvent.findFirstOrThrow({
      where: { userId: user.id, action: "budget.set" },
    });
    expect(event).toMatchObject({ actorType: "api_key", apiKeyId: key.id });
  });

  it("keeps one budget per target when the same budget is set concurrently", async () => {
    // Several rounds: without serialisation, concurrent find-then-create reliably makes duplicates here.
    for (let round = 0; round < 5; round++) {
      const { user } = await scene();
      const results = await Promise.all(
        [1, 2, 3, 4, 5].map((usd) => setBudget({ userId: user.id, scope: "user", limitUsd: usd }, deps())),
      );
      expect(new Set(results.map((r) => r.id)).size).toBe(1);
      expect(await database.db.budget.count({ where: { userId: user.id } })).toBe(1);
    }
  });

  it("stores the limit to the micro-dollar and accepts the bounds", async () => {
    const { user, project, key } = await scene();
    expect(
      (await setBudget({ userId: user.id, scope: "user", limitUsd: 0.000001 }, deps())).limitMicros,
    ).toBe(1);
    expect(
      (
        await setBudget(
          { userId: user.id, scope: "project", projectId: project.id, limitUsd: 1_000_000 },
          deps(),
        )
      ).limitMicros,
    ).toBe(1_000_000_000_000);
    expect(
      (await setBudget({ userId: user.id, scope: "api_key", apiKeyId: key.id, limitUsd: 0.1 + 0.2 }, deps()))
        .limitMicros,
    ).toBe(300_000);
  });

  it("refuses limits that are not more than $0 or above $1,000,000", async () => {
    const { user } = await scene();
    for (const limitUsd of [0, -5, 0.0000004, 1_000_000.01, Number.NaN, Number.POSITIVE_INFINITY]) {
      const error = await rejection(setBudget({ userId: user.id, scope: "user", limitUsd }, deps()));
      expect(error.code, `limit ${limitUsd}`).toBe("BAD_REQUEST");
    }
    const zero = await rejection(setBudget({ userId: user.id, scope: "user", limitUsd: 0 }, deps()));
    expect(zero.message).toBe("The amount must be more than $0");
    const huge = await rejection(setBudget({ userId: user.id, scope: "user", limitUsd: 2e6 }, deps()));
    expect(huge.message).toBe("The amount must be at most $1,000,000");
    expect(await database.db.budget.count({ where: { userId: user.id } })).toBe(0);
  });

  it("refuses a target that does not match the scope", async () => {
    const { user, project, key } = await scene();
    const cases = [
      [
        { scope: "user" as const, projectId: project.id },
        "A budget on all your usage takes no projectId or apiKeyId",
      ],
      [{ scope: "project" as const }, "Choose the project this budget caps"],
      [
        { scope: "project" as const, projectId: project.id, apiKeyId: key.id },
        "A project budget takes no apiKeyId",
      ],
      [{ scope: "api_key" as const }, "Choose the API key this budget caps"],
      [
        { scope: "api_key" as const, apiKeyId: key.id, projectId: project.id },
        "An API key budget takes no projectId",
      ],
    ] as const;
    for (const [input, message] of cases) {
      const error = await rejection(setBudget({ userId: user.id, limitUsd: 10, ...input }, deps()));
      expect(error).toMatchObject({ code: "BAD_REQUEST", message });
    }
    const badScope = await rejection(
      setBudget({ userId: user.id, limitUsd: 10, scope: "team" as unknown as "user" }, deps()),
    );
    expect(badScope.code).toBe("BAD_REQUEST");
  });

  it("answers NOT_FOUND for another user's project or key, exactly like a missing one", async () => {
    const { user } = await scene();
    const other = await scene();
    const theirs = await rejection(
      setBudget({ userId: user.id, scope: "project", projectId: other.project.id, limitUsd: 1 }, deps()),
    );
    const missing = await rejection(
      setBudget(
        { userId: user.id, scope: "project", projectId: "0190c8e5-0000-7000-8000-000000000000", limitUsd: 1 },
        deps(),
      ),
    );
    expect(theirs).toMatchObject({ code: "NOT_FOUND", message: "Project not found" });
    expect(missing).toMatchObject({ code: "NOT_FOUND", message: "Project not found" });
    const key = await rejection(
      setBudget({ userId: user.id, scope: "api_key", apiKeyId: other.key.id, limitUsd: 1 }, deps()),
    );
    expect(key).toMatchObject({ code: "NOT_FOUND", message: "API key not found" });
    expect(await database.db.budget.count({ where: { userId: { in: [user.id, other.user.id] } } })).toBe(0);
    expect(await database.db.auditEvent.count({ where: { userId: user.id, action: "budget.set" } })).toBe(0);
  });
});

describe("listBudgets", () => {
  it("reports this month's spend per scope, null for per-run budgets, and what remains", async () => {
    const { user, project, run, key } = await scene();
    const stranger = await scene();
    const otherProject = await createProject(database.db, { userId: user.id, name: "Blog" });
    const user_ = await setBudget({ userId: user.id, scope: "user", limitUsd: 0.01 }, deps());
    const project_ = await setBudget(
      { userId: user.id, scope: "project", projectId: project.id, limitUsd: 0.005 },
      deps(),
    );
    const key_ = await setBudget(
      { userId: user.id, scope: "api_key", apiKeyId: key.id, limitUsd: 1 },
      deps(),
    );
    const perRun = await setBudget(
      { userId: user.id, scope: "user", period: "per_run", limitUsd: 3 },
      deps(),
    );

    const db = database.db;
    // This month: 3,000 in the project (1,000 of it through the key, in a run), 2,000 elsewhere.
    await createAiCall(db, { userId: user.id, projectId: project.id, costMicros: 2_000n, createdAt: NOW });
    await createAiCall(db, {
      userId: user.id,
      projectId: project.id,
      runId: run.id,
      apiKeyId: key.id,
      costMicros: 1_000n,
      createdAt: new Date("2026-03-01T00:00:00.000Z"),
    });
    await createAiCall(db, {
      userId: user.id,
      projectId: otherProject.id,
      costMicros: 1_500n,
      createdAt: NOW,
    });
    await createAiCall(db, { userId: user.id, costMicros: 500n, createdAt: NOW });
    // Last month: not counted.
    await createAiCall(db, {
      userId: user.id,
      projectId: project.id,
      apiKeyId: key.id,
      costMicros: 1_000_000n,
      createdAt: new Date("2026-02-28T23:59:59.999Z"),
    });
    // Someone else's calls: never counted.
    await createAiCall(db, {
      userId: stranger.user.id,
      projectId: stranger.project.id,
      costMicros: 9_999n,
      createdAt: NOW,
    });

    const budgets = await listBudgets({ userId: user.id }, deps());
    expect(budgets.map((b) => b.id)).toEqual([user_.id, perRun.id, project_.id, key_.id]);
    const byId = new Map(budgets.map((b) => [b.id, b]));
    expect(byId.get(user_.id)).toMatchObject({
      targetName: "All usage",
      spentMicros: 5_000,
      remainingMicros: 5_000,
    });
    expect(byId.get(project_.id)).toMatchObject({ spentMicros: 3_000, remainingMicros: 2_000 });
    expect(byId.get(key_.id)).toMatchObject({ spentMicros: 1_000, remainingMicros: 999_000 });
    expect(byId.get(perRun.id)).toMatchObject({
      spentMicros: null,
      remainingMicros: null,
      limitMicros: 3_000_000,
    });

    // Overspent: remaining stops at 0.
    await createAiCall(db, { userId: user.id, projectId: project.id, costMicros: 10_000n, createdAt: NOW });
    const after = await listBudgets({ userId: user.id }, deps());
    expect(after.find((b) => b.id === project_.id)).toMatchObject({
      spentMicros: 13_000,
      remainingMicros: 0,
    });

    expect(await listBudgets({ userId: stranger.user.id }, deps())).toEqual([]);
  });
});

describe("listBudgetTargets", () => {
  it("lists the user's projects and active keys only", async () => {
    const { user, project, key } = await scene();
    await scene();
    await apiKey(database.db, user.id, { name: "Old", revokedAt: new Date("2026-01-01T00:00:00Z") });
    await apiKey(database.db, user.id, { name: "Expired", expiresAt: new Date("2026-03-01T00:00:00Z") });
    const targets = await listBudgetTargets({ userId: user.id }, deps());
    expect(targets.projects).toEqual([{ id: project.id, name: "Shop" }]);
    expect(targets.apiKeys).toEqual([{ id: key.id, name: "CI", prefix: key.prefix }]);
  });
});

describe("deleteBudget", () => {
  it("deletes the caller's budget with an audit event; another user's id is NOT_FOUND and survives", async () => {
    const { user } = await scene();
    const other = await scene();
    const mine = await setBudget({ userId: user.id, scope: "user", limitUsd: 10 }, deps());
    const theirs = await setBudget({ userId: other.user.id, scope: "user", limitUsd: 10 }, deps());

    expect(await rejection(deleteBudget({ userId: user.id, id: theirs.id }, deps()))).toMatchObject({
      code: "NOT_FOUND",
      message: "Budget not found",
    });
    expect(await database.db.budget.findUnique({ where: { id: theirs.id } })).not.toBeNull();
    expect((await rejection(deleteBudget({ userId: user.id, id: "not-a-uuid" }, deps()))).code).toBe(
      "NOT_FOUND",
    );

    expect(await deleteBudget({ userId: user.id, id: mine.id }, deps())).toEqual({ ok: true });
    expect(await database.db.budget.findUnique({ where: { id: mine.id } })).toBeNull();
    expect((await rejection(deleteBudget({ userId: user.id, id: mine.id }, deps()))).code).toBe("NOT_FOUND");
    const event = await database.db.auditEvent.findFirstOrThrow({
      where: { userId: user.id, action: "budget.deleted" },
    });
    expect(event).toMatchObject({ targetType: "budget", targetId: mine.id });
    expect(event.data).toMatchObject({ scope: "user", period: "monthly", limitMicros: 10_000_000 });
  });
});

describe("applicableBudgets", () => {
  it("returns the user's own budgets and those of the call's project and key, nothing else", async () => {
    const { user, project, key } = await scene();
    const other = await scene();
    const elsewhere = await createProject(database.db, { userId: user.id });
    const otherKey = await apiKey(database.db, user.id, { name: "Other" });
    const mine = await Promise.all([
      setBudget({ userId: user.id, scope: "user", limitUsd: 10 }, deps()),
      setBudget({ userId: user.id, scope: "user", period: "per_run", limitUsd: 1 }, deps()),
      setBudget({ userId: user.id, scope: "project", projectId: project.id, limitUsd: 5 }, deps()),
      setBudget({ userId: user.id, scope: "api_key", apiKeyId: key.id, limitUsd: 5 }, deps()),
    ]);
    await setBudget({ userId: user.id, scope: "project", projectId: elsewhere.id, limitUsd: 5 }, deps());
    await setBudget({ userId: user.id, scope: "api_key", apiKeyId: otherKey.id, limitUsd: 5 }, deps());
    await setBudget({ userId: other.user.id, scope: "user", limitUsd: 5 }, deps());

    const all = await applicableBudgets(database.db, {
      userId: user.id,
      projectId: project.id,
      apiKeyId: key.id,
    });
    expect(all.map((b) => b.id).sort()).toEqual(mine.map((b) => b.id).sort());
    expect(typeof all[0]!.limitMicros).toBe("bigint");

    const userOnly = await applicableBudgets(database.db, { userId: user.id });
    expect(userOnly.map((b) => b.scope)).toEqual(["user", "user"]);
    expect(await applicableBudgets(database.db, { userId: "nope" })).toEqual([]);
  });
});

describe("budgetSpend", () => {
  it("sums this month per scope and the whole run for per-run budgets, in one query", async () => {
    const { user, project, run, key } = await scene();
    const stranger = await scene();
    const db = database.db;
    await setBudget({ userId: user.id, scope: "project", projectId: project.id, limitUsd: 1 }, deps());
    await setBudget({ userId: user.id, scope: "api_key", apiKeyId: key.id, limitUsd: 1 }, deps());
    await setBudget(
      { userId: user.id, scope: "project", projectId: project.id, period: "per_run", limitUsd: 1 },
      deps(),
    );
    const budgets = await applicableBudgets(db, { userId: user.id, projectId: project.id, apiKeyId: key.id });
    const projectMonthly = budgets.find((b) => b.scope === "project" && b.period === "monthly")!;
    const keyMonthly = budgets.find((b) => b.scope === "api_key")!;
    const runBudget = budgets.find((b) => b.period === "per_run")!;

    // The run started last month: its older calls count for the per-run budget, not the monthly ones.
    await createAiCall(db, {
      userId: user.id,
      projectId: project.id,
      runId: run.id,
      costMicros: 700n,
      createdAt: new Date("2026-02-27T10:00:00Z"),
    });
    await createAiCall(db, {
      userId: user.id,
      projectId: project.id,
      runId: run.id,
      apiKeyId: key.id,
      costMicros: 300n,
      createdAt: NOW,
    });
    await createAiCall(db, { userId: user.id, projectId: project.id, costMicros: 50n, createdAt: NOW });
    await createAiCall(db, { userId: user.id, apiKeyId: key.id, costMicros: 5n, createdAt: NOW });
    // A row of another user naming this project (it cannot happen through the app): still not counted.
    await createAiCall(db, {
      userId: stranger.user.id,
      projectId: project.id,
      runId: run.id,
      costMicros: 100_000n,
      createdAt: NOW,
    });

    const queries: string[] = [];
    const counted = db.$extends({
      query: {
        $allOperations: async ({ operation, args, query }) => {
          queries.push(operation);
          return query(args);
        },
      },
    }) as unknown as Db;
    const spend = await budgetSpend(counted, { budgets, userId: user.id, runId: run.id, now: NOW });
    expect(queries).toEqual(["$queryRaw"]);
    expect(spend.get(projectMonthly.id)).toBe(350);
    expect(spend.get(keyMonthly.id)).toBe(305);
    expect(spend.get(runBudget.id)).toBe(1_000);

    // With a user-wide budget too, the same answers (its rows cover the others').
    const userBudget = await setBudget({ userId: user.id, scope: "user", limitUsd: 1 }, deps());
    const withUser = await budgetSpend(db, {
      budgets: await applicableBudgets(db, { userId: user.id, projectId: project.id, apiKeyId: key.id }),
      userId: user.id,
      runId: run.id,
      now: NOW,
    });
    expect(withUser.get(userBudget.id)).toBe(355);
    expect(withUser.get(projectMonthly.id)).toBe(350);
    expect(withUser.get(keyMonthly.id)).toBe(305);
    expect(withUser.get(runBudget.id)).toBe(1_000);

    // No run given: per-run budgets have spent nothing yet, and no query runs for them alone.
    queries.length = 0;
    const noRun = await budgetSpend(counted, { budgets: [runBudget], userId: user.id, now: NOW });
    expect(noRun.get(runBudget.id)).toBe(0);
    expect(queries).toEqual([]);

    // Next month starts from zero.
    const april = await budgetSpend(db, {
      budgets,
      userId: user.id,
      runId: run.id,
      now: new Date("2026-04-01T00:00:00Z"),
    });
    expect(april.get(projectMonthly.id)).toBe(0);
    expect(april.get(runBudget.id)).toBe(1_000);
  });
});
